"""The production database path: the same flows on a real PostgreSQL."""

from __future__ import annotations

import asyncio

from tests.support.messages import make_message, on_wire
from tests.support.stack import Running


async def test_capture_list_report_delete_on_postgres(running_pg: Running) -> None:
    async with running_pg.client() as c:
        assert (await c.get("/readyz")).json() == {"status": "ready"}
        project = (await c.post("/api/v1/projects", json={"name": "pg"})).json()
        inbox = (
            await c.post(
                f"/api/v1/projects/{project['id']}/inboxes",
                json={"name": "pg", "max_messages": 3},
            )
        ).json()
        creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])
        for i in range(4):
            raw = make_message(f"PG {i}")
            await asyncio.to_thread(running_pg.smtp_send, raw, login=creds)
        listing = (await c.get(f"/api/v1/inboxes/{inbox['id']}/messages")).json()
        assert [m["subject"] for m in listing["messages"]] == ["PG 3", "PG 2", "PG 1"]
        newest = listing["messages"][0]
        raw_newest = (await c.get(f"/api/v1/messages/{newest['id']}/raw")).content
        assert b"Subject: PG 3\r\n" in raw_newest
        latest = await c.get(
            f"/api/v1/inboxes/{inbox['id']}/messages/latest",
            params={"wait": 60, "analyzed": "true", "subject": "PG 3"},
        )
        assert latest.status_code == 200
        report = (await c.get(f"/api/v1/messages/{newest['id']}/report")).json()
        assert report["checks"]["headers"]["status"] == "passed"
        used = (await c.get(f"/api/v1/inboxes/{inbox['id']}")).json()["used_bytes"]
        assert used == sum(m["size"] for m in listing["messages"])
        assert (await c.delete(f"/api/v1/inboxes/{inbox['id']}/messages")).json()["count"] == 3
        assert (await c.get(f"/api/v1/inboxes/{inbox['id']}")).json()["used_bytes"] == 0


async def test_sandbox_and_exact_bytes_on_postgres(running_pg: Running) -> None:
    raw = make_message("Exact bytes") + b"\r\n.leading dot line\r\n\xc3\xa9 8-bit\r\n"
    await asyncio.to_thread(running_pg.smtp_send, raw, login=("any", running_pg.token))
    async with running_pg.client() as c:
        [m] = (await c.get("/pro/api/sandbox/messages")).json()["messages"]
        src = await c.get(f"/pro/api/sandbox/messages/{m['id']}/source")
        assert src.content == on_wire(raw)
        assert (await c.delete("/pro/api/sandbox/messages")).json() == {"deleted": 1}
