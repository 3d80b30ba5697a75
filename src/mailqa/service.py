"""The use cases every front end calls: capture, analyse, wait for mail.

The SMTP handler, the HTTP API, the Celery task, the CLI and the audit runner go through a
``Service``; none of them talks to the pipeline or the database on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mailqa.core.analyzer import (
    AnalysisOutcome,
    Analyzer,
    Executor,
    ProcessBackedExecutor,
    QueuedExecutor,
    project_scope,
)
from mailqa.core.errors import AnalysisCrashed, AnalysisQueueFull, AnalysisUnavailable, NotFound
from mailqa.core.message import (
    CapturedMessage,
    Envelope,
    ParsedMessage,
    header_block,
    parse_stored,
)
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import CheckResult, MessageSummary, Report
from mailqa.metrics import Metrics
from mailqa.previews import Previews, with_axe
from mailqa.resources import open_analyzer
from mailqa.settings import Settings
from mailqa.store.changes import InboxWatch
from mailqa.store.database import migrate
from mailqa.store.messages import MessageFilter, PendingMessage
from mailqa.store.models import Message
from mailqa.store.repository import Store
from mailqa.webhooks.delivery import Deliverer

log = logging.getLogger(__name__)

HEAD_IN_THREAD = 64 * 1024
"""Header blocks larger than this are scanned in a worker thread."""

ExecutorFactory = Callable[["Service"], Executor]
"""Builds a service's executor around the service's own jobs (``analyze_job``,
``analyze_in_process``). The service does not choose one: ``mailqa.worker.selection``
picks the one the settings name, and whoever opens the service passes it."""


class Service:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        analyzer: Analyzer,
        metrics: Metrics | None = None,
        *,
        executor: ExecutorFactory,
    ) -> None:
        self.settings = settings
        self.store = store
        self.analyzer = analyzer
        self.metrics = metrics or Metrics()
        self.executor: Executor = executor(self)
        self.previews = Previews(settings, store)
        # With Celery, the workers render too (they need Chromium and this data dir).
        self.previews.dispatch = getattr(self.executor, "submit_render", None)
        self._queued = self.executor if isinstance(self.executor, QueuedExecutor) else None
        self._admitted = 0  # captures admitted and not yet queued: they count against the bound
        poll = settings.change_poll_seconds
        if poll is None:  # Celery workers store reports from other processes
            poll = 1.0 if settings.executor == "celery" else 0.0
        if poll > 0:
            store.changes.poll_with(store.inbox_signatures, every=poll)

    @property
    def pipeline(self) -> Pipeline:
        return self.analyzer.pipeline

    @pipeline.setter
    def pipeline(self, pipeline: Pipeline) -> None:
        self.analyzer.pipeline = pipeline

    async def ensure_admin_token(self) -> str | None:
        """Create the configured admin token, or a first one when there is none at all.

        Returns the plain token when one was created without being configured (print it once).
        """
        wanted = self.settings.api_token
        if wanted:
            if not await self.store.token_exists(wanted):
                await self.store.create_token(
                    "admin (MAILQA_API_TOKEN)", is_admin=True, token=wanted
                )
            return None
        if await self.store.list_tokens():
            return None
        plain, _ = await self.store.create_token("admin", is_admin=True)
        return plain

    # Capture ------------------------------------------------------------------------------

    async def capture(
        self, raw: bytes, inbox_id: int, envelope: Envelope | None = None, *, source: str = "api"
    ) -> int:
        """Store the message (committed when this returns), then queue its analysis.

        Only the header block is read here (bounded); the analysis job parses the body.
        ``AnalysisQueueFull`` (nothing stored) while ``analysis_queue_max`` analyses wait."""
        self._admit(source)
        try:
            return await self._capture(raw, inbox_id, envelope, source)
        finally:
            self._admitted -= 1

    def queue_full(self) -> AnalysisQueueFull | None:
        """Why a capture would be refused now (the analysis queue is full), or None."""
        limit = self.settings.analysis_queue_max
        queued = self._queued
        if limit and queued is not None and queued.backlog + self._admitted >= limit:
            return AnalysisQueueFull(
                f"{queued.backlog} messages wait for their analysis "
                f"(MAILQA_ANALYSIS_QUEUE_MAX={limit}); try again shortly"
            )
        return None

    def _admit(self, source: str) -> None:
        if (full := self.queue_full()) is not None:
            self.metrics.messages_rejected.labels(source, "queue_full").inc()
            raise full
        self._admitted += 1

    async def _capture(
        self, raw: bytes, inbox_id: int, envelope: Envelope | None, source: str
    ) -> int:
        block = header_block(raw)
        if len(block) > HEAD_IN_THREAD:  # an outsized header block: off the loop
            captured = await asyncio.to_thread(CapturedMessage.scan, raw, envelope, block)
        else:
            captured = CapturedMessage.scan(raw, envelope, block)
        stored = await self.store.insert_message(inbox_id, captured)
        self.metrics.messages_captured.labels(source).inc()
        # The message is safe from here on: a failure below must not make the sender retry
        # (a duplicate); the message stays pending and is queued again at the next start.
        try:
            max_messages = stored.inbox_max_messages or self.settings.retention_max_messages
            if max_messages:
                await self.store.prune(inbox_id, max_messages=max_messages, max_age_days=None)
            await self.executor.submit(stored.id, stored.uid, None)
        except Exception:
            log.exception("message %d stored; queueing its analysis failed", stored.id)
        try:
            await self.previews.submit(stored.id, stored.uid)
        except Exception:
            log.exception("message %d stored; queueing its renders failed", stored.id)
        return stored.id

    async def apply_retention(self) -> int:
        """Prune every inbox by its own limits, else the configured ones (and the webhook
        delivery log by its age). Returns the count of messages pruned."""
        pruned = 0
        for inbox in await self.store.list_inboxes():
            max_messages = inbox.max_messages or self.settings.retention_max_messages
            max_age_days = inbox.max_age_days or self.settings.retention_max_age_days
            if max_messages or max_age_days:
                pruned += await self.store.prune(
                    inbox.id, max_messages=max_messages, max_age_days=max_age_days
                )
            if self.settings.retention_source_days is not None:
                cutoff = datetime.now(UTC) - timedelta(days=self.settings.retention_source_days)
                for message_id in await self.store.unparsed_messages(inbox.id, cutoff):
                    await self.get_message(message_id)  # its attachment list, before the bytes go
                expired = await self.store.expire_sources(inbox.id, cutoff)
                if expired:
                    log.info("inbox %d: dropped the source of %d message(s)", inbox.id, expired)
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.webhook_log_days)
        dropped = await self.store.webhooks.prune(cutoff)
        if dropped:
            log.info("dropped %d webhook event(s) past MAILQA_WEBHOOK_LOG_DAYS", dropped)
        await self.previews.sweep()  # the renders of the messages that went
        return pruned

    async def retention_loop(self) -> None:
        """Apply retention now and then, for the life of the server."""
        while True:
            try:
                pruned = await self.apply_retention()
                if pruned:
                    log.info("retention pruned %d message(s)", pruned)
            except Exception:
                log.exception("retention sweep failed")
            await asyncio.sleep(self.settings.retention_sweep_seconds)

    # Analysis -----------------------------------------------------------------------------

    async def analyze_job(
        self,
        message_id: int,
        uid: str | None,
        parsed: ParsedMessage | None,
        only: Collection[str] | None,
    ) -> Report | None:
        """One job of an executor that runs the checks in this process."""
        try:
            return await self.analyze(message_id, uid=uid, parsed=parsed, only=only)
        except NotFound:
            return None  # deleted before its turn

    async def analyze_in_process(
        self,
        message_id: int,
        uid: str | None,
        parsed: ParsedMessage | None,
        only: Collection[str] | None,
    ) -> None:
        """One job of the process executor: the child analyses and stores; here, the
        waiters on the inbox are woken and the metrics counted."""
        executor = self.executor
        assert isinstance(executor, ProcessBackedExecutor)
        try:
            outcome = await executor.analyze_in_process(message_id, uid, only)
        except NotFound:
            return  # deleted before its turn
        except AnalysisCrashed as exc:
            log.warning("message %d: %s", message_id, exc)
            await self._after_crash(message_id, uid, only)
            return
        except AnalysisUnavailable as exc:
            await self._report_unanalysable(message_id, uid, f"not analysed: {exc}")
            return
        self._announce(outcome)

    def _announce(self, outcome: AnalysisOutcome) -> None:
        """An analysis process stored a report: wake the inbox's waiters, count metrics."""
        if outcome.inbox_id is not None:
            self.store.changes.notify([outcome.inbox_id])
            self.store.outbox_written.set()  # its report's webhook events, if any
        if outcome.status is not None:
            self.metrics.analyses.labels(outcome.status).inc()
        for name, status, duration_ms in outcome.checks:
            self.metrics.check_duration.labels(name, status).observe(duration_ms / 1000)

    async def analyze_now(self, message_id: int, only: Collection[str] | None = None) -> Report:
        """Analyse a stored message now (``only``: just those checks) and return the stored
        report: in an analysis process when the server has them, so an on-demand analysis
        never runs the checks on the serving loop either; else here."""
        executor = self.executor
        if not isinstance(executor, ProcessBackedExecutor):
            return await self.analyze(message_id, only=only)
        row = await self.store.get_message(message_id)
        self._announce(await executor.analyze_in_process(message_id, row.uid, only))
        report = await self.store.get_report(message_id)
        if report is None:
            raise NotFound(f"message {message_id} not found")
        return report

    async def _after_crash(
        self, message_id: int, uid: str | None, only: Collection[str] | None
    ) -> None:
        """The analysis died with its process: run it again, unless its analyses were cut
        short ``analysis_max_attempts`` times already (then it is reported errored)."""
        try:
            row = await self.store.get_message(message_id)
        except NotFound:
            return
        if uid is not None and row.uid != uid:
            return
        if row.analysis_attempts >= self.settings.analysis_max_attempts:
            pending = PendingMessage(row.id, row.uid, row.analysis_attempts)
            await self.store.save_report(row.id, row.uid, await self._poisoned_report(pending))
            return
        await self.executor.submit(message_id, row.uid, None, only)

    async def _report_unanalysable(self, message_id: int, uid: str | None, reason: str) -> None:
        """Store a report whose checks are errored with ``reason`` (nothing could run them)."""
        try:
            row = await self.store.get_message(message_id)
        except NotFound:
            return
        if uid is not None and row.uid != uid:
            return
        await self.store.save_report(row.id, row.uid, self._errored_report(row, reason))

    async def analyze(
        self,
        message_id: int,
        *,
        uid: str | None = None,
        parsed: ParsedMessage | None = None,
        only: Collection[str] | None = None,
    ) -> Report:
        """Run the pipeline on a stored message and store the report.

        ``uid`` is the message's identity when the job was made: a job whose message is gone
        (deleted, whatever now holds its id) raises ``NotFound``, and the report is saved only
        onto the message analysed. With ``only``, just those checks run and replace their
        sections of the stored report.
        """
        body_parsed = True
        if parsed is None or uid is None:
            loaded = await self.load(message_id, uid)
            uid, parsed, body_parsed = loaded.uid, parsed or loaded.parsed, loaded.body_parsed
        if not await self.store.count_attempt(message_id, uid):
            raise NotFound(f"message {message_id} not found")
        if not body_parsed:  # captured with its headers only: the body's facts, now
            await self.store.save_body(message_id, uid, parsed)
        scope = project_scope(await self.store.project_of_message(message_id))
        report = await self.analyzer.run(parsed, only=only, scope=scope)
        if only:
            previous = await self.store.get_report(message_id)
            if previous is not None:
                report = previous.merged(list(report.checks.values()))
        await self.store.save_report(message_id, uid, report)
        # A render job that finished first left its axe-core audit: merged now.
        merged = with_axe(report, self.previews.manifest(message_id, uid))
        if merged is not None:
            report = merged
            await self.store.save_report(message_id, uid, report)
        self.metrics.analyses.labels(report.status.value).inc()
        for result in report.checks.values():
            self.metrics.check_duration.labels(result.name, result.status.value).observe(
                result.duration_ms / 1000
            )
        return report

    async def get_message(self, message_id: int) -> Message:
        """A stored message's row, with its body's facts (previews, sizes, attachment index):
        parsed now when its analysis has not got to it yet."""
        row = await self.store.get_message(message_id)
        if row.body_parsed or row.source_expired_at is not None:
            return row
        try:
            loaded = await self.load(message_id)
        except NotFound:  # deleted, or its source cleaned up, meanwhile
            return row
        await self.store.save_body(message_id, loaded.uid, loaded.parsed)
        return await self.store.get_message(message_id)

    async def load(self, message_id: int, uid: str | None = None) -> LoadedMessage:
        """A stored message, parsed; ``NotFound`` when it is gone or no longer ``uid``."""
        row = await self.store.get_message(message_id)
        if uid is not None and row.uid != uid:
            raise NotFound(f"message {message_id} not found")
        raw = await self.store.get_raw(message_id)
        parsed = await parse_stored(raw, envelope_of(row))
        return LoadedMessage(message_id, row.uid, parsed, row.body_parsed)

    async def load_parsed(self, message_id: int) -> ParsedMessage:
        return (await self.load(message_id)).parsed

    async def load_many(self, message_ids: Sequence[int]) -> dict[int, LoadedMessage]:
        """The messages that still exist, read in one query."""
        found = await self.store.get_messages_with_raw(message_ids)
        return {
            mid: LoadedMessage(
                mid, row.uid, await parse_stored(raw, envelope_of(row)), row.body_parsed
            )
            for mid, (row, raw) in found.items()
        }

    async def load_parsed_many(self, message_ids: Sequence[int]) -> dict[int, ParsedMessage]:
        return {mid: m.parsed for mid, m in (await self.load_many(message_ids)).items()}

    async def resume_pending(self) -> int:
        """Queue messages stored but never analysed (a crash between 250 and the report).

        A message whose analyses were cut short ``analysis_max_attempts`` times (each time the
        server died while analysing it) is not queued again: it gets a report whose checks
        are ``errored`` with the reason. ``POST .../analyze`` still runs it on demand.
        """
        pending = await self.store.pending_messages()
        limit = self.settings.analysis_max_attempts
        queued = 0
        for message in pending:
            if message.attempts >= limit:
                log.warning(
                    "message %d: %d analyses were cut short; not queued again",
                    message.id,
                    message.attempts,
                )
                await self.store.save_report(
                    message.id, message.uid, await self._poisoned_report(message)
                )
                continue
            await self.executor.submit(message.id, message.uid, None)
            queued += 1
        return queued

    async def _poisoned_report(self, message: PendingMessage) -> Report:
        reason = (
            f"not analysed: {message.attempts} analyses of this message were cut short "
            "(the server stopped while analysing it); it is not retried automatically"
        )
        # From the stored row: parsing the message again may be what keeps failing.
        try:
            row = await self.store.get_message(message.id)
        except NotFound:
            row = None
        return self._errored_report(row, reason)

    def _errored_report(self, row: Message | None, reason: str) -> Report:
        summary = MessageSummary()
        if row is not None:
            summary = MessageSummary(
                subject=row.subject,
                from_=row.from_header,
                message_id=row.message_id_header,
                size=row.size,
                has_html=row.has_html,
                has_text=row.has_text,
            )
        results = [CheckResult.errored(name, reason) for name in self.pipeline.checks]
        return Report.from_results(summary, results, rules_version=self.pipeline.rules_version)

    # Waiting ------------------------------------------------------------------------------

    # Changes are announced by the store when a write touching an inbox's mail commits
    # (captures, reports, read flags, deletes): waiters on an inbox wake only for that inbox.

    def watch(self, inbox_id: int) -> InboxWatch:
        """Changes to the inbox's mail from now on: ``await watch.changed(within)`` is True
        once it changed (changes made meanwhile coalesce into one, never lost), False when
        ``within`` seconds passed without. Use it as a context manager. Writes by other
        processes are seen through the store's shared poll, when on."""
        return self.store.changes.watch(inbox_id)

    async def wait_for_message(
        self,
        inbox_id: int,
        filters: MessageFilter,
        *,
        wait: float,
        analyzed: bool = False,
    ) -> Message | None:
        """The newest matching message, waiting up to ``wait`` seconds for one to arrive.

        Queries once, then once more per change to the inbox; idle waiting costs nothing.
        """
        deadline = time.monotonic() + max(0.0, wait)
        with self.watch(inbox_id) as watch:  # before the query: miss nothing
            while True:
                row = await self.store.latest_message(inbox_id, filters)
                if row is not None and (not analyzed or row.analysis_status == "analyzed"):
                    return row
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                await watch.changed(remaining)


