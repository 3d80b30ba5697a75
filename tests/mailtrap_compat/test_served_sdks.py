"""Both official SDKs against a real ``mailqa serve --tls-self-signed``, configured only as
docs/mailtrap-compat.md says: what start-up prints is all they are given."""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.serve_process import (
    INBOX_LINE,
    PYTHON_CA_LINE,
    SMTP_LOGIN_LINE,
    TOKEN_LINE,
    ServeProcess,
    serving,
)

from mailqa.net.spamd.process import find_spamd

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "mailtrap-compat.md"
NODE_FLOW = Path(__file__).with_name("node_sdk_flow.mjs")
SPAMD = find_spamd() is not None


def checks() -> str:
    if not SPAMD and os.environ.get("CI"):
        raise RuntimeError("spamd is not installed: scripts/setup.sh --dev installs it")
    return "headers,html,spam" if SPAMD else "headers,html"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    data_dir = tmp_path_factory.mktemp("served-sdks") / "data"
    env = {"MAILQA_CHECKS": checks(), "MAILQA_OFFLINE": "true"}
    with serving(data_dir, "--tls-self-signed", env=env, https=True) as server:
        yield server


def api(served: ServeProcess) -> httpx.Client:
    return httpx.Client(
        base_url=served.base_url,
        headers={"Authorization": f"Bearer {served.token}"},
        verify=ssl.create_default_context(cafile=str(served.ca_file)),
        timeout=30,
    )


