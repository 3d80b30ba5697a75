"""SMTP capture against the real server with the real smtplib client."""

from __future__ import annotations

import asyncio
import smtplib
from typing import Any

import pytest
from tests.support.messages import make_message, on_wire
from tests.support.stack import Running


async def new_inbox(running: Running, **body: object) -> dict[str, Any]:
    async with running.client() as c:
        project = (await c.post("/api/v1/projects", json={"name": "smtp"})).json()
        r = await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "in", **body})
        assert r.status_code == 201, r.text
        inbox: dict[str, Any] = r.json()
        return inbox


async def messages_of(running: Running, inbox_id: int) -> list[dict[str, Any]]:
    async with running.client() as c:
        r = await c.get(f"/api/v1/inboxes/{inbox_id}/messages", params={"per_page": 200})
        assert r.status_code == 200
        messages: list[dict[str, Any]] = r.json()["messages"]
        return messages


async def test_inbox_credentials_deliver_to_that_inbox_with_exact_bytes(running: Running) -> None:
    inbox = await new_inbox(running)
    raw = make_message("Inbox creds")
    creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])
    refused = await asyncio.to_thread(
        running.smtp_send, raw, login=creds, rcpt=["a@example.com", "b@example.com"]
    )
    assert refused == {}
    [msg] = await messages_of(running, inbox["id"])
    assert msg["subject"] == "Inbox creds"
    assert msg["envelope"]["rcpt_to"] == ["a@example.com", "b@example.com"]
    assert msg["envelope"]["mail_from"] == "sender@app.example"
    assert msg["envelope"]["client_ip"] == "127.0.0.1"
    assert msg["envelope"]["helo"] == "client.test"
    assert msg["envelope"]["smtp_tls"] is False
    async with running.client() as c:
        stored = (await c.get(f"/api/v1/messages/{msg['id']}/raw")).content
    assert stored == on_wire(raw)


async def test_auth_login_mechanism_and_wrong_password(running: Running) -> None:
    inbox = await new_inbox(running)

    def login_with(mech: str, password: str) -> None:
        with smtplib.SMTP("127.0.0.1", running.smtp_port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.user, smtp.password = inbox["smtp"]["username"], password
            code, _ = smtp.auth(
                mech, getattr(smtp, f"auth_{mech.lower()}"), initial_response_ok=False
            )
            assert code == 235

    await asyncio.to_thread(login_with, "LOGIN", inbox["smtp"]["password"])
    with pytest.raises(smtplib.SMTPAuthenticationError) as err:
        await asyncio.to_thread(login_with, "PLAIN", "wrong")
    assert err.value.smtp_code == 535


async def test_api_token_as_password_delivers_to_the_sandbox(running: Running) -> None:
    raw = make_message("Sandbox delivery")
    await asyncio.to_thread(running.smtp_send, raw, login=("any", running.token))
    async with running.client() as c:
        status = (await c.get("/pro/api/sandbox")).json()
        listing = (await c.get("/pro/api/sandbox/messages")).json()
    assert status["enabled"] is True
    assert status["smtp_port"] == running.smtp_port
    assert any(m["subject"] == "Sandbox delivery" for m in listing["messages"])


async def test_unauthenticated_mail_goes_to_the_default_inbox(running: Running) -> None:
    await asyncio.to_thread(running.smtp_send, make_message("No auth"))
    async with running.client() as c:
        inboxes = (await c.get("/api/v1/inboxes")).json()
    [default] = [i for i in inboxes if i["name"] == "Default"]
    subjects = [m["subject"] for m in await messages_of(running, default["id"])]
    assert "No auth" in subjects


async def test_starttls_then_auth(running: Running) -> None:
    inbox = await new_inbox(running)
    creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])
    await asyncio.to_thread(running.smtp_send, make_message("Over TLS"), login=creds, starttls=True)
    [msg] = await messages_of(running, inbox["id"])
    assert msg["subject"] == "Over TLS" and msg["envelope"]["smtp_tls"] is True


async def test_the_report_says_whether_the_smtp_session_used_tls(running: Running) -> None:
    """The bulk-sender requirement "sent over TLS", from the session that delivered it; mail
    uploaded over HTTP did not come over SMTP: unknown."""
    inbox = await new_inbox(running)
    creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])
    for subject, starttls in (("tls", True), ("plain", False)):
        raw = make_message(subject)
        await asyncio.to_thread(running.smtp_send, raw, login=creds, starttls=starttls)
    async with running.client() as c:
        await c.post(
            f"/api/v1/inboxes/{inbox['id']}/messages",
            content=make_message("uploaded"),
            headers={"Content-Type": "message/rfc822"},
        )
        seen: dict[str, str] = {}
        for m in await messages_of(running, inbox["id"]):
            answer = await c.get(f"/api/v1/messages/{m['id']}/report")
            for _ in range(300):  # poll until its analysis is stored
                if answer.status_code == 200:
                    break
                await asyncio.sleep(0.1)
                answer = await c.get(f"/api/v1/messages/{m['id']}/report")
            assert answer.status_code == 200, answer.text
            items = {i["id"]: i for i in answer.json()["compliance"]["items"]}
            seen[m["subject"]] = items["smtp-tls"]["status"]
    assert seen == {"tls": "pass", "plain": "fail", "uploaded": "unknown"}


