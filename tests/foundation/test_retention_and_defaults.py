"""Retention sweeps, the default inbox of unauthenticated mail, and what a 250 promises."""

from __future__ import annotations

import asyncio
import smtplib
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.foundation.test_smtp_capture import messages_of, new_inbox
from tests.support.messages import make_message
from tests.support.stack import Running, base_settings, start_stack

from mailqa.store.sandboxes import DEFAULT_NAME


async def test_age_retention_applies_to_inboxes_that_receive_nothing(running: Running) -> None:
    inbox = await new_inbox(running, max_age_days=0.5 / 86400)  # half a second
    creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])
    await asyncio.to_thread(running.smtp_send, make_message("old news"), login=creds)
    assert len(await messages_of(running, inbox["id"])) == 1
    await asyncio.sleep(0.6)
    assert await running.service.apply_retention() >= 1
    assert await messages_of(running, inbox["id"]) == []
    async with running.client() as c:
        assert (await c.get(f"/api/v1/inboxes/{inbox['id']}")).json()["used_bytes"] == 0


async def test_the_server_sweeps_on_its_own(tmp_path: Path) -> None:
    settings = base_settings(
        tmp_path, retention_max_age_days=0.3 / 86400, retention_sweep_seconds=0.2
    )
    async with start_stack(settings) as stack:
        await asyncio.to_thread(stack.smtp_send, make_message("swept"))
        inbox = await stack.service.store.default_inbox(settings.inbox_quota_bytes)
        deadline = time.monotonic() + 10
        while (await stack.service.store.list_messages(inbox.id, offset=0, limit=10))[1]:
            assert time.monotonic() < deadline, "the sweep never pruned the old message"
            await asyncio.sleep(0.1)


async def test_unauthenticated_mail_goes_to_the_default_inbox_not_the_oldest(
    running: Running,
) -> None:
    other = await new_inbox(running)  # any inbox of any project, maybe the oldest
    await asyncio.to_thread(running.smtp_send, make_message("anonymous"))
    store = running.service.store
    default = await store.default_inbox(running.service.settings.inbox_quota_bytes)
    assert default.name == DEFAULT_NAME and default.id != other["id"]
    subjects = [m["subject"] for m in await messages_of(running, default.id)]
    assert "anonymous" in subjects
    assert "anonymous" not in [m["subject"] for m in await messages_of(running, other["id"])]
    chosen = await store.default_inbox(1, inbox_id=other["id"])
    assert chosen.id == other["id"]


async def test_configured_default_inbox_and_refusing_anonymous_mail(tmp_path: Path) -> None:
    async with start_stack(base_settings(tmp_path / "a", smtp_accept_any=False)) as stack:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            await asyncio.to_thread(stack.smtp_send, make_message("no auth"))
        assert refused.value.smtp_code == 530
    async with start_stack(base_settings(tmp_path / "b")) as stack:
        inbox = await new_inbox(stack)
        stack.service.settings.smtp_default_inbox = inbox["id"]
        await asyncio.to_thread(stack.smtp_send, make_message("routed"))
        assert [m["subject"] for m in await messages_of(stack, inbox["id"])] == ["routed"]


async def test_a_stored_message_is_acknowledged_even_when_queueing_fails(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broker_down(*_: object) -> None:
        raise ConnectionError("broker unreachable")

    inbox = await new_inbox(running)
    creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])
    monkeypatch.setattr(running.service.executor, "submit", broker_down)
    refused = await asyncio.to_thread(running.smtp_send, make_message("kept"), login=creds)
    assert refused == {}  # 250: a retry would store a duplicate
    monkeypatch.undo()
    [msg] = await messages_of(running, inbox["id"])
    assert msg["subject"] == "kept" and msg["analysis_status"] == "pending"
    assert await running.service.resume_pending() >= 1  # what the next start does


