"""Requests at the edges of what the API accepts: clear JSON errors, never a 500."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import httpx
from tests.foundation.test_sandbox_contract import fresh_token
from tests.support.messages import make_message
from tests.support.stack import Running

HUGE = "99999999999999999999"
CRLF_FILENAME = (
    b"From: a@b.example\r\nSubject: evil name\r\n"
    b"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
    b"Content-Type: text/plain\r\n\r\nhi\r\n--z\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b'Content-Disposition: attachment; filename="=?utf-8?q?evil=0D=0AX-Injected=3A_1.txt?="\r\n'
    b"\r\nxx\r\n--z--\r\n"
)


async def new_inbox(c: httpx.AsyncClient, name: str) -> int:
    project = (await c.post("/api/v1/projects", json={"name": name})).json()
    r = await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": name})
    return int(r.json()["id"])


async def test_numbers_beyond_the_database_range_are_clear_errors(any_db: Running) -> None:
    async with any_db.client() as c:
        inbox = await new_inbox(c, "huge")
        for path in (
            f"/api/v1/messages/{HUGE}",
            f"/api/v1/messages/{2**40}/report",
            f"/api/v1/inboxes/{HUGE}",
            f"/api/v1/inboxes/{inbox}/messages?page={10**18}",
        ):
            r = await c.get(path)
            assert r.status_code in (404, 422), (path, r.text)
            assert r.json()["error"] in ("out_of_range", "not_found", "invalid_request"), path
        r = await c.post("/api/v1/tokens", json={"name": "t", "project_id": int(HUGE)})
        assert r.status_code in (404, 422) and "error" in r.json(), r.text


async def test_sandbox_ids_and_indexes_that_are_not_ours_are_its_own_404s(
    running: Running,
) -> None:
    token = await fresh_token(running)
    await asyncio.to_thread(running.smtp_send, make_message("sandbox"), login=("any", token))
    async with running.client(token=token) as c:
        mid = (await c.get("/pro/api/sandbox/messages")).json()["messages"][0]["id"]
        for bad in (HUGE, str(2**31), "-1", "1e3", "²"):
            r = await c.get(f"/pro/api/sandbox/messages/{bad}")
            assert r.status_code == 404 and r.json()["error"] == "email_not_found", bad
        r = await c.get(f"/pro/api/sandbox/messages?page={10**18}")
        assert r.status_code == 422 and r.json()["error"] == "invalid_request"
        for index in ("²", "٣", HUGE, "0x1"):
            r = await c.get(f"/pro/api/sandbox/messages/{mid}/attachments/{index}")
            assert r.status_code == 404 and r.json()["error"] == "attachment_not_found", index


async def test_control_characters_in_a_filename_stay_out_of_the_headers(
    running: Running,
) -> None:
    async with running.client() as c:
        inbox = await new_inbox(c, "crlf")
        r = await c.post(f"/api/v1/inboxes/{inbox}/messages", content=CRLF_FILENAME)
        mid = r.json()["id"]
        download = await c.get(f"/api/v1/messages/{mid}/attachments/0")
        assert download.status_code == 200 and download.content == b"xx"
        assert "x-injected" not in download.headers
        disposition = download.headers["content-disposition"]
        assert "\r" not in disposition and "\n" not in disposition
        assert "evilX-Injected" in disposition


async def test_validation_errors_use_the_error_body(running: Running) -> None:
    async with running.client() as c:
        inbox = await new_inbox(c, "patch")
        for body in ({"name": None}, {"quota_bytes": None}, {"name": ""}):
            r = await c.patch(f"/api/v1/inboxes/{inbox}", json=body)
            assert r.status_code == 422, body
            err = r.json()
            assert err["error"] == "invalid_request" and err["message"], err
            assert err["errors"] and all(isinstance(e, str) for e in err["errors"])
        # null clears a retention limit
        r = await c.patch(f"/api/v1/inboxes/{inbox}", json={"max_messages": 5})
        assert r.json()["max_messages"] == 5
        r = await c.patch(f"/api/v1/inboxes/{inbox}", json={"max_messages": None})
        assert r.status_code == 200 and r.json()["max_messages"] is None
        r = await c.get(f"/api/v1/inboxes/{inbox}/messages?since=yesterday")
        assert r.status_code == 422 and r.json()["message"].startswith("query.since")


async def test_date_filters_honour_time_zone_offsets(any_db: Running) -> None:
    async with any_db.client() as c:
        inbox = await new_inbox(c, "tz")
        await c.post(f"/api/v1/inboxes/{inbox}/messages", content=make_message("tz"))
        now = datetime.now(UTC)
        plus5 = timezone(timedelta(hours=5))
        minus5 = timezone(timedelta(hours=-5))

        async def count(**params: str) -> int:
            r = await c.get(f"/api/v1/inboxes/{inbox}/messages", params=params)
            assert r.status_code == 200, r.text
            return int(r.json()["total"])

        hour_ago_east = (now - timedelta(hours=1)).astimezone(plus5).isoformat()
        hour_ahead_west = (now + timedelta(hours=1)).astimezone(minus5).isoformat()
        assert await count(since=hour_ago_east) == 1
        assert await count(until=hour_ago_east) == 0
        assert await count(since=hour_ahead_west) == 0
        assert await count(until=hour_ahead_west) == 1