@dataclass(frozen=True)
class LoadedMessage:
    """A stored message read back for analysis: its id, its identity and the parse
    (``body_parsed`` False: what the parse found of the body is not stored yet)."""

    id: int
    uid: str
    parsed: ParsedMessage
    body_parsed: bool = True


def envelope_of(row: Message) -> Envelope:
    return Envelope(
        mail_from=row.mail_from,
        rcpt_to=tuple(row.rcpt_to or ()),
        client_ip=row.client_ip,
        client_name=row.client_name,
        helo=row.helo,
        tls=row.smtp_tls,
    )


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    """The migrated database alone, for admin commands that run no checks."""
    url = settings.effective_database_url
    await asyncio.to_thread(migrate, url)
    store = Store(url)
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def open_service(
    settings: Settings, *, executor: ExecutorFactory, start_executor: bool = True
) -> AsyncIterator[Service]:
    """Migrate the database, open shared clients and the ``executor``; close them on exit.
    With the executor, the retention sweep and the webhook delivery loop run too."""
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(settings))
        analyzer = await stack.enter_async_context(open_analyzer(settings))
        service = Service(settings, store, analyzer, executor=executor)
        if start_executor:
            await service.executor.start()
            stack.push_async_callback(service.executor.stop)
            await service.previews.start()
            stack.push_async_callback(service.previews.stop)
            resumed = await service.resume_pending()
            if resumed:
                log.info("queued %d message(s) left unanalysed", resumed)
            sweeper = asyncio.create_task(service.retention_loop())
            stack.callback(sweeper.cancel)
            deliverer = Deliverer(settings, store, metrics=service.metrics)
            stack.push_async_callback(deliverer.aclose)
            delivering = asyncio.create_task(deliverer.run())
            stack.callback(delivering.cancel)
        yield service
