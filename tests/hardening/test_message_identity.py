"""Ids are never reused, and an analysis result lands only on the message it analysed.

Before: SQLite handed a deleted message's id to the next message, and a slow analysis of the
deleted one was then saved as the new one's report (another project's subject and links).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import pytest_asyncio
from alembic import command
from sqlalchemy import delete
from tests.support.messages import make_message
from tests.support.stack import Running, base_settings, start_stack

from mailqa.audit.store import AuditStore
from mailqa.core.check import CheckContext
from mailqa.core.errors import NotFound
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline, summarize
from mailqa.core.report import CheckResult, Report
from mailqa.service import open_service
from mailqa.store.database import alembic_config, migrate
from mailqa.store.models import Audit
from mailqa.worker.selection import select_executor


class HeldCheck:
    """Reports the subject it saw, once the test lets it go: an analysis as slow as needed."""

    name: ClassVar[str] = "held"
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = False

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        self.started.set()
        await self.release.wait()
        return CheckResult(name=self.name, status="passed", summary=f"saw {msg.subject}")


@pytest_asyncio.fixture
async def held(tmp_path: Path) -> AsyncIterator[tuple[Running, HeldCheck]]:
    check = HeldCheck()
    # The held check lives in this process: the checks run here, not in analysis processes.
    async with start_stack(base_settings(tmp_path, analysis_processes=0)) as stack:
        stack.service.pipeline = Pipeline([check], timeout=60)
        yield stack, check


async def upload(stack: Running, inbox_id: int, subject: str) -> int:
    async with stack.client() as c:
        r = await c.post(
            f"/api/v1/inboxes/{inbox_id}/messages",
            content=make_message(subject),
            headers={"Content-Type": "message/rfc822"},
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


async def new_inbox(stack: Running, project: str) -> int:
    async with stack.client() as c:
        p = await c.post("/api/v1/projects", json={"name": project})
        r = await c.post(f"/api/v1/projects/{p.json()['id']}/inboxes", json={"name": "qa"})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


async def report_of(stack: Running, message_id: int, wait: float = 10) -> dict[str, Any]:
    async with stack.client() as c:
        for _ in range(int(wait / 0.02)):
            r = await c.get(f"/api/v1/messages/{message_id}/report")
            if r.status_code == 200:
                return dict(r.json())
            await asyncio.sleep(0.02)
    raise AssertionError(f"no report for message {message_id}")


async def test_late_report_of_a_deleted_message_lands_nowhere(
    held: tuple[Running, HeldCheck],
) -> None:
    """Project A's message X is deleted while its analysis runs; project B's Y comes next."""
    stack, check = held
    inbox_a, inbox_b = await new_inbox(stack, "A"), await new_inbox(stack, "B")
    x = await upload(stack, inbox_a, "A's secret")
    await asyncio.wait_for(check.started.wait(), 10)
    async with stack.client() as c:
        assert (await c.delete(f"/api/v1/messages/{x}")).status_code == 204
    y = await upload(stack, inbox_b, "B's welcome")
    assert y > x  # never X's id again
    check.release.set()
    report = await report_of(stack, y)
    assert report["checks"]["held"]["summary"] == "saw B's welcome"
    async with stack.client() as c:
        assert (await c.get(f"/api/v1/messages/{x}/report")).status_code == 404


async def test_send_purge_send_gets_the_second_verdict(held: tuple[Running, HeldCheck]) -> None:
    stack, check = held
    inbox = await new_inbox(stack, "one inbox")
    v1 = await upload(stack, inbox, "v1")
    await asyncio.wait_for(check.started.wait(), 10)
    async with stack.client() as c:
        assert (await c.delete(f"/api/v1/inboxes/{inbox}/messages")).status_code == 200
    v2 = await upload(stack, inbox, "v2")
    check.release.set()
    assert v2 != v1
    assert (await report_of(stack, v2))["checks"]["held"]["summary"] == "saw v2"


async def test_a_job_for_another_identity_is_dropped(any_db: Running) -> None:
    """Whatever holds an id now, a result made for another message is not saved on it."""
    service = any_db.service
    inbox = await new_inbox(any_db, "identity")
    mid = await upload(any_db, inbox, "current")
    assert (await report_of(any_db, mid))["message"]["subject"] == "current"
    with pytest.raises(NotFound):
        await service.analyze(mid, uid="0" * 32)
    stale = Report.from_results(summarize(ParsedMessage(make_message("stale"))), [])
    await service.store.save_report(mid, "f" * 32, stale)
    assert (await report_of(any_db, mid))["message"]["subject"] == "current"


async def test_no_id_is_ever_reused(any_db: Running) -> None:
    """Projects, inboxes, messages, tokens and audits, on SQLite and PostgreSQL."""
    async with any_db.client() as c:
        first = (await c.post("/api/v1/projects", json={"name": "p1"})).json()["id"]
        await c.delete(f"/api/v1/projects/{first}")
        second = (await c.post("/api/v1/projects", json={"name": "p2"})).json()["id"]
        assert second > first

        r = await c.post(f"/api/v1/projects/{second}/inboxes", json={"name": "i1"})
        inbox1 = r.json()["id"]
        await c.delete(f"/api/v1/inboxes/{inbox1}")
        r = await c.post(f"/api/v1/projects/{second}/inboxes", json={"name": "i2"})
        inbox2 = r.json()["id"]
        assert inbox2 > inbox1

        t1 = (await c.post("/api/v1/tokens", json={"name": "t1"})).json()["id"]
        await c.delete(f"/api/v1/tokens/{t1}")
        t2 = (await c.post("/api/v1/tokens", json={"name": "t2"})).json()["id"]
        assert t2 > t1

    m1 = await upload(any_db, inbox2, "m1")
    async with any_db.client() as c:
        await c.delete(f"/api/v1/messages/{m1}")
    assert await upload(any_db, inbox2, "m2") > m1

    audits = AuditStore(any_db.service.store)
    a1 = (await audits.create(inbox2, ["headers"], online=False, filters={})).id
    async with any_db.service.store.sessions() as s, s.begin():
        await s.execute(delete(Audit).where(Audit.id == a1))
    assert (await audits.create(inbox2, ["headers"], online=False, filters={})).id > a1


async def test_an_analysis_cut_short_again_and_again_is_not_retried(tmp_path: Path) -> None:
    """A message whose analysis dies with the server each time (a poison message) is queued
    again at start-up only ``analysis_max_attempts`` times; then it is reported errored."""
    settings = base_settings(tmp_path, analysis_max_attempts=2, analysis_processes=0)
    for start in range(2):  # each start: the analysis begins, the server stops under it
        async with open_service(
            settings, executor=select_executor, start_executor=False
        ) as service:
            check = HeldCheck()
            service.pipeline = Pipeline([check], timeout=60)
            await service.executor.start()
            try:
                if start == 0:
                    inbox = await service.store.default_inbox(settings.inbox_quota_bytes)
                    mid = await service.capture(make_message("poison"), inbox.id)
                else:
                    assert await service.resume_pending() == 1
                await asyncio.wait_for(check.started.wait(), 10)
            finally:
                await service.executor.stop()
    async with open_service(
        settings, executor=select_executor
    ) as service:  # the third start queues nothing
        assert await service.store.pending_messages() == []
        report = await service.store.get_report(mid)
        assert report is not None and report.message.subject == "poison"
        assert report.checks["headers"].status.value == "errored"
        assert "cut short" in (report.checks["headers"].error or "")
        # On demand it still runs.
        again = await service.analyze(mid)
        assert again.checks["headers"].status.value != "errored"


def test_migration_rebuilds_sqlite_tables_so_ids_are_not_reused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0006")
    db = sqlite3.connect(tmp_path / "old.db")
    db.execute("INSERT INTO projects (id, name, created_at) VALUES (1, 'p', '2026-01-01')")
    db.execute(
        "INSERT INTO inboxes (id, project_id, name, smtp_username, smtp_password, quota_bytes,"
        " used_bytes, created_at) VALUES (1, 1, 'i', 'u', 'p', 1000, 0, '2026-01-01')"
    )
    for mid in (1, 2, 3):
        db.execute(
            "INSERT INTO messages (id, inbox_id, created_at, size, preview_text, has_html,"
            " has_text, is_read, rcpt_to, analysis_status, parse_defects)"
            f" VALUES ({mid}, 1, '2026-01-01', 10, '', 0, 0, 0, '[]', 'pending', '[]')"
        )
    db.commit()
    db.close()
    migrate(url)
    db = sqlite3.connect(tmp_path / "old.db")
    uids = [uid for (uid,) in db.execute("SELECT uid FROM messages ORDER BY id")]
    assert len(uids) == 3 and len(set(uids)) == 3 and all(len(u) == 32 for u in uids)
    db.execute("DELETE FROM messages WHERE id = 3")
    db.execute(
        "INSERT INTO messages (uid, inbox_id, created_at, size, preview_text, has_html,"
        " has_text, is_read, rcpt_to, analysis_status, parse_defects)"
        " VALUES ('x', 1, '2026-01-01', 10, '', 0, 0, 0, '[]', 'pending', '[]')"
    )
    assert db.execute("SELECT max(id) FROM messages").fetchone() == (4,)
    db.close()


def test_the_celery_task_drops_a_job_made_for_another_message(tmp_path: Path) -> None:
    """The worker's analyze task, run for real (eagerly, no broker needed): a job whose uid
    is not the row's is dropped; the message's own job is saved."""
    from mailqa.worker.celery_app import ANALYZE_TASK, create_celery
    from mailqa.worker.tasks import register_tasks

    settings = base_settings(tmp_path, executor="inline")

    async def stored() -> tuple[int, str]:
        async with open_service(
            settings, executor=select_executor, start_executor=False
        ) as service:
            inbox = await service.store.default_inbox(settings.inbox_quota_bytes)
            mid = await service.capture(make_message("celery job"), inbox.id)
            return mid, (await service.store.get_message(mid)).uid

    mid, uid = asyncio.run(stored())
    app = create_celery(settings)
    runtime = register_tasks(app, settings)
    try:
        task = app.tasks[ANALYZE_TASK]
        stale = task.apply(kwargs={"message_id": mid, "uid": "0" * 32}).get()
        assert stale == {"message_id": mid, "status": "deleted"}

        async def report() -> Report | None:
            async with open_service(
                settings, executor=select_executor, start_executor=False
            ) as service:
                return await service.store.get_report(mid)

        assert asyncio.run(report()) is None
        done = task.apply(kwargs={"message_id": mid, "uid": uid}).get()
        assert done["status"] == "passed", done
        saved = asyncio.run(report())
        assert saved is not None and saved.message.subject == "celery job"
    finally:
        runtime.close()
