"""Webhooks end to end on a running server: subscriptions through the API, a real receiver on
loopback that is down for a while, signatures checked by an independent implementation
(the ``standardwebhooks`` package), secret rotation, the delivery log and redelivery."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from standardwebhooks import Webhook, WebhookVerificationError
from tests.support.stack import Running, base_settings, start_stack
from tests.webhooks.receiver import Receiver


def mail(subject: str) -> bytes:
    return (
        f"From: App <app@app.example>\r\nTo: user@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@app.example>\r\n\r\nHello.\r\n"
    ).encode()


async def until(what: Callable[[], Awaitable[bool]], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not await what():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


@pytest_asyncio.fixture(scope="module")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """One server for this module's tests; each test uses inboxes of its own."""
    settings = base_settings(
        tmp_path_factory.mktemp("webhooks"),
        webhook_allow=["127.0.0.1"],
        webhook_backoff_seconds=0.05,
        webhook_backoff_max_seconds=0.3,
        webhook_poll_seconds=0.2,
        webhook_timeout=5.0,
        public_url="https://mailqa.example.test",
    )
    async with start_stack(settings) as stack:
        yield stack


async def new_inbox(c: httpx.AsyncClient) -> dict[str, Any]:
    project = (await c.post("/api/v1/projects", json={"name": "hooks"})).json()
    r = await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "in"})
    assert r.status_code == 201, r.text
    inbox: dict[str, Any] = r.json()
    return inbox


async def upload(c: httpx.AsyncClient, inbox_id: int, raw: bytes) -> int:
    r = await c.post(
        f"/api/v1/inboxes/{inbox_id}/messages",
        content=raw,
        headers={"content-type": "message/rfc822"},
    )
    assert r.status_code == 201, r.text
    message_id: int = r.json()["id"]
    return message_id


async def subscribe(
    c: httpx.AsyncClient, url: str, events: list[str], inbox_id: int
) -> dict[str, Any]:
    """A subscription of ``inbox_id`` to ``events``, delivered to ``url``."""
    r = await c.post("/api/v1/webhooks", json={"url": url, "events": events, "inbox_id": inbox_id})
    assert r.status_code == 201, r.text
    hook: dict[str, Any] = r.json()
    return hook


async def events(c: httpx.AsyncClient, webhook_id: int) -> list[dict[str, Any]]:
    r = await c.get(f"/api/v1/webhooks/{webhook_id}/events", params={"limit": 200})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


