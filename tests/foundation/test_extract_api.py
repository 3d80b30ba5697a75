"""GET /api/v1/messages/{id}/extract and latest?wait=...&extract=true over real HTTP, with
mail sent by a real SMTP client; ``mailqa extract FILE`` as a whole process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from tests.extract import mails
from tests.support.stack import Running


async def make_inbox(c: httpx.AsyncClient, name: str) -> dict[str, Any]:
    project = (await c.post("/api/v1/projects", json={"name": name})).json()
    r = await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": name})
    inbox: dict[str, Any] = r.json()
    return inbox


async def upload(c: httpx.AsyncClient, inbox_id: int, raw: bytes) -> int:
    r = await c.post(
        f"/api/v1/inboxes/{inbox_id}/messages",
        content=raw,
        headers={"Content-Type": "message/rfc822"},
    )
    assert r.status_code in (200, 201), r.text
    message_id: int = r.json()["id"]
    return message_id


async def test_a_test_suite_waits_for_its_reset_mail_and_reads_the_link(running: Running) -> None:
    async with running.client() as c:
        inbox = await make_inbox(c, "extract-wait")
        waiter = asyncio.create_task(
            c.get(
                f"/api/v1/inboxes/{inbox['id']}/messages/latest",
                params={"wait": 60, "subject": "Reset your", "extract": "true"},
            )
        )
        smtp = inbox["smtp"]
        await asyncio.to_thread(
            running.smtp_send, mails.RESET, login=(smtp["username"], smtp["password"])
        )
        answer = await waiter
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["subject"] == "Reset your Fernway password"
        assert body["extract"]["first"] == {
            "password_reset": "https://id.fernway.example/password/reset/u7Hq2LmX9vRt4KpW8zYb3NcD"
        }
        plain = await c.get(f"/api/v1/inboxes/{inbox['id']}/messages/latest", params={"wait": 0})
        assert plain.status_code == 200 and plain.json()["extract"] is None


async def test_extract_answers_codes_and_links_with_their_places(running: Running) -> None:
    async with running.client() as c:
        inbox = await make_inbox(c, "extract-get")
        subject, text, code = mails.TWO_FA["de"]
        two_fa = await upload(c, inbox["id"], mails.build(subject, text, None))
        order = await upload(c, inbox["id"], mails.ORDER)

        r = await c.get(f"/api/v1/messages/{two_fa}/extract")
        assert r.status_code == 200
        found = r.json()
        assert found["message_id"] == two_fa and found["code"] == code == "731904"
        first = found["codes"][0]
        assert (first["part"], first["line"], first["column"], first["raw"]) == (
            "text",
            1,
            len("Ihr Bestätigungscode lautet: ") + 1,
            "731 904",
        )

        found = (await c.get(f"/api/v1/messages/{order}/extract")).json()
        assert found["code"] is None and found["codes"] == []
        assert set(found["first"]) == {"unsubscribe"}
        assert {link["kind"] for link in found["links"]} == {"unsubscribe", "other"}

        missing = await c.get("/api/v1/messages/999999/extract")
        assert missing.status_code == 404
        anonymous = await httpx.AsyncClient(base_url=running.base_url).get(
            f"/api/v1/messages/{order}/extract"
        )
        assert anonymous.status_code == 401

        spec = (await c.get("/openapi.json")).json()
        operation = spec["paths"]["/api/v1/messages/{message_id}/extract"]["get"]
        assert operation["summary"] == "One-time codes and classified links of a message"
        assert {"200", "404", "410"} <= set(operation["responses"])
        latest = spec["paths"]["/api/v1/inboxes/{inbox_id}/messages/latest"]["get"]
        assert "extract" in {p["name"] for p in latest["parameters"]}


def test_the_cli_prints_json_as_a_whole_process(tmp_path: Path) -> None:
    (tmp_path / "signup.eml").write_bytes(mails.SIGNUP)
    (tmp_path / "welcome.html").write_text(mails.TWO_FA_HTML, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILQA_")}

    def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "mailqa.cli.main", "extract", *args],
            cwd=tmp_path,
            env=env,
            input=stdin,
            capture_output=True,
            timeout=120,
        )

    done = run("signup.eml")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["file"] == "signup.eml" and doc["template"] is False
    assert doc["first"]["verify"].startswith("https://fernway.example/account/verify?token=")

    done = run("welcome.html", "--indent", "0")
    doc = json.loads(done.stdout)
    assert done.stdout.count(b"\n") == 1 and doc["template"] is True
    assert doc["code"] == "390517" and doc["codes"][0]["line"] == 3  # the template's own line

    subject, text, code = mails.TWO_FA["pt"]
    done = run("-", stdin=mails.build(subject, text, None))
    assert json.loads(done.stdout)["code"] == code

    missing = run("nope.eml")
    assert missing.returncode == 2 and b"cannot read nope.eml" in missing.stderr
