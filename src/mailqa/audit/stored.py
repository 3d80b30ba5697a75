"""Audits of mail stored by mailqa, run by the server (inline) or fanned out to Celery workers.

An audit row records the inbox, the filters, the checks and where it runs; each audited
message adds one result row (idempotently, so a redelivered task changes nothing), even a
message deleted before its turn (status ``missing``). Progress is the number of result rows
against ``total``; the summary is stored once the audit is done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mailqa.audit.record import (
    ERRORED,
    AuditRecord,
    message_key,
    missing_record,
    record_from_report,
    unreadable_record,
)
from mailqa.audit.sources import StoredInboxSource, filters_from_dict, filters_to_dict
from mailqa.audit.store import FINISHED, AuditStore
from mailqa.checks import build_checks
from mailqa.core.analyzer import Analyzer, AuditExecutor, project_scope
from mailqa.core.errors import MailqaError, NotFound
from mailqa.core.message import ParsedMessage
from mailqa.store.models import Audit

if TYPE_CHECKING:
    from mailqa.service import Service
    from mailqa.store.messages import MessageFilter

log = logging.getLogger(__name__)

SUBMIT_BATCH = 500
WATCH_POLL_SECONDS = 1.0
INLINE_CONCURRENCY = 4
RUNNING_SUMMARIES = 32  # summaries of running audits kept between polls


async def audit_stored_message(
    service: Service, analyzer: Analyzer, audits: AuditStore, audit: Audit, message_id: int
) -> AuditRecord:
    """Analyse one stored message for an audit and store its record."""
    try:
        loaded = await service.load(message_id)
    except NotFound:
        record = missing_record(message_id)
    else:
        record = await audit_parsed(
            service, analyzer, audit, message_id, loaded.parsed, uid=loaded.uid
        )
    await audits.save_result(audit.id, record)
    return record


async def audit_parsed(
    service: Service,
    analyzer: Analyzer,
    audit: Audit,
    message_id: int,
    parsed: ParsedMessage,
    *,
    uid: str | None = None,
) -> AuditRecord:
    """The audit record of one loaded message (``unreadable`` if it cannot be analysed).

    ``uid`` is the message's identity, needed for imported mail, whose report is saved
    onto that very message.

    Checks that fail transiently run again, alone, with backoff (``MAILQA_CELERY_MAX_RETRIES``
    and ``MAILQA_CELERY_RETRY_BACKOFF``). For imported mail the report is also the message's.
    """
    key = message_key(message_id)
    try:
        inbox = await service.store.get_inbox(audit.inbox_id)
        report = await analyzer.run_with_retries(
            parsed, scope=project_scope(inbox.project_id), offline=not audit.online
        )
    except Exception as exc:  # a message the parser or a check cannot survive
        return unreadable_record(key, f"{type(exc).__name__}: {exc}", message_id)
    if audit.imported:
        if uid is None:
            raise ValueError("an imported message's report needs the message's uid")
        await service.store.save_report(message_id, uid, report)
    return record_from_report(key, report, message_id)


class AuditBusy(MailqaError):
    """The audit cannot be deleted yet: workers elsewhere are still writing its results."""


class AuditStalled(MailqaError):
    """Workers stopped producing results for a Celery audit, and nothing is under way."""


async def wait_for_results(
    audits: AuditStore,
    executor: AuditExecutor,
    audit_id: int,
    expected: int,
    *,
    poll: float,
    stall_timeout: float,
    each_poll: Callable[[], Awaitable[Any]] | None = None,
) -> None:
    """Until a fanned-out audit has ``expected`` results. After ``stall_timeout`` seconds
    without a new result, ask the workers; when nothing is under way, it has stalled."""
    last, quiet_since = -1, time.monotonic()
    while True:
        if each_poll is not None:
            await each_poll()
        count = await audits.count_results(audit_id)
        if count >= expected:
            return
        now = time.monotonic()
        if count != last:
            last, quiet_since = count, now
        elif now - quiet_since >= stall_timeout:
            if await executor.audit_activity(audit_id) is None:
                raise AuditStalled(
                    f"audit {audit_id} stalled: {expected - count} of {expected} messages "
                    f"have no result after {stall_timeout:g} s without progress, and no worker "
                    "is running or about to run its tasks (are `mailqa worker`s running on "
                    "this queue, and can they reach the database?)"
                )
            quiet_since = now
        await asyncio.sleep(poll)


class AuditManager:
    """Starts audits of stored inboxes on the service's executor, resumes those a restart
    interrupted, and reports progress and summaries."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.audits = AuditStore(service.store)
        self._tasks: set[asyncio.Task[None]] = set()
        self._dispatching: dict[int, asyncio.Task[None]] = {}
        self._running_summaries: dict[int, tuple[int, dict[str, Any]]] = {}

    async def start(
        self,
        inbox_id: int,
        checks: list[str],
        *,
        online: bool = False,
        filters: MessageFilter | None = None,
    ) -> Audit:
        from mailqa.store.messages import MessageFilter

        build_checks(checks)  # unknown names fail here, before anything is stored
        await self.service.store.get_inbox(inbox_id)
        audit = await self.audits.create(
            inbox_id,
            checks,
            online=online,
            filters=filters_to_dict(filters or MessageFilter()),
            executor=self.service.settings.executor,
        )
        self._spawn(audit)
        return audit

    async def resume_interrupted(self) -> int:
        """Dispatch again the audits a stopped server left unfinished; messages that already
        have a result are skipped."""
        interrupted = await self.audits.interrupted()
        for audit in interrupted:
            log.info("resuming audit %s (interrupted by a restart)", audit.id)
            self._spawn(audit)
        return len(interrupted)

    def _spawn(self, audit: Audit) -> None:
        task = asyncio.create_task(self._dispatch(audit))
        self._tasks.add(task)
        self._dispatching[audit.id] = task
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._dispatching.pop(audit.id, None))

    async def delete(self, audit_id: int) -> None:
        """Delete the audit and its results. One this server runs is stopped first; one
        fanned out to Celery workers can be deleted once it has finished."""
        audit = await self.audits.get(audit_id)
        task = self._dispatching.get(audit_id)
        if audit.executor == "celery" and audit.status not in FINISHED:
            raise AuditBusy(
                f"audit {audit_id} is {audit.status} on Celery workers; "
                "delete it once it is done or failed"
            )
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.audits.delete(audit_id)
        self._running_summaries.pop(audit_id, None)

    async def _dispatch(self, audit: Audit) -> None:
        """Run or fan out the messages of ``audit`` that have no result yet.

        A server stopping leaves the audit as it is (queued or running), to be resumed.
        """
        source = StoredInboxSource(
            self.service.store, audit.inbox_id, filters_from_dict(audit.filters or {})
        )
        try:
            await source.prepare()
            done = await self.audits.done_message_ids(audit.id)
            if audit.executor == "celery":
                await self.audits.update(audit.id, total=source.count())
                total = await self._fan_out(audit, source, done)
                await self._watch(audit, total)
            else:
                await self.audits.update(audit.id, total=source.count(), status="running")
                await self._run_inline(audit, source, done)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("audit %s failed", audit.id)
            await self.audits.update(audit.id, status="failed", error=str(exc))

    def _audit_executor(self) -> AuditExecutor:
        """The service's executor, as the one that fans audits out (Celery)."""
        executor = self.service.executor
        if not isinstance(executor, AuditExecutor):
            raise MailqaError("this server's executor does not fan audits out to workers")
        return executor

    async def _fan_out(self, audit: Audit, source: StoredInboxSource, done: set[int]) -> int:
        """Queue the ids; the audit is ``running`` once all are queued, and workers write
        the results (``progress`` marks it done when all are in)."""
        submit = self._audit_executor().submit_audit
        batch: list[int] = []
        total = len(done)
        async for message_id in source.message_ids():
            if message_id in done:
                continue
            batch.append(message_id)
            total += 1
            if len(batch) >= SUBMIT_BATCH:
                await submit(audit.id, batch)
                batch = []
        if batch:
            await submit(audit.id, batch)
        await self.audits.update(audit.id, total=total, status="running")
        return total

    async def _watch(self, audit: Audit, total: int) -> None:
        """Until the workers have written every result; a stalled audit fails with the
        reason instead of staying ``running`` for ever."""
        try:
            await wait_for_results(
                self.audits,
                self._audit_executor(),
                audit.id,
                total,
                poll=WATCH_POLL_SECONDS,
                stall_timeout=self.service.settings.audit_stall_seconds,
            )
        except AuditStalled as exc:
            log.warning("%s", exc)
            await self.audits.update(audit.id, status="failed", error=str(exc))
        else:
            await self.audits.update(audit.id, status="done")

    async def _run_inline(self, audit: Audit, source: StoredInboxSource, done: set[int]) -> None:
        analyzer = self.service.analyzer.for_checks(audit.checks)
        limit = asyncio.Semaphore(INLINE_CONCURRENCY)
        pending: set[asyncio.Task[Any]] = set()
        total = len(done)
        lost: list[BaseException] = []

        async def one(message_id: int) -> None:
            try:
                await audit_stored_message(self.service, analyzer, self.audits, audit, message_id)
            except Exception as exc:
                # The message is recorded as errored; if even that cannot be stored, the
                # audit fails below rather than end done with a record missing.
                log.exception("audit %s: message %d", audit.id, message_id)
                record = unreadable_record(message_key(message_id), str(exc), message_id, ERRORED)
                try:
                    await self.audits.save_result(audit.id, record)
                except Exception as again:
                    lost.append(again)
            finally:
                limit.release()

        try:
            async for message_id in source.message_ids():
                if message_id in done:
                    continue
                await limit.acquire()  # a slot before the task exists: flat memory
                task = asyncio.create_task(one(message_id))
                pending.add(task)
                task.add_done_callback(pending.discard)
                total += 1
            if pending:
                await asyncio.gather(*pending)
        finally:
            for task in pending:
                task.cancel()
            if pending:  # stopped (deleted, shutting down): let them unwind first
                await asyncio.gather(*pending, return_exceptions=True)
        if lost:
            raise RuntimeError(f"{len(lost)} result(s) could not be stored: {lost[0]}")
        await self.audits.update(audit.id, total=total, status="done")

    async def progress(self, audit_id: int) -> tuple[Audit, int]:
        """The audit and how many messages are done; marks fanned-out audits finished."""
        audit = await self.audits.get(audit_id)
        done = await self.audits.count_results(audit_id)
        fanned_out = audit.executor == "celery" and audit.status == "running"
        if fanned_out and audit.total is not None and done >= audit.total:
            await self.audits.update(audit_id, status="done")
            audit = await self.audits.get(audit_id)
        return audit, done

    async def summary(self, audit: Audit, done: int) -> dict[str, Any]:
        """Stored once the audit is done; while it runs, computed again only when more
        results came in."""
        if audit.summary is not None:
            return audit.summary
        cached = self._running_summaries.get(audit.id)
        if cached is not None and cached[0] == done and audit.status != "done":
            return cached[1]
        summary = await self.audits.summarise(audit.id)
        if audit.status == "done":
            await self.audits.update(audit.id, summary=summary)
            self._running_summaries.pop(audit.id, None)
        else:
            self._running_summaries[audit.id] = (done, summary)
            while len(self._running_summaries) > RUNNING_SUMMARIES:
                del self._running_summaries[next(iter(self._running_summaries))]
        return summary

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
