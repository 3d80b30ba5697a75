"""The Celery path end to end: SMTP capture → Redis → `mailqa worker` → PostgreSQL report."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest
from tests.scaleout.conftest import CeleryStack, Worker, probe_message, wait_for

pytestmark = pytest.mark.slow


async def captured(stack: CeleryStack, subject: str, token: str) -> int:
    await asyncio.to_thread(stack.smtp_send, probe_message(subject, token))
    async with stack.client() as c:
        [inbox, *_] = (await c.get("/api/v1/inboxes")).json()
        latest = await c.get(
            f"/api/v1/inboxes/{inbox['id']}/messages/latest",
            params={"wait": 60, "subject": subject},
        )
        assert latest.status_code == 200, latest.text
        return int(latest.json()["id"])


async def report_when(
    stack: CeleryStack, message_id: int, done: Any, within: float = 60
) -> dict[str, Any]:
    async with stack.client() as c:

        async def ready() -> dict[str, Any] | None:
            r = await c.get(f"/api/v1/messages/{message_id}/report")
            if r.status_code != 200:
                return None
            report: dict[str, Any] = r.json()
            return report if done(report) else None

        result: dict[str, Any] = await wait_for(ready, within)
        return result


def runs(stack: CeleryStack, check: str, token: str) -> list[str]:
    path = stack.markers / f"{check}-{token}_sender.example.runs"
    return path.read_text().splitlines() if path.exists() else []


def status_of(report: dict[str, Any], check: str) -> str:
    return str(report["checks"][check]["status"])


async def test_smtp_capture_is_analysed_by_the_worker(
    celery_stack: CeleryStack, worker: Worker
) -> None:
    message_id = await captured(celery_stack, "Plain hello", "plain1")
    report = await report_when(celery_stack, message_id, lambda r: True)
    assert set(report["checks"]) == {"headers", "slow", "flaky"}
    assert all(status_of(report, c) == "passed" for c in report["checks"])
    # It ran in the worker, not in the serving process.
    assert report["checks"]["slow"]["details"]["pid"] != os.getpid()
    assert worker.proc is not None and worker.proc.poll() is None


async def test_transient_failure_retries_only_that_check(
    celery_stack: CeleryStack, worker: Worker
) -> None:
    message_id = await captured(celery_stack, "[flaky] retry me", "flaky1")
    report = await report_when(
        celery_stack, message_id, lambda r: status_of(r, "flaky") == "passed", within=60
    )
    assert report["checks"]["flaky"]["details"]["runs"] == 3
    assert len(runs(celery_stack, "flaky", "flaky1")) == 3
    # The other checks ran once: retries re-ran the failed check alone and merged it in.
    assert len(runs(celery_stack, "slow", "flaky1")) == 1
    assert status_of(report, "headers") == "passed"
    assert report["status"] == "passed"


async def test_pool_process_killed_mid_task_is_redelivered(
    celery_stack: CeleryStack, worker: Worker
) -> None:
    started = celery_stack.markers / "slow-child1_sender.example.started"
    message_id = await captured(celery_stack, "[slow] child killed", "child1")
    await wait_for(lambda: asyncio.sleep(0, started.exists()), within=60)
    victim = int(started.read_text())
    os.kill(victim, signal.SIGKILL)
    report = await report_when(
        celery_stack, message_id, lambda r: status_of(r, "slow") == "passed", within=60
    )
    assert report["checks"]["slow"]["details"]["runs"] == 2
    assert report["checks"]["slow"]["details"]["pid"] != victim
    assert worker.proc is not None and worker.proc.poll() is None


async def test_whole_worker_killed_mid_task_loses_nothing(
    celery_stack: CeleryStack, worker: Worker
) -> None:
    started = celery_stack.markers / "slow-whole1_sender.example.started"
    message_id = await captured(celery_stack, "[slow] worker killed", "whole1")
    await wait_for(lambda: asyncio.sleep(0, started.exists()), within=60)
    worker.kill_all()  # SIGKILL to the parent and every pool process at once
    async with celery_stack.client() as c:
        r = await c.get(f"/api/v1/messages/{message_id}")
        assert r.json()["analysis_status"] == "pending"
    await asyncio.to_thread(worker.start)  # a fresh worker takes the unacknowledged task
    report = await report_when(
        celery_stack, message_id, lambda r: status_of(r, "slow") == "passed", within=90
    )
    assert report["checks"]["slow"]["details"]["runs"] == 2
    assert report["status"] == "passed"


async def test_audit_api_fans_out_to_workers(celery_stack: CeleryStack, worker: Worker) -> None:
    for i in range(6):
        await captured(celery_stack, f"Audit me {i}", f"audit{i}")
    async with celery_stack.client() as c:
        [inbox, *_] = (await c.get("/api/v1/inboxes")).json()
        total = (await c.get(f"/api/v1/inboxes/{inbox['id']}/messages")).json()["total"]
        r = await c.post("/api/v1/audits", json={"inbox_id": inbox["id"], "checks": ["headers"]})
        assert r.status_code == 202, r.text
        audit_id = r.json()["id"]

        async def finished() -> dict[str, Any] | None:
            body: dict[str, Any] = (await c.get(f"/api/v1/audits/{audit_id}")).json()
            return body if body["status"] == "done" else None

        audit = await wait_for(finished, within=60)
        assert audit["total"] == total and audit["done"] == total
        assert audit["summary"]["messages"] == total
        assert audit["summary"]["checks"] == {"headers": {"passed": total}}
        page = (await c.get(f"/api/v1/audits/{audit_id}/messages", params={"per_page": 2})).json()
        assert page["total"] == total and len(page["messages"]) == 2
