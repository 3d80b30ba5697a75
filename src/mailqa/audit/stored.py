"""Audits of mail stored by mailqa, run by the server (inline) or fanned out to Celery workers.

An audit row records the inbox, the filters and the checks; each audited message adds one
result row (idempotently, so a redelivered task changes nothing). Progress is the number of
result rows against ``total``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mailqa.audit.models import Audit
from mailqa.audit.record import AuditRecord, record_from_report, unreadable_record
from mailqa.audit.sources import StoredInboxSource
from mailqa.audit.store import AuditStore
from mailqa.checks import build_checks
from mailqa.core.errors import NotFound
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline

if TYPE_CHECKING:
    from mailqa.service import Service

log = logging.getLogger(__name__)

SUBMIT_BATCH = 500
INLINE_CONCURRENCY = 4


class PipelineCache:
    """One pipeline per set of checks, built on first use."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._pipelines: dict[tuple[str, ...], Pipeline] = {}

    def get(self, checks: Sequence[str]) -> Pipeline:
        key = tuple(checks)
        if key not in self._pipelines:
            self._pipelines[key] = Pipeline(build_checks(list(key)), timeout=self.timeout)
        return self._pipelines[key]


async def audit_stored_message(
    service: Service, pipeline: Pipeline, audits: AuditStore, audit: Audit, message_id: int
) -> AuditRecord | None:
    """Analyse one stored message for an audit and store its record (None: deleted)."""
    try:
        parsed = await service.load_parsed(message_id)
    except NotFound:
        return None
    record = await audit_parsed(service, pipeline, audit, message_id, parsed)
    await audits.save_result(audit.id, record)
    return record


async def audit_parsed(
    service: Service, pipeline: Pipeline, audit: Audit, message_id: int, parsed: ParsedMessage
) -> AuditRecord:
    """The audit record of one loaded message (``unreadable`` if it cannot be analysed)."""
    key = f"message:{message_id}"
    try:
        ctx = service.ctx if audit.online else dataclasses.replace(service.ctx, offline=True)
        return record_from_report(key, await pipeline.run(parsed, ctx), message_id)
    except Exception as exc:  # a message the parser or a check cannot survive
        return unreadable_record(key, f"{type(exc).__name__}: {exc}", message_id)


def _filters(since: datetime | None, until: datetime | None) -> dict[str, Any]:
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }


class AuditManager:
    """Starts audits of stored inboxes on the service's executor and reports progress."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.audits = AuditStore(service.store)
        self.pipelines = PipelineCache(service.settings.check_timeout)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(
        self,
        inbox_id: int,
        checks: list[str],
        *,
        online: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Audit:
        build_checks(checks)  # unknown names fail here, before anything is stored
        await self.service.store.get_inbox(inbox_id)
        audit = await self.audits.create(
            inbox_id, checks, online=online, filters=_filters(since, until)
        )
        task = asyncio.create_task(self._dispatch(audit, since, until))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return audit

    async def _dispatch(self, audit: Audit, since: datetime | None, until: datetime | None) -> None:
        source = StoredInboxSource(self.service.store, audit.inbox_id, since, until)
        try:
            await source.prepare()
            await self.audits.update(audit.id, total=source.count(), status="running")
            if self.service.settings.executor == "celery":
                await self._fan_out(audit, source)
            else:
                await self._run_inline(audit, source)
        except asyncio.CancelledError:
            await self.audits.update(audit.id, status="cancelled")
            raise
        except Exception as exc:
            log.exception("audit %s failed", audit.id)
            await self.audits.update(audit.id, status="failed", error=str(exc))

    async def _fan_out(self, audit: Audit, source: StoredInboxSource) -> None:
        submit = self.service.executor.submit_audit  # type: ignore[attr-defined]
        batch: list[int] = []
        sent = 0
        async for message_id in source.message_ids():
            batch.append(message_id)
            if len(batch) >= SUBMIT_BATCH:
                await submit(audit.id, batch)
                sent += len(batch)
                batch = []
        if batch:
            await submit(audit.id, batch)
            sent += len(batch)
        await self.audits.update(audit.id, total=sent)
        # Workers write the results; ``progress`` marks the audit done when all are in.

    async def _run_inline(self, audit: Audit, source: StoredInboxSource) -> None:
        pipeline = self.pipelines.get(audit.checks)
        limit = asyncio.Semaphore(INLINE_CONCURRENCY)
        pending: set[asyncio.Task[Any]] = set()
        done = 0

        async def one(message_id: int) -> None:
            try:
                await audit_stored_message(self.service, pipeline, self.audits, audit, message_id)
            finally:
                limit.release()

        async for message_id in source.message_ids():
            await limit.acquire()  # a slot before the task exists: flat memory
            task = asyncio.create_task(one(message_id))
            pending.add(task)
            task.add_done_callback(pending.discard)
            done += 1
        if pending:
            await asyncio.gather(*pending)
        await self.audits.update(audit.id, total=done, status="done")

    async def progress(self, audit_id: int) -> tuple[Audit, int]:
        """The audit and how many messages are done; marks fanned-out audits finished."""
        audit = await self.audits.get(audit_id)
        done = await self.audits.count_results(audit_id)
        fanned_out = self.service.settings.executor == "celery"
        total = audit.total
        if fanned_out and audit.status == "running" and total is not None and done >= total:
            await self.audits.update(audit_id, status="done")
            audit = await self.audits.get(audit_id)
        return audit, done

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