async def test_oversized_message_is_refused_with_552(running: Running) -> None:
    big = make_message("Big", body=("x" * 70 + "\r\n") * 6000)
    with pytest.raises(smtplib.SMTPException) as err:
        await asyncio.to_thread(running.smtp_send, big)
    assert "552" in str(err.value)


async def test_too_many_recipients_get_452(running: Running) -> None:
    rcpts = [f"u{i}@example.com" for i in range(7)]

    def send() -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", running.smtp_port, timeout=10) as smtp:
            return smtp.sendmail("a@app.example", rcpts, make_message("Many"))

    refused = await asyncio.to_thread(send)
    assert set(refused) == set(rcpts[5:])
    assert all(code == 452 for code, _ in refused.values())


async def test_quota_refuses_then_delete_reclaims(running: Running) -> None:
    raw = make_message("Quota", body=("y" * 70 + "\r\n") * 40)
    inbox = await new_inbox(running, quota_bytes=len(on_wire(raw)) + 100)
    creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])
    await asyncio.to_thread(running.smtp_send, raw, login=creds)
    with pytest.raises(smtplib.SMTPDataError) as err:
        await asyncio.to_thread(running.smtp_send, raw, login=creds)
    assert err.value.smtp_code == 552
    [msg] = await messages_of(running, inbox["id"])
    async with running.client() as c:
        assert (await c.delete(f"/api/v1/messages/{msg['id']}")).status_code == 204
        assert (await c.get(f"/api/v1/inboxes/{inbox['id']}")).json()["used_bytes"] == 0
    await asyncio.to_thread(running.smtp_send, raw, login=creds)
    assert len(await messages_of(running, inbox["id"])) == 1


async def test_retention_keeps_the_newest(running: Running) -> None:
    inbox = await new_inbox(running, max_messages=2)
    creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])
    for i in range(3):
        await asyncio.to_thread(running.smtp_send, make_message(f"R{i}"), login=creds)
    assert [m["subject"] for m in await messages_of(running, inbox["id"])] == ["R2", "R1"]


async def test_captured_mail_is_analysed(running: Running) -> None:
    inbox = await new_inbox(running)
    creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])
    await asyncio.to_thread(running.smtp_send, make_message("Analyse me"), login=creds)
    async with running.client() as c:
        r = await c.get(
            f"/api/v1/inboxes/{inbox['id']}/messages/latest",
            params={"wait": 60, "analyzed": "true"},
        )
        assert r.status_code == 200
        report = (await c.get(f"/api/v1/messages/{r.json()['id']}/report")).json()
    assert report["checks"]["headers"]["status"] in ("passed", "warning")
    assert report["message"]["subject"] == "Analyse me"


async def test_long_lines_are_captured_as_sent_and_reported(running: Running) -> None:
    inbox = await new_inbox(running)
    creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])
    raw = make_message("minified", body="<p>" + "z" * 5000 + "</p>")
    assert await asyncio.to_thread(running.smtp_send, raw, login=creds) == {}
    async with running.client() as c:
        r = await c.get(
            f"/api/v1/inboxes/{inbox['id']}/messages/latest",
            params={"wait": 60, "analyzed": "true"},
        )
        mid = r.json()["id"]
        assert (await c.get(f"/api/v1/messages/{mid}/raw")).content == on_wire(raw)
        headers = (await c.get(f"/api/v1/messages/{mid}/report/headers")).json()
    assert "headers.line-too-long" in {f["rule"] for f in headers["findings"]}