def test_first_start_prints_the_ca_the_token_and_the_default_inbox(
    served: ServeProcess, tmp_path: Path
) -> None:
    ca = served.ca_file
    assert ca.is_absolute() and ca.parent.name == "tls" and ca.is_file()
    assert served.printed(PYTHON_CA_LINE) == str(ca)
    assert stat.S_IMODE((ca.parent / "server-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((ca.parent / "ca-key.pem").stat().st_mode) == 0o600
    assert "HTTPS: made a local CA" in served.output
    login = SMTP_LOGIN_LINE.search(served.output)
    assert login, served.output
    with api(served) as client:
        inbox = client.get(f"/api/v1/inboxes/{served.inbox_id}").json()
    assert inbox["name"] == "Default"
    assert (inbox["smtp"]["username"], inbox["smtp"]["password"]) == login.groups()


def node_sdk() -> Path:
    node = shutil.which("node")
    installed = (ROOT / "node_modules" / "mailtrap" / "package.json").is_file()
    if node is None or not installed:
        if os.environ.get("CI"):
            raise RuntimeError("node or the npm mailtrap SDK is missing: scripts/setup.sh --dev")
        pytest.skip("node and the npm mailtrap SDK (npm ci) are needed")
    return Path(node)


def test_the_docs_show_the_node_configuration_the_test_runs() -> None:
    script = NODE_FLOW.read_text()
    snippet = script.split("// docs:start\n", 1)[1].split("// docs:end", 1)[0]
    assert snippet in DOC.read_text()


def test_node_sdk_sandbox_send_batch_and_testing_api(served: ServeProcess) -> None:
    env = {
        **os.environ,
        "NODE_EXTRA_CA_CERTS": str(served.ca_file),
        "MAILQA_URL": served.base_url,
        "MAILQA_TOKEN": served.token,
        "MAILQA_INBOX_ID": str(served.inbox_id),
    }
    run = subprocess.run(
        [str(node_sdk()), str(NODE_FLOW)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    out: dict[str, Any] = json.loads(run.stdout)
    errors = {k: v for k, v in out.items() if isinstance(v, dict) and "error" in v}
    assert set(errors) == {"project_gone", "deleted_message", "wrong_token"}, errors
    assert errors["project_gone"]["status"] == 404
    assert errors["deleted_message"]["status"] == 404
    assert errors["wrong_token"]["status"] == 401
    assert "Unauthorized" in errors["wrong_token"]["error"]

    tag, message_id, inbox_id = out["tag"], out["message_id"], served.inbox_id
    assert out["send"] == {"success": True, "message_ids": [str(message_id)]}
    first, second, third = out["batch"]["responses"]
    assert first["success"] and second["success"] and not third["success"]
    assert any("not-an-address" in e for e in third["errors"])

    listed = {m["subject"] for m in out["list"]}
    assert listed == {f"Node order {tag}", f"Node batch {tag}", f"Node batch {tag} override"}
    shown = out["show"]
    assert (shown["id"], shown["inbox_id"]) == (message_id, inbox_id)
    assert (shown["from_name"], shown["to_email"]) == ("Zoë's Shop", "ana@example.com")
    assert out["mark_read"]["is_read"] is True
    assert out["text"].strip() == f"Thanks for order {tag}."
    assert 'src="cid:logo"' in out["html_source"]
    assert f"Subject: Node order {tag}" in out["eml"]
    headers = out["headers"]["headers"]
    assert (headers["x-order"], headers["x-mt-category"]) == (tag, "orders")
    by_name = {a["filename"]: a for a in out["attachments"]}
    assert set(by_name) == {"logo.png", "invoice.csv"}
    assert by_name["logo.png"]["attachment_type"] == "inline"
    assert by_name["logo.png"]["content_id"] == "logo"
    assert out["attachment"]["id"] == out["attachments"][0]["id"]

    with api(served) as client:
        report = client.get(f"/api/v1/messages/{message_id}/report").json()
        download = client.get(by_name["logo.png"]["download_path"])
        assert download.status_code == 200 and len(download.content) == 70
    html_rules = {
        f["title"] for f in report["checks"]["html"]["findings"] if f["severity"] != "info"
    }
    analysis = out["html_analysis"]["report"]
    assert analysis["status"] == "success"
    assert {e["rule_name"] for e in analysis["errors"]} == html_rules
    assert any("Outlook" in c for e in analysis["errors"] for c in e["email_clients"]["desktop"])
    spam = out["spam_report"]["report"]
    if SPAMD:
        details = report["checks"]["spam"]["details"]
        assert (spam["ResponseCode"], spam["ResponseMessage"]) == (0, "EX_OK")
        assert spam["Score"] == pytest.approx(details["score"])
        assert {d["RuleName"] for d in spam["Details"]} == {r["name"] for r in details["rules"]}
    else:
        assert spam["ResponseCode"] == 69

    project = out["project_create"]
    assert project["name"] == f"Node {tag}" and project["inboxes"] == []
    assert project["id"] in [p["id"] for p in out["projects"]]
    assert out["project_rename"]["name"] == f"Node {tag} renamed"
    created = out["inbox_create"]
    assert created["project_id"] == project["id"] and created["email_username_enabled"] is False
    assert out["inbox_show"]["id"] == created["id"]
    assert out["inbox_rename"]["name"] == "Node inbox 2"
    assert out["inbox_email_on"]["email_username_enabled"] is True
    assert out["inbox_email_on"]["email_username"] == created["email_username"]
    assert out["inbox_email_reset"]["email_username"] != created["email_username"]
    assert out["inbox_credentials"]["password"] != created["password"]
    assert out["inbox_clean"]["emails_count"] == 0
    assert created["id"] in [i["id"] for i in out["inboxes"]]
    assert out["inbox_delete"]["id"] == created["id"]
    assert out["project_delete"] == {"id": project["id"]}
    assert out["delete_message"]["id"] == out["batch_message_id"]


def doc_python_example() -> str:
    text = DOC.read_text()
    block = re.search(
        r"<!-- python-sdk-example:start -->\n```python\n(.*?)```\n<!-- python-sdk-example:end",
        text,
        re.S,
    )
    assert block, "docs/mailtrap-compat.md lost its Python SDK example"
    return block.group(1)


def test_python_sdk_example_of_the_docs(served: ServeProcess, tmp_path: Path) -> None:
    """The example as written; only the URL, the CA path, TOKEN and INBOX_ID are this run's."""
    code = doc_python_example()
    assert '"https://127.0.0.1:8025"' in code and '"data/tls/ca.pem"' in code
    code = code.replace('"https://127.0.0.1:8025"', repr(served.base_url))
    code = code.replace('"data/tls/ca.pem"', repr(str(served.ca_file)))
    prelude = f"TOKEN = {served.token!r}\nINBOX_ID = {served.inbox_id}\n"
    script = tmp_path / "example.py"
    script.write_text(prelude + code)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    subject, status, score = run.stdout.splitlines()
    assert (subject, status) == ("Welcome!", "success")
    float(score)


def test_a_later_start_reuses_the_ca_and_names_the_default_inbox_again(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"MAILQA_CHECKS": "headers", "MAILQA_OFFLINE": "true", "MAILQA_SPAMD_MANAGED": "off"}
    with serving(data_dir, "--tls-self-signed", env=env, https=True) as first:
        ca = first.ca_file.read_bytes()
        inbox_id = first.inbox_id
    with serving(data_dir, "--tls-self-signed", env=env, https=True) as second:
        assert "HTTPS: reusing the local CA's certificate" in second.output
        assert second.ca_file.read_bytes() == ca
        assert second.inbox_id == inbox_id
        assert second.printed(TOKEN_LINE) is None
        assert SMTP_LOGIN_LINE.search(second.output) is None
    # Files of one's own: --tls-cert/--tls-key (here the local CA's, copied elsewhere).
    own = tmp_path / "own"
    own.mkdir()
    for name in ("server.pem", "server-key.pem", "ca.pem"):
        shutil.copy(data_dir / "tls" / name, own / name)
    args = ["--tls-cert", str(own / "server.pem"), "--tls-key", str(own / "server-key.pem")]
    with serving(data_dir, *args, env=env, https=True, ca_file=own / "ca.pem") as third:
        assert third.printed(INBOX_LINE) == str(inbox_id)
        assert "Local CA" not in third.output
        answer = httpx.get(
            f"https://127.0.0.1:{third.http_port}/healthz",
            verify=ssl.create_default_context(cafile=str(own / "ca.pem")),
        )
        assert answer.status_code == 200


@pytest.mark.parametrize(
    "args",
    [
        ["--tls-key", "server-key.pem"],
        ["--tls-self-signed", "--tls-cert", "a.pem", "--tls-key", "b.pem"],
    ],
)
def test_tls_options_that_cannot_work_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "mailqa.cli.main", "serve", "--data-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MAILQA_SPAMD_MANAGED": "off"},
    )
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "TLS" in run.stderr or "tls" in run.stderr
