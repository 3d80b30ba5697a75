"""The sandbox contract (seed 002) exactly as written: paths, fields, codes, bodies."""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage

from tests.support.messages import make_message, on_wire
from tests.support.stack import Running

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def fresh_token(running: Running) -> str:
    async with running.client() as admin:
        r = await admin.post("/api/v1/tokens", json={"name": "sandbox user"})
        return str(r.json()["token"])


def html_mail(subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "YourApp <noreply@yourapp.com>"
    msg["To"] = "user@example.com"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    msg.set_content("Thanks for signing up!\n\nClick the link below...")
    msg.add_alternative(
        "<h1>Welcome!</h1><p>Thanks for signing up! verify your email</p>", subtype="html"
    )
    msg.add_attachment(b"report,1\n", maintype="text", subtype="csv", filename="data.csv")
    return msg.as_bytes()


async def test_before_first_mail_status_says_disabled_and_lists_are_404(running: Running) -> None:
    token = await fresh_token(running)
    async with running.client(token=token) as c:
        status = (await c.get("/pro/api/sandbox")).json()
        assert status["enabled"] is False
        assert status["username"] == "any" and status["auth_method"] == "PLAIN"
        r = await c.get("/pro/api/sandbox/messages")
        assert r.status_code == 404 and r.json()["error"] == "sandbox_not_found"


async def test_contract_flow(running: Running) -> None:
    token = await fresh_token(running)
    sent = html_mail("Welcome to YourApp")
    await asyncio.to_thread(
        running.smtp_send, sent, login=("any", token), mail_from="noreply@yourapp.com"
    )
    async with running.client(token=token) as c:
        status = (await c.get("/pro/api/sandbox")).json()
        assert set(status) == {
            "enabled",
            "account_id",
            "address",
            "smtp_host",
            "smtp_port",
            "auth_method",
            "username",
            "note",
            "quota",
            "used",
        }
        assert status["enabled"] is True
        assert status["smtp_host"] == "127.0.0.1" and status["smtp_port"] == running.smtp_port
        assert status["note"] == "Use any API token as the SMTP password"
        assert status["quota"] == 104857600 and status["used"] == len(on_wire(sent))

        listing = (await c.get("/pro/api/sandbox/messages")).json()
        assert listing["page"] == 1
        [m] = listing["messages"]
        assert set(m) == {"id", "sender", "from", "subject", "preview_text", "size", "created_at"}
        assert m["sender"] == "noreply@yourapp.com"
        assert m["from"] == "YourApp <noreply@yourapp.com>"
        assert m["preview_text"].startswith("Thanks for signing up!")
        assert ISO_Z.match(m["created_at"])

        d = (await c.get(f"/pro/api/sandbox/messages/{m['id']}")).json()
        assert d["address"] == "user@example.com"
        assert "verify your email" in d["html_body"]
        assert d["text_body"].startswith("Thanks for signing up!")
        assert d["attachments"] == [
            {"index": 0, "filename": "data.csv", "size": 9, "content_type": "text/csv"}
        ]

        src = await c.get(f"/pro/api/sandbox/messages/{m['id']}/source")
        assert src.headers["content-type"] == "message/rfc822"
        assert src.headers["content-disposition"] == 'attachment; filename="message.eml"'
        assert src.content == on_wire(sent)

        att = await c.get(f"/pro/api/sandbox/messages/{m['id']}/attachments/0")
        assert att.content == b"report,1\n" and att.headers["content-type"].startswith("text/csv")
        assert 'filename="data.csv"' in att.headers["content-disposition"]
        bad = await c.get(f"/pro/api/sandbox/messages/{m['id']}/attachments/3")
        assert bad.status_code == 404 and bad.json()["error"] == "attachment_not_found"

        nf = await c.get("/pro/api/sandbox/messages/999999")
        assert nf.status_code == 404 and nf.json()["error"] == "email_not_found"
        nf = await c.get("/pro/api/sandbox/messages/not-an-id")
        assert nf.status_code == 404 and nf.json()["error"] == "email_not_found"

        assert (await c.delete(f"/pro/api/sandbox/messages/{m['id']}")).json() == {"deleted": True}
        assert (await c.get("/pro/api/sandbox")).json()["used"] == 0


async def test_pages_of_thirty_newest_first_and_purge(running: Running) -> None:
    token = await fresh_token(running)
    await asyncio.to_thread(running.smtp_send, make_message("first"), login=("any", token))
    async with running.client(token=token) as c:
        async with running.client() as admin:
            inbox_id = (await admin.get("/api/v1/inboxes")).json()[-1]["id"]
            for i in range(31):
                await admin.post(
                    f"/api/v1/inboxes/{inbox_id}/messages", content=make_message(f"m{i:02d}")
                )
        p1 = (await c.get("/pro/api/sandbox/messages")).json()["messages"]
        p2 = (await c.get("/pro/api/sandbox/messages", params={"page": 2})).json()
        assert len(p1) == 30 and p1[0]["subject"] == "m30"
        assert p2["page"] == 2 and [m["subject"] for m in p2["messages"]] == ["m00", "first"]
        assert (await c.delete("/pro/api/sandbox/messages")).json() == {"deleted": 32}
        assert (await c.get("/pro/api/sandbox")).json()["used"] == 0


async def test_other_tokens_cannot_read_a_sandbox(running: Running) -> None:
    owner = await fresh_token(running)
    await asyncio.to_thread(running.smtp_send, make_message("private"), login=("any", owner))
    async with running.client(token=owner) as c:
        mid = (await c.get("/pro/api/sandbox/messages")).json()["messages"][0]["id"]
    intruder = await fresh_token(running)
    await asyncio.to_thread(running.smtp_send, make_message("mine"), login=("any", intruder))
    async with running.client(token=intruder) as c:
        r = await c.get(f"/pro/api/sandbox/messages/{mid}")
        assert r.status_code == 404 and r.json()["error"] == "email_not_found"
        assert (await c.get(f"/api/v1/messages/{mid}")).status_code == 404
    async with running.client(token="mq_wrong") as c:
        r = await c.get("/pro/api/sandbox")
        assert r.status_code == 401 and r.json()["error"] == "invalid_or_expired_token"


async def test_concurrent_first_deliveries_create_one_sandbox(running: Running) -> None:
    token = await fresh_token(running)
    await asyncio.gather(
        *(
            asyncio.to_thread(running.smtp_send, make_message(f"race {i}"), login=("any", token))
            for i in range(6)
        )
    )
    async with running.client(token=token) as c:
        listing = (await c.get("/pro/api/sandbox/messages")).json()["messages"]
        assert len(listing) == 6
        assert (await c.get("/pro/api/sandbox")).json()["used"] == sum(m["size"] for m in listing)