async def test_an_inbox_email_address_takes_mail_without_a_login(running: Running) -> None:
    """Mailtrap's inbox e-mail address: on after toggle_email_username, off after a second
    toggle, and a reset username no longer reaches the inbox at the old one."""
    inbox = await new_inbox(running)
    base = f"/api/accounts/1/inboxes/{inbox['id']}"
    async with running.client() as c:
        shown = (await c.get(base)).json()
        assert shown["email_username_enabled"] is False
        old_name = shown["email_username"]
        assert old_name and old_name != shown["username"]
        toggled = (await c.patch(f"{base}/toggle_email_username")).json()
        assert toggled["email_username_enabled"] is True
        assert toggled["email_username"] == old_name

    def send(to: str, subject: str) -> None:
        refused = running.smtp_send(make_message(subject), rcpt=["someone@example.com", to])
        assert refused == {}

    await asyncio.to_thread(send, f"{old_name.upper()}@any.example", "addressed")
    assert [m["subject"] for m in await messages_of(running, inbox["id"])] == ["addressed"]

    async with running.client() as c:
        reset = (await c.patch(f"{base}/reset_email_username")).json()
        assert reset["email_username"] != old_name and reset["email_username_enabled"] is True
        renamed = await c.patch(base, json={"inbox": {"email_username": "Signup-Flow"}})
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["email_username"] == "signup-flow"
        other = await new_inbox(running)
        taken = await c.patch(
            f"/api/accounts/1/inboxes/{other['id']}",
            json={"inbox": {"email_username": "signup-flow"}},
        )
        assert taken.status_code == 422 and taken.json()["code"] == "email_username_taken"
        bad = await c.patch(base, json={"inbox": {"email_username": "no spaces"}})
        assert bad.status_code == 422
    await asyncio.to_thread(send, f"{old_name}@any.example", "to the old address")
    await asyncio.to_thread(send, "signup-flow@mailqa.test", "renamed")
    subjects = [m["subject"] for m in await messages_of(running, inbox["id"])]
    assert sorted(subjects) == ["addressed", "renamed"]

    async with running.client() as c:
        off = (await c.patch(f"{base}/toggle_email_username")).json()
        assert off["email_username_enabled"] is False
    await asyncio.to_thread(send, "signup-flow@mailqa.test", "while off")
    assert len(await messages_of(running, inbox["id"])) == 2  # went to the default inbox


DATA_ON_THE_WIRE = [
    # (what the client sends after 354, what is stored)
    (b"Subject: a\r\n.\r\n", b"Subject: a\r\n"),
    (b"Subject: a\r\n\r\n..\r\n...x\r\n.\r\n", b"Subject: a\r\n\r\n.\r\n..x\r\n"),
    (
        b"..first line\r\nSubject: b\r\n\r\nbody\r\n.\r\n",
        b".first line\r\nSubject: b\r\n\r\nbody\r\n",
    ),
    (b"\r\nafter an empty line\r\n.\r\n", b"\r\nafter an empty line\r\n"),
    (
        b"Subject: c\r\n\r\nend.\r\nx.y\r\n .\r\n.x\r\n.\r\n",
        b"Subject: c\r\n\r\nend.\r\nx.y\r\n .\r\nx\r\n",
    ),
    (b"Subject: d\r\n\r\nbare\nlf\n.\nstill\r\n.\r\n", b"Subject: d\r\n\r\nbare\nlf\n.\nstill\r\n"),
    # What smtplib sends for an empty message: one empty line, then the terminator.
    (b"\r\n.\r\n", b"\r\n"),
    (b"\r\r\n.\r\n", b"\r\r\n"),
    (b"\r\rx\r\n.\r\n", b"\r\rx\r\n"),
    (b".x\r\n\r\n.\r\n", b"x\r\n\r\n"),
]


@pytest.mark.parametrize(("wire", "stored"), DATA_ON_THE_WIRE)
async def test_data_is_unstuffed_and_ends_at_the_lone_dot(
    running: Running, wire: bytes, stored: bytes
) -> None:
    """The bytes after ``354`` as a client sends them, dot-stuffed; the next command on the
    same session still works (nothing past the terminator was taken as the message)."""
    inbox = await new_inbox(running)
    creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])

    def session() -> tuple[int, int]:
        with smtplib.SMTP("127.0.0.1", running.smtp_port, timeout=30) as smtp:
            smtp.ehlo("client.test")
            smtp.login(*creds)
            smtp.mail("a@app.example")
            smtp.rcpt("b@example.com")
            assert smtp.docmd("DATA")[0] == 354
            smtp.send(wire + b"NOOP\r\n")  # pipelined after the terminator
            code, _ = smtp.getreply()
            return code, smtp.getreply()[0]

    assert await asyncio.to_thread(session) == (250, 250)
    [msg] = await messages_of(running, inbox["id"])
    async with running.client() as c:
        assert (await c.get(f"/api/v1/messages/{msg['id']}/raw")).content == stored


async def test_an_empty_message_is_captured_empty(running: Running) -> None:
    inbox = await new_inbox(running)
    creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])

    def session() -> int:
        with smtplib.SMTP("127.0.0.1", running.smtp_port, timeout=30) as smtp:
            smtp.ehlo("client.test")
            smtp.login(*creds)
            smtp.mail("a@app.example")
            smtp.rcpt("b@example.com")
            assert smtp.docmd("DATA")[0] == 354
            smtp.send(b".\r\n")
            return smtp.getreply()[0]

    assert await asyncio.to_thread(session) == 250
    [msg] = await messages_of(running, inbox["id"])
    assert msg["size"] == 0