async def test_expired_sources_answer_410_and_give_their_bytes_back(any_db: Running) -> None:
    """Source retention drops the raw bytes only: the message, its report and its attachment
    list stay, what needs the bytes answers 410 (``email_expired`` on the sandbox)."""
    from tests.foundation.test_sandbox_contract import fresh_token, html_mail

    store = any_db.service.store
    token = await fresh_token(any_db)
    login = ("any", token)
    await asyncio.to_thread(any_db.smtp_send, html_mail("old one"), login=login)
    cutoff = datetime.now(UTC)
    await asyncio.to_thread(any_db.smtp_send, html_mail("new one"), login=login)
    async with any_db.client(token=token) as c:
        listed = (await c.get("/pro/api/sandbox/messages")).json()["messages"]
        new, old = (m["id"] for m in listed)
        inbox_id = (await store.get_message(int(old))).inbox_id
        sizes = {m["id"]: m["size"] for m in listed}
        assert (await c.get("/pro/api/sandbox")).json()["used"] == sum(sizes.values())
        for m in (new, old):  # the analysis parses the body: then the source may go
            while not (await store.get_message(int(m))).body_parsed:  # noqa: ASYNC110 (another process writes it)
                await asyncio.sleep(0.05)

        assert await store.expire_sources(inbox_id, cutoff) == 1
        assert await store.expire_sources(inbox_id, cutoff) == 0  # once only
        assert (await c.get("/pro/api/sandbox")).json()["used"] == sizes[new]
        for path in ("", "/source", "/attachments/0"):
            r = await c.get(f"/pro/api/sandbox/messages/{old}{path}")
            assert r.status_code == 410 and r.json()["error"] == "email_expired", (path, r.text)
            assert (await c.get(f"/pro/api/sandbox/messages/{new}{path}")).status_code == 200
        still_listed = (await c.get("/pro/api/sandbox/messages")).json()["messages"]
        assert [m["id"] for m in still_listed] == [new, old]

    async with any_db.client() as admin:
        detail = (await admin.get(f"/api/v1/messages/{old}")).json()
        assert detail["subject"] == "old one" and detail["source_expired_at"]
        assert detail["html_body"] is None and detail["headers"] == []
        assert [a["filename"] for a in detail["attachments"]] == ["data.csv"]
        assert (await admin.get(f"/api/v1/messages/{new}")).json()["source_expired_at"] is None
        raw = await admin.get(f"/api/v1/messages/{old}/raw")
        assert raw.status_code == 410 and raw.json()["error"] == "source_expired"
        again = await admin.post(f"/api/v1/messages/{old}/analyze")
        assert again.status_code == 410 and again.json()["error"] == "source_expired"
        preview = await admin.get(f"/ui/messages/{old}/preview")
        assert preview.status_code == 410 and "cleaned up" in preview.text

    async with any_db.client(token=token) as c:
        # Deleting the expired message does not give its bytes back a second time.
        assert (await c.delete(f"/pro/api/sandbox/messages/{old}")).json() == {"deleted": True}
        assert (await c.get("/pro/api/sandbox")).json()["used"] == sizes[new]
        assert (await c.delete(f"/pro/api/sandbox/messages/{new}")).status_code == 200
        assert (await c.get("/pro/api/sandbox")).json()["used"] == 0


async def test_the_sweep_applies_source_retention(tmp_path: Path) -> None:
    settings = base_settings(tmp_path, retention_source_days=0.3 / 86400)
    async with start_stack(settings) as stack:
        await asyncio.to_thread(stack.smtp_send, make_message("kept, without its source"))
        inbox = await stack.service.store.default_inbox(settings.inbox_quota_bytes)
        [message] = await messages_of(stack, inbox.id)
        await asyncio.sleep(0.4)
        await stack.service.apply_retention()
        async with stack.client() as c:
            assert (await c.get(f"/api/v1/messages/{message['id']}/raw")).status_code == 410
            detail = (await c.get(f"/api/v1/messages/{message['id']}")).json()
            assert detail["source_expired_at"] and detail["subject"] == "kept, without its source"
            assert (await c.get(f"/api/v1/inboxes/{inbox.id}")).json()["used_bytes"] == 0


async def test_the_mailtrap_api_still_lists_and_deletes_messages_without_source(
    running: Running,
) -> None:
    inbox = await new_inbox(running)
    async with running.client() as c:
        url = f"/api/accounts/1/inboxes/{inbox['id']}/messages"
        native = f"/api/v1/inboxes/{inbox['id']}/messages"
        old = (await c.post(native, content=make_message("old"))).json()["id"]
        # A source is kept until the analysis has parsed the body: wait for it.
        analysed = await c.get(
            f"{native}/latest", params={"wait": 60, "analyzed": 1, "subject": "old"}
        )
        assert analysed.json()["id"] == old, analysed.text
        cutoff = datetime.now(UTC)
        await c.post(native, content=make_message("new"))
        before = (await c.get(url)).json()[1]
        assert before["text_body_size"] > 0
        assert await running.service.store.expire_sources(inbox["id"], cutoff) == 1
        listed = await c.get(url)
        assert listed.status_code == 200, listed.text
        assert [m["subject"] for m in listed.json()] == ["new", "old"]
        # The body sizes were kept at capture: they outlive the source.
        assert listed.json()[1]["text_body_size"] == before["text_body_size"]
        assert (await c.get(f"{url}/{old}")).json()["subject"] == "old"
        for body in ("body.raw", "body.eml", "body.html", "body.txt"):
            gone = await c.get(f"{url}/{old}/{body}")
            assert gone.status_code == 410 and gone.json()["code"] == "source_expired", body
        assert (await c.get(f"{url}/{old}/spam_report")).status_code == 200  # reports stay
        assert (await c.delete(f"{url}/{old}")).status_code == 200
        assert [m["subject"] for m in (await c.get(url)).json()] == ["new"]
