"""Webhooks on the Celery path: the worker's report save writes the ``report.completed``
event in its transaction; the server's delivery loop finds it and delivers it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.scaleout.conftest import CeleryStack, Worker, probe_message, wait_for
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow


async def test_report_completed_by_a_worker_is_delivered(
    celery_stack: CeleryStack, worker: Worker
) -> None:
    receiver = Receiver()
    receiver.start()
    try:
        async with celery_stack.client() as c:
            # The default inbox exists once mail came in.
            await asyncio.to_thread(celery_stack.smtp_send, probe_message("Warm-up", "hook0"))

            async def inboxes() -> list[dict[str, Any]]:
                found: list[dict[str, Any]] = (await c.get("/api/v1/inboxes")).json()
                return found

            [inbox, *_] = await wait_for(inboxes, within=30)
            r = await c.post(
                "/api/v1/webhooks",
                json={
                    "url": receiver.url,
                    "events": ["message.received", "report.completed"],
                    "inbox_id": inbox["id"],
                },
            )
            assert r.status_code == 201, r.text
            hook = r.json()["id"]
            await asyncio.to_thread(celery_stack.smtp_send, probe_message("Hooked", "hook1"))

            async def both() -> list[dict[str, Any]] | None:
                got = [x.json for x in receiver.answered]
                hooked = [d for d in got if d["data"]["summary"]["subject"] == "Hooked"]
                return hooked if len(hooked) >= 2 else None

            arrived = await wait_for(both, within=60)
            await c.delete(f"/api/v1/webhooks/{hook}")
    finally:
        receiver.stop()
    assert [d["type"] for d in arrived] == ["message.received", "report.completed"]
    report = arrived[1]["data"]
    assert report["message_id"] == arrived[0]["data"]["message_id"]
    assert report["summary"]["subject"] == "Hooked"
    assert set(report["checks"]) == {"headers", "slow", "flaky"}
