"""Limits and edges of the API against the real running server: idle long-polls that cost
nothing, input the database or JSON cannot carry, datetimes out of range, per-project link
caches, quotas and inbox counts, self-hosted API docs and the audit HTML export's CSP."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
from tests.foundation.conftest import Running, base_settings
from tests.foundation.support import make_message

from mailqa.core.message import ParsedMessage
from mailqa.service import open_service
from mailqa.store.models import Message
from mailqa.store.repository import MessageFilter, Store

T = TypeVar("T")


async def until(probe: Callable[[], Awaitable[T | None]], within: float = 30.0) -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {within} s")
        await asyncio.sleep(0.02)


def client(stack: Running, token: str | None = None, **kw: Any) -> httpx.AsyncClient:
    options: dict[str, Any] = {"timeout": 60.0, **kw}
    headers = {"Authorization": f"Bearer {token or stack.token}"}
    return httpx.AsyncClient(base_url=stack.base_url, headers=headers, **options)


async def new_project(stack: Running, name: str) -> int:
    async with stack.client() as c:
        r = await c.post("/api/v1/projects", json={"name": name})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


async def new_inbox(stack: Running, project_id: int, name: str, token: str | None = None) -> int:
    async with client(stack, token) as c:
        r = await c.post(f"/api/v1/projects/{project_id}/inboxes", json={"name": name})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


async def project_token(stack: Running, project_id: int) -> str:
    async with stack.client() as c:
        r = await c.post("/api/v1/tokens", json={"name": "proj", "project_id": project_id})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


async def upload(stack: Running, inbox_id: int, raw: bytes, token: str | None = None) -> int:
    async with client(stack, token) as c:
        r = await c.post(f"/api/v1/inboxes/{inbox_id}/messages", content=raw)
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


def assert_error_shape(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
    return body


# 4. Idle long-polls ------------------------------------------------------------------------

WAITERS = 200
OTHER_WAITERS = 20
CPU_PER_SECOND = 0.2  # generous: idle waiting should cost (close to) nothing
WINDOW_SECONDS = 3.0


def cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


async def test_idle_long_polls_cost_nothing_and_wake_only_their_inbox(running: Running) -> None:
    project = await new_project(running, "long-polls")
    inbox = await new_inbox(running, project, "watched")
    other = await new_inbox(running, project, "elsewhere")
    hub = running.service.store.changes

    queried: Counter[int] = Counter()
    latest = running.service.store.latest_message

    async def counting(inbox_id: int, filters: MessageFilter | None) -> Message | None:
        queried[inbox_id] += 1
        return await latest(inbox_id, filters)

    running.service.store.latest_message = counting  # type: ignore[method-assign]
    limits = httpx.Limits(max_connections=WAITERS + OTHER_WAITERS + 10)
    try:
        async with client(running, limits=limits, timeout=120.0) as c:

            def poll(inbox_id: int, subject: str) -> asyncio.Task[httpx.Response]:
                url = f"/api/v1/inboxes/{inbox_id}/messages/latest"
                params = {"wait": 90, "subject": subject}
                return asyncio.create_task(c.get(url, params=params))

            watched = [poll(inbox, "wake") for _ in range(WAITERS)]
            elsewhere = [poll(other, "later") for _ in range(OTHER_WAITERS)]

            async def all_waiting() -> bool:
                return (
                    hub.watchers(inbox) == WAITERS and hub.watchers(other) == OTHER_WAITERS
                ) and queried[inbox] == WAITERS

            await until(all_waiting)
            before, started = cpu_seconds(), time.monotonic()
            await asyncio.sleep(WINDOW_SECONDS)  # the measuring window
            used = (cpu_seconds() - before) / (time.monotonic() - started)
            print(f"\nCPU with {WAITERS + OTHER_WAITERS} idle long-polls: {used:.3f} s/s")
            assert used < CPU_PER_SECOND, f"{used:.3f} s of CPU per second while idle"
            assert queried[inbox] == WAITERS and queried[other] == OTHER_WAITERS

            message_id = await upload(running, inbox, make_message("wake up"))
            answers = await asyncio.gather(*watched)
            assert all(r.status_code == 200 for r in answers), answers[0].text
            assert {r.json()["id"] for r in answers} == {message_id}
            # Each waiter re-queried once per change (the capture, maybe its report too).
            assert WAITERS * 2 <= queried[inbox] <= WAITERS * 3
            # The other inbox's waiters were not woken, let alone answered.
            assert queried[other] == OTHER_WAITERS
            assert not any(t.done() for t in elsewhere)
            assert hub.watchers(other) == OTHER_WAITERS

            later = await upload(running, other, make_message("later"))
            answers = await asyncio.gather(*elsewhere)
            assert {r.json()["id"] for r in answers} == {later}
    finally:
        del running.service.store.latest_message  # type: ignore[method-assign]


async def test_with_celery_a_shared_slow_poll_sees_other_processes(tmp_path: Path) -> None:
    """With the Celery executor reports are written by workers (other processes): waiters
    see them through one poll shared by all, not a query per waiter."""
    settings = base_settings(tmp_path, executor="celery", change_poll_seconds=0.2)
    async with open_service(settings, start_executor=False) as service:
        other_process = Store(settings.effective_database_url)  # its own, silent hub
        try:
            project = await service.store.create_project("celery")
            inbox = await service.store.create_inbox(project.id, "i", 10**6)
            filters = MessageFilter(subject="from a worker")
            waiters = [
                asyncio.create_task(service.wait_for_message(inbox.id, filters, wait=60))
                for _ in range(50)
            ]

            async def all_waiting() -> bool:
                return service.store.changes.watchers(inbox.id) == 50

            await until(all_waiting)
            polls = service.store.changes.polls
            await other_process.insert_message(
                inbox.id, ParsedMessage(make_message("from a worker"))
            )
            rows = await asyncio.gather(*waiters)
            assert {r.subject for r in rows if r is not None} == {"from a worker"}
            # One query per poll for all 50 waiters, a handful of polls in all.
            assert service.store.changes.polls - polls < 50
        finally:
            await other_process.close()