async def test_receiver_down_for_a_while_gets_every_event_in_order(running: Running) -> None:
    receiver = Receiver()  # down: nothing listens on its port yet
    async with running.client() as c:
        inbox = await new_inbox(c)
        r = await c.post(
            "/api/v1/webhooks",
            json={
                "url": receiver.url,
                "events": ["message.received", "report.completed"],
                "project_id": inbox["project_id"],
            },
        )
        assert r.status_code == 201, r.text
        hook = r.json()
        assert hook["secret"].startswith("whsec_")
        assert "secret" not in (await c.get(f"/api/v1/webhooks/{hook['id']}")).json()

        ids = [await upload(c, inbox["id"], mail(f"m{i}")) for i in range(6)]

        async def all_failed_once() -> bool:
            found = await events(c, hook["id"])
            return len(found) == 12 and found[-1]["attempts"] >= 2

        await until(all_failed_once)
        head = (await events(c, hook["id"]))[-1]
        assert head["status"] == "pending" and head["log"][0]["status_code"] is None
        assert "connect" in head["log"][0]["error"]

        receiver.start()
        try:

            async def all_delivered() -> bool:
                return {e["status"] for e in await events(c, hook["id"])} == {"delivered"}

            await until(all_delivered)
            logged = await events(c, hook["id"])
        finally:
            receiver.stop()

        metrics = (await c.get("/metrics")).text
    assert 'mailqa_webhook_attempts_total{outcome="retry"}' in metrics
    delivered = re.search(r'mailqa_webhook_attempts_total\{outcome="delivered"\} (\S+)', metrics)
    assert delivered is not None and float(delivered.group(1)) >= 12

    # Every event arrived, each once it was back (no retry needed after a 200).
    expected = {e["webhook_id_header"] for e in logged}
    assert sorted(receiver.answered_ids()) == sorted(expected)
    assert len(receiver.answered) == 12
    # In order: as written, so per message received before its report.
    arrived = [r.json for r in receiver.answered]
    by_message: dict[int, list[str]] = {}
    for doc in arrived:
        by_message.setdefault(doc["data"]["message_id"], []).append(doc["type"])
    assert by_message == {mid: ["message.received", "report.completed"] for mid in ids}
    assert [d["data"]["message_id"] for d in arrived if d["type"] == "message.received"] == ids

    # Signed as the spec says: the independent implementation accepts them...
    verifier = Webhook(hook["secret"])
    for got in receiver.answered:
        assert verifier.verify(got.body, got.headers)["data"]["event_id"] == got.id
    # ... and refuses a tampered body or another secret.
    got = receiver.answered[0]
    with pytest.raises(WebhookVerificationError):
        verifier.verify(got.body.replace(b"m0", b"mX"), got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB").verify(got.body, got.headers)

    # (Reports of different messages may complete in any order: take m0's.)
    report = next(
        d["data"]
        for d in arrived
        if d["type"] == "report.completed" and d["data"]["message_id"] == ids[0]
    )
    assert report["verdict"]["status"] in {"passed", "warning", "failed"}
    assert report["summary"]["subject"] == "m0"
    assert report["links"]["report"] == (
        f"https://mailqa.example.test/api/v1/messages/{ids[0]}/report"
    )
    assert report["project_id"] == inbox["project_id"] and report["inbox_id"] == inbox["id"]


async def test_rotation_signs_with_both_secrets_and_redelivery_keeps_the_id(
    running: Running,
) -> None:
    receiver = Receiver()
    receiver.start()
    try:
        async with running.client() as c:
            inbox = await new_inbox(c)
            hook = await subscribe(c, receiver.url, ["message.received"], inbox["id"])
            r = await c.post(f"/api/v1/webhooks/{hook['id']}/rotate_secret")
            assert r.status_code == 200, r.text
            rotated = r.json()
            assert rotated["secret"] != hook["secret"]
            assert rotated["previous_secret_expires_at"] is not None
            await upload(c, inbox["id"], mail("rotated"))

            async def arrived() -> bool:
                return len(receiver.answered) == 1

            await until(arrived)
            got = receiver.answered[0]
            assert len(got.headers["webhook-signature"].split(" ")) == 2
            for secret in (hook["secret"], rotated["secret"]):
                assert Webhook(secret).verify(got.body, got.headers)["type"] == "message.received"

            event = (await events(c, hook["id"]))[0]
            r = await c.post(f"/api/v1/webhooks/{hook['id']}/events/{event['id']}/redeliver")
            assert r.status_code == 200, r.text

            async def twice() -> bool:
                return len(receiver.answered) == 2

            await until(twice)
            assert receiver.answered_ids() == [got.id, got.id]
            assert len((await events(c, hook["id"]))[0]["log"]) == 2

            # Disabled by hand: nothing is sent; enabled again: what waited goes out.
            r = await c.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": False})
            assert r.json()["enabled"] is False
            await upload(c, inbox["id"], mail("while-off"))
            assert len(receiver.received) == 2
            r = await c.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": True})
            assert r.json()["enabled"] is True
            assert len(await events(c, hook["id"])) == 1  # written only while enabled

            r = await c.delete(f"/api/v1/webhooks/{hook['id']}")
            assert r.status_code == 204
            assert (await c.get(f"/api/v1/webhooks/{hook['id']}")).status_code == 404
    finally:
        receiver.stop()


async def test_subscriptions_are_validated_and_scoped(running: Running) -> None:
    async with running.client() as c:
        inbox = await new_inbox(c)
        other = await new_inbox(c)
        bad = [
            {"url": "ftp://example.com/", "events": ["message.received"], "inbox_id": inbox["id"]},
            {"url": "http://10.1.2.3/", "events": ["message.received"], "inbox_id": inbox["id"]},
            {"url": "http://[::1]:1/", "events": ["message.received"], "inbox_id": inbox["id"]},
            {"url": "https://example.com/", "events": ["message.received"]},
            {
                "url": "https://example.com/",
                "events": ["message.received"],
                "inbox_id": inbox["id"],
                "project_id": inbox["project_id"],
            },
        ]
        for body in bad:
            r = await c.post("/api/v1/webhooks", json=body)
            assert r.status_code == 400, (body, r.text)
        r = await c.post(
            "/api/v1/webhooks", json={"url": "http://x.test/", "events": ["nope"], "inbox_id": 1}
        )
        assert r.status_code == 422
        r = await c.post(
            "/api/v1/webhooks",
            json={"url": "https://hooks.example.com/", "events": ["audit.completed"],
                  "project_id": other["project_id"]},
        )  # fmt: skip
        assert r.status_code == 201
        theirs = r.json()["id"]
        r = await c.post("/api/v1/tokens", json={"name": "p", "project_id": inbox["project_id"]})
        project_token = r.json()["token"]
    async with running.client(token=project_token) as c:
        assert (await c.get(f"/api/v1/webhooks/{theirs}")).status_code == 404
        assert theirs not in [h["id"] for h in (await c.get("/api/v1/webhooks")).json()]
        r = await c.post(
            "/api/v1/webhooks",
            json={"url": "https://hooks.example.com/", "events": ["message.received"],
                  "project_id": other["project_id"]},
        )  # fmt: skip
        assert r.status_code == 404
        r = await c.post(
            "/api/v1/webhooks",
            json={"url": "https://hooks.example.com/", "events": ["message.received"],
                  "inbox_id": inbox["id"]},
        )  # fmt: skip
        assert r.status_code == 201
        assert [h["id"] for h in (await c.get("/api/v1/webhooks")).json()] == [r.json()["id"]]
        mine = r.json()["id"]
        for method, path in [
            ("GET", "/api/v1/webhooks/99999999999999999999999"),
            ("GET", f"/api/v1/webhooks/{mine}/events?before=99999999999999999999999"),
            ("PATCH", f"/api/v1/webhooks/{mine}"),
        ]:
            r = await c.request(method, path, json={"url": "x" * 5000})
            assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
    async with running.client() as c:
        # An inbox's subscriptions go with it.
        assert (await c.delete(f"/api/v1/inboxes/{inbox['id']}")).status_code == 204
        assert (await c.get(f"/api/v1/webhooks/{mine}")).status_code == 404


async def test_a_slow_receiver_never_delays_capture(running: Running) -> None:
    receiver = Receiver()
    receiver.start()
    receiver.hold.set()  # every delivery hangs until released
    try:
        async with running.client() as c:
            inbox = await new_inbox(c)
            hook = await subscribe(c, receiver.url, ["message.received"], inbox["id"])
            login = (inbox["smtp"]["username"], inbox["smtp"]["password"])
            await asyncio.to_thread(running.smtp_send, mail("first"), login=login)

            async def held() -> bool:
                return len(receiver.received) == 1

            await until(held)
            # The receiver holds the first delivery: captures go on, each with its 250.
            for i in range(5):
                refused = await asyncio.to_thread(running.smtp_send, mail(f"more{i}"), login=login)
                assert refused == {}
            assert len(receiver.received) == 1 and receiver.answered == []
            assert len(await events(c, hook["id"])) == 6
            receiver.hold.clear()

            async def delivered() -> bool:
                return len(receiver.answered) == 6

            await until(delivered)
    finally:
        receiver.stop()


async def test_a_finished_audit_is_announced(running: Running) -> None:
    receiver = Receiver()
    receiver.start()
    try:
        async with running.client() as c:
            inbox = await new_inbox(c)
            await upload(c, inbox["id"], mail("audited"))
            await subscribe(c, receiver.url, ["audit.completed"], inbox["id"])
            r = await c.post(
                "/api/v1/audits", json={"inbox_id": inbox["id"], "checks": ["headers"]}
            )
            assert r.status_code in (200, 201, 202), r.text
            audit_id = r.json()["id"]

            async def announced() -> bool:
                return len(receiver.answered) == 1

            await until(announced)
            audit = (await c.get(f"/api/v1/audits/{audit_id}")).json()
    finally:
        receiver.stop()
    event = receiver.answered[0].json
    assert event["type"] == "audit.completed"
    data = event["data"]
    assert data["audit_id"] == audit_id and data["verdict"] == {"status": "done"}
    assert data["summary"]["total"] == audit["total"] == 1
    assert data["links"]["audit"].endswith(f"/api/v1/audits/{audit_id}")
