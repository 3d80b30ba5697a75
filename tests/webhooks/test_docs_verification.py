"""The verification code docs/webhooks.md gives for Python and Node accepts mailqa's
signatures (also during a rotation) and refuses a tampered body."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from mailqa.webhooks.signing import new_secret, webhook_headers

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def snippet(language: str) -> str:
    found = re.search(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)
    assert found, f"no {language} block in {DOC}"
    return found.group(1)


def signed(secrets: list[str]) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"type": "message.received", "data": {"message_id": 7}}).encode()
    return webhook_headers(secrets, "msg_doc_test", int(time.time()), body), body


def test_python_snippet_verifies() -> None:
    scope: dict[str, Any] = {}
    exec(snippet("python"), scope)
    verify = scope["verify"]
    old, new = new_secret(), new_secret()
    headers, body = signed([new, old])
    assert verify(new, headers, body) and verify(old, headers, body)
    assert not verify(new_secret(), headers, body)
    assert not verify(new, headers, body + b" ")


def test_node_snippet_verifies(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    old, new = new_secret(), new_secret()
    headers, body = signed([new, old])
    (tmp_path / "body.json").write_bytes(body)
    script = snippet("js") + (
        "\nconst fs = require('node:fs');\n"
        f"const headers = {json.dumps(headers)};\n"
        "const body = fs.readFileSync(process.argv[2]);\n"
        "console.log(JSON.stringify(["
        f"verify({json.dumps(new)}, headers, body), verify({json.dumps(old)}, headers, body),"
        f"verify({json.dumps(new_secret())}, headers, body),"
        f"verify({json.dumps(new)}, headers, Buffer.concat([body, Buffer.from(' ')]))]));\n"
    )
    (tmp_path / "verify.js").write_text(script)
    out = subprocess.run(
        [node, str(tmp_path / "verify.js"), str(tmp_path / "body.json")],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(out.stdout) == [True, True, False, False]
