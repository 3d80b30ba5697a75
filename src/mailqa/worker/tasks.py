"""The Celery tasks: thin. They take ids, call the service, and decide about retries.

Each worker process keeps one event loop and one ``Service`` (database pool, shared clients)
for its whole life, opened on its first task; tasks run on that loop one at a time.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from celery import Celery
from celery.signals import worker_process_shutdown
from sqlalchemy.exc import DBAPIError, OperationalError

from mailqa.audit.record import ERRORED, message_key, missing_record, unreadable_record
from mailqa.audit.store import AuditStore
from mailqa.audit.stored import audit_parsed
from mailqa.core.errors import NotFound
from mailqa.core.report import Report
from mailqa.resources import open_analyzer, retry_policy
from mailqa.service import Service
from mailqa.settings import Settings
from mailqa.store.models import Audit
from mailqa.store.repository import Store
from mailqa.worker.celery_app import ANALYZE_TASK, AUDIT_MESSAGES_TASK, RENDER_TASK
from mailqa.worker.selection import select_executor

log = logging.getLogger(__name__)
T = TypeVar("T")


class WorkerRuntime:
    """The event loop and service of one worker process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pid: int | None = None
        self._runner: asyncio.Runner | None = None
        self._stack: AsyncExitStack | None = None
        self._service: Service | None = None
        self.audits: AuditStore | None = None
        self.audit_rows: dict[int, Audit] = {}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._pid != os.getpid():  # first use, or inherited through fork: start afresh
            self._runner = asyncio.Runner()
            self._stack = None
            self._service = None
            self._pid = os.getpid()
        assert self._runner is not None
        return self._runner.run(coro)

    async def service(self) -> Service:
        if self._service is None:
            stack = AsyncExitStack()
            store = Store(self.settings.effective_database_url)
            stack.push_async_callback(store.close)
            analyzer = await stack.enter_async_context(open_analyzer(self.settings))
            self._service = Service(self.settings, store, analyzer, executor=select_executor)
            stack.push_async_callback(self._service.previews.stop)  # its browser, if started
            self.audits = AuditStore(store)
            self._stack = stack
        return self._service

    def close(self) -> None:
        if self._runner is None or self._pid != os.getpid():
            return
        if self._stack is not None:
            self._runner.run(self._stack.aclose())
        self._runner.close()
        self._runner = None
        self._service = None


async def _analyze(
    runtime: WorkerRuntime, message_id: int, uid: str | None, only: list[str] | None
) -> Report | None:
    service = await runtime.service()
    try:
        return await service.analyze(message_id, uid=uid, only=only)
    except NotFound:
        return None  # deleted before its turn


async def _render(runtime: WorkerRuntime, message_id: int, uid: str, force: bool) -> str:
    service = await runtime.service()
    previews = service.previews
    if not previews.enabled:
        return previews.reason
    await previews.render_message(message_id, uid, force=force)
    return "rendered"


async def _audit(runtime: WorkerRuntime, audit_id: int, message_ids: list[int]) -> list[str]:
    """Audit a chunk of messages: one read and one write for the chunk; the checks of its
    messages run concurrently. Every id gets a record: ``missing`` when it was deleted."""
    service = await runtime.service()
    audits = runtime.audits
    assert audits is not None
    audit = runtime.audit_rows.get(audit_id)
    if audit is None:  # an audit's checks never change: read its row once per process
        audit = runtime.audit_rows[audit_id] = await audits.get(audit_id)
    analyzer = service.analyzer.for_checks(audit.checks)

    loaded = await service.load_many(message_ids)  # one query for the chunk
    records = await asyncio.gather(
        *(
            audit_parsed(service, analyzer, audit, mid, msg.parsed, uid=msg.uid)
            for mid, msg in loaded.items()
        )
    )
    records += [missing_record(mid) for mid in message_ids if mid not in loaded]
    await audits.save_results(audit.id, records)  # one statement for the chunk
    return [record.status for record in records]


async def _give_up(
    runtime: WorkerRuntime, audit_id: int, message_ids: list[int], error: str
) -> None:
    """Out of retries: record the chunk as ``errored`` (keeping any record already there),
    so the audit can finish. Best effort: the database may still be away."""
    try:
        await runtime.service()
        assert runtime.audits is not None
        records = [unreadable_record(message_key(mid), error, mid, ERRORED) for mid in message_ids]
        await runtime.audits.save_results(audit_id, records, replace=False)
    except Exception:
        log.exception("audit %s: cannot record %d errored message(s)", audit_id, len(message_ids))


DB_ERRORS = (OperationalError, DBAPIError, OSError)


def register_tasks(app: Celery, settings: Settings) -> WorkerRuntime:
    """Define the tasks on ``app``; they share one runtime per worker process."""
    runtime = WorkerRuntime(settings)
    retry = retry_policy(settings)

    @worker_process_shutdown.connect(weak=False)  # type: ignore[untyped-decorator]
    def _close(**_: Any) -> None:
        runtime.close()

    @app.task(  # type: ignore[untyped-decorator]
        name=ANALYZE_TASK, bind=True, max_retries=settings.celery_max_retries
    )
    def analyze(
        self: Any, message_id: int, only: list[str] | None = None, uid: str | None = None
    ) -> dict[str, Any]:
        # ``uid`` is the message's identity when the task was queued (absent in tasks queued
        # by older versions): the report goes onto that very message, or nowhere.
        try:
            report = runtime.run(_analyze(runtime, message_id, uid, only))
        except DB_ERRORS as exc:  # database restarting: the whole task again, later
            raise self.retry(exc=exc, countdown=retry.backoff(self.request.retries)) from exc
        if report is None:
            return {"message_id": message_id, "status": "deleted"}
        failed = retry.retryable_failures(report, only)
        if failed and self.request.retries < self.max_retries:
            countdown = retry.backoff(self.request.retries)
            log.info("message %s: retrying %s in %.1f s", message_id, ", ".join(failed), countdown)
            raise self.retry(
                kwargs={"message_id": message_id, "only": failed, "uid": uid}, countdown=countdown
            )
        return {"message_id": message_id, "status": report.status.value, "retry_exhausted": failed}

    @app.task(  # type: ignore[untyped-decorator]
        name=RENDER_TASK, bind=True, max_retries=settings.celery_max_retries
    )
    def render(self: Any, message_id: int, uid: str, force: bool = False) -> dict[str, Any]:
        # Renders need this worker's Chromium and the serving process's data dir (shared).
        try:
            status = runtime.run(_render(runtime, message_id, uid, force))
        except DB_ERRORS as exc:
            raise self.retry(exc=exc, countdown=retry.backoff(self.request.retries)) from exc
        return {"message_id": message_id, "status": status}

    @app.task(  # type: ignore[untyped-decorator]
        name=AUDIT_MESSAGES_TASK, bind=True, max_retries=settings.celery_max_retries
    )
    def audit_messages(self: Any, audit_id: int, message_ids: list[int]) -> list[str]:
        # Idempotent per message: a chunk redelivered after a crash rewrites the same records.
        try:
            return runtime.run(_audit(runtime, audit_id, message_ids))
        except DB_ERRORS as exc:
            if self.request.retries >= self.max_retries:
                error = f"gave up after {self.request.retries} retries: {exc}"
                runtime.run(_give_up(runtime, audit_id, message_ids, error))
                raise
            raise self.retry(exc=exc, countdown=retry.backoff(self.request.retries)) from exc

    return runtime
