"""Run an audit: stream messages from sources through the pipeline, in this process
(``jobs=1``), in a pool of processes (``jobs>1``), or on Celery workers (stored mail).

Memory stays flat: at most a few messages per process are in flight, each result is reduced
to an ``AuditRecord`` and appended to ``results.jsonl`` at once, and the summary is counters.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from mailqa.audit.html import render_html
from mailqa.audit.record import (
    UNREADABLE,
    AuditRecord,
    message_key,
    record_from_report,
    unreadable_record,
)
from mailqa.audit.sample import WorstSample
from mailqa.audit.sources import Source, SourceItem, StoredInboxSource, filters_to_dict
from mailqa.audit.store import AuditStore
from mailqa.audit.stored import SUBMIT_BATCH, AuditStalled, wait_for_results
from mailqa.audit.summary import AuditSummary, write_csv, write_json
from mailqa.core.analysis_pool import AnalysisPool, PoolWorker
from mailqa.core.analyzer import Analyzer, AuditExecutor
from mailqa.core.message import ParsedMessage, parse_stored
from mailqa.resources import open_analyzer
from mailqa.settings import Settings

if TYPE_CHECKING:
    from mailqa.store.repository import Store

T = TypeVar("T")

RESULTS = "results.jsonl"
IN_FLIGHT_PER_JOB = 4
EARLIER_RUN = -(2**62)
"""Input positions of the records ``--resume`` reads again: before every new one."""


@dataclass
class AuditOptions:
    checks: list[str]
    jobs: int = 1
    online: bool = False
    reports_dir: Path | None = None


@dataclass
class Outcome:
    record: AuditRecord
    report_json: str | None = None


# Analysis in a process ----------------------------------------------------------------------


class LocalAnalyzer:
    """The analyzer of one process, on its event loop."""

    def __init__(self, settings: Settings, options: AuditOptions) -> None:
        self.settings = settings
        self.options = options
        self._stack = AsyncExitStack()
        self.analyzer: Analyzer | None = None

    async def open(self) -> None:
        self.analyzer = await self._stack.enter_async_context(
            open_analyzer(self.settings, self.options.checks, offline=not self.options.online)
        )

    async def close(self) -> None:
        await self._stack.aclose()

    async def analyze(self, key: str, raw: bytes, message_id: int | None) -> Outcome:
        assert self.analyzer is not None
        try:
            report = await self.analyzer.run_with_retries(await parse_stored(raw))
        except Exception as exc:  # the parser gave up: audit it as unreadable
            return Outcome(unreadable_record(key, f"{type(exc).__name__}: {exc}", message_id))
        report_json = report.model_dump_json(by_alias=True) if self.options.reports_dir else None
        return Outcome(record_from_report(key, report, message_id), report_json)


async def _open_local(
    stack: AsyncExitStack, settings_json: str, options: AuditOptions
) -> LocalAnalyzer:
    """A pool worker's analyzer: the checks' clients opened once, closed when it exits."""
    analyzer = LocalAnalyzer(Settings.model_validate_json(settings_json), options)
    await analyzer.open()
    stack.push_async_callback(analyzer.close)
    return analyzer


def _analyze_in_worker(
    worker: PoolWorker[LocalAnalyzer], key: str, raw: bytes, message_id: int | None
) -> Outcome:
    return worker.run(worker.state.analyze(key, raw, message_id))


class PoolAnalyzer:
    """Messages analysed in ``options.jobs`` processes of the shared analysis pool."""

    def __init__(self, settings: Settings, options: AuditOptions) -> None:
        self._pool = AnalysisPool(
            options.jobs,
            _open_local,
            (settings.model_dump_json(), options),
            ignore_sigint=True,
        )

    async def open(self) -> None:
        return None

    async def analyze(self, key: str, raw: bytes, message_id: int | None) -> Outcome:
        return await self._pool.run(_analyze_in_worker, key, raw, message_id)

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, cancel_futures=True)


# Results ----------------------------------------------------------------------------------


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("_")[-180:] or "message"


class ResultSink:
    """Appends each record to ``out_dir/results.jsonl`` (when given) and to the summary.

    With ``resume``, the records already in the file are counted again and their keys skipped.
    With ``sample``, that many worst-scoring messages are kept for the render sample.
    """

    def __init__(
        self,
        out_dir: Path | None,
        *,
        resume: bool = False,
        reports_dir: Path | None = None,
        sample: int = 0,
    ) -> None:
        self.out_dir = out_dir
        self.reports_dir = reports_dir
        self.summary = AuditSummary()
        self.sample = WorstSample(sample)
        self.done_keys: set[str] = set()
        self.resumed = 0
        self._arrivals = 0
        self._file: IO[str] | None = None
        if reports_dir is not None:
            reports_dir.mkdir(parents=True, exist_ok=True)
        if out_dir is None:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / RESULTS
        if resume and path.exists():
            for index, record in enumerate(self.read_records()):
                self.summary.add(record)
                self.done_keys.add(record.key)
                self.sample.offer(record, EARLIER_RUN + index)  # before this run's messages
            self.resumed = len(self.done_keys)
        self._file = path.open("a" if resume else "w", encoding="utf-8")

    def read_records(self) -> Iterator[AuditRecord]:
        assert self.out_dir is not None
        with (self.out_dir / RESULTS).open(encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        yield AuditRecord.model_validate_json(line)
                    except ValueError:
                        continue  # a line cut short by a crash

    def add(self, outcome: Outcome, position: int | None = None) -> None:
        """Count ``outcome``; ``position``: its message's place in the input (ties in the
        render sample), else the order of arrival."""
        self._arrivals += 1
        self.sample.offer(outcome.record, self._arrivals if position is None else position)
        self.summary.add(outcome.record)
        self.done_keys.add(outcome.record.key)
        if self._file is not None:
            self._file.write(outcome.record.model_dump_json(by_alias=True) + "\n")
        if self.reports_dir is not None and outcome.report_json is not None:
            path = self.reports_dir / f"{_safe_name(outcome.record.key)}.json"
            path.write_text(outcome.report_json, encoding="utf-8")

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self, title: str, render_sample: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write summary.json, messages.csv and report.html; return the summary (with the
        render sample's section, when there is one)."""
        summary = self.summary.to_dict()
        if render_sample is not None:
            summary["render_sample"] = render_sample
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.out_dir is not None:
            with (self.out_dir / "summary.json").open("w", encoding="utf-8") as f:
                write_json(summary, f)
            with (self.out_dir / "messages.csv").open("w", encoding="utf-8", newline="") as f:
                write_csv(self.read_records(), f)
            (self.out_dir / "report.html").write_text(render_html(summary, title), "utf-8")
        return summary


# Progress ---------------------------------------------------------------------------------


@dataclass
class Progress:
    """Counts and a callback the front end draws with (a rich bar or periodic lines)."""

    total: int | None = None
    done: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.monotonic)
    on_change: Callable[[Progress], None] | None = None

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.on_change:
            self.on_change(self)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0


# The loop ---------------------------------------------------------------------------------


async def run_audit(
    settings: Settings,
    sources: Sequence[Source],
    options: AuditOptions,
    sink: ResultSink,
    progress: Progress,
) -> None:
    """Audit every message of ``sources`` not already in the sink. Cancellation (Ctrl-C)
    stops at once; what finished is already in the sink."""
    analyzer: LocalAnalyzer | PoolAnalyzer
    if options.jobs > 1:
        analyzer = PoolAnalyzer(settings, options)
    else:
        analyzer = LocalAnalyzer(settings, options)
    limit = max(1, options.jobs) * IN_FLIGHT_PER_JOB
    pending: set[asyncio.Task[Outcome]] = set()
    positions: dict[asyncio.Task[Outcome], int] = {}
    position = 0
    await analyzer.open()

    def collect(done: set[asyncio.Task[Outcome]]) -> None:
        for task in done:
            sink.add(task.result(), positions.pop(task))
            progress.advance()

    try:
        for source in sources:
            async for item in source.items():
                position += 1
                if item.key in sink.done_keys:
                    progress.skipped += 1
                    continue
                while len(pending) >= limit:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    collect(done)
                task = asyncio.create_task(_analyze_item(analyzer, item))
                positions[task] = position
                pending.add(task)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            collect(done)
    finally:
        for task in pending:
            task.cancel()
        sink.flush()
        await analyzer.close()


async def _analyze_item(analyzer: LocalAnalyzer | PoolAnalyzer, item: SourceItem) -> Outcome:
    if item.error is not None:
        status = item.status or UNREADABLE
        return Outcome(unreadable_record(item.key, item.error, item.message_id, status))
    return await analyzer.analyze(item.key, item.raw, item.message_id)


IMPORT_BATCH = 200
IMPORT_PROJECT = "mailqa audits"


async def run_celery_audit(
    executor: AuditExecutor,
    store: Store,
    source: StoredInboxSource | Sequence[Source],
    options: AuditOptions,
    sink: ResultSink,
    progress: Progress,
    *,
    title: str = "audit",
    poll: float = 0.5,
    stall_timeout: float = 60.0,
) -> int:
    """Fan an audit out to Celery workers as a stored audit, and move its records into the
    sink as they arrive (Ctrl-C leaves what arrived in ``--out``).

    A stored inbox is fanned out as it is; files are first imported into a new inbox of
    their own (tasks take ids), a batch at a time, each batch queued once committed.
    Returns the audit id (the API shows it too: ``GET /api/v1/audits/{id}``). ``executor``
    publishes the tasks (``CeleryExecutor``); it is started and stopped here.
    """
    await executor.start()  # fails fast when the broker cannot be reached
    try:
        audits = AuditStore(store)
        importer: FileImporter | None = None
        if isinstance(source, StoredInboxSource):
            inbox_id, filters = source.inbox_id, filters_to_dict(source.filters)
            ids = _not_done(source, sink, progress)
        else:
            importer = await FileImporter.create(store, source, title, sink, progress)
            inbox_id, filters = importer.inbox_id, {}
            ids = importer.message_ids()
        audit = await audits.create(
            inbox_id,
            options.checks,
            online=options.online,
            filters=filters,
            executor="celery",
            imported=importer is not None,
            status="running",
        )
        collector = Collector(audits, audit.id, sink, progress, importer)
        try:
            sent = 0
            async for batch in _batches(ids, SUBMIT_BATCH):
                await executor.submit_audit(audit.id, batch)
                sent += len(batch)
                await collector.drain()
            await audits.update(audit.id, total=sent)
            await _wait(audits, executor, collector, sent, poll, stall_timeout)
            await audits.update(audit.id, status="done")
        except asyncio.CancelledError:
            await collector.drain()
            await audits.update(audit.id, status="cancelled")
            raise
        except AuditStalled as exc:
            await collector.drain()
            await audits.update(audit.id, status="failed", error=str(exc))
            raise
    finally:
        sink.flush()
        await executor.stop()
    await collector.finish()
    return audit.id


async def _wait(
    audits: AuditStore,
    executor: AuditExecutor,
    collector: Collector,
    sent: int,
    poll: float,
    stall_timeout: float,
) -> None:
    """Until every queued message has a result, moving results into the sink meanwhile."""
    await wait_for_results(
        audits,
        executor,
        collector.audit_id,
        sent,
        poll=poll,
        stall_timeout=stall_timeout,
        each_poll=collector.drain,
    )


async def _batches(items: AsyncIterator[T], size: int) -> AsyncIterator[list[T]]:
    batch: list[T] = []
    async for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _not_done(
    source: StoredInboxSource, sink: ResultSink, progress: Progress
) -> AsyncIterator[int]:
    async for message_id in source.message_ids():
        if message_key(message_id) in sink.done_keys:
            progress.skipped += 1
        else:
            yield message_id


class FileImporter:
    """Imports audited files into an inbox of their own, through the store's capture path,
    and remembers which file each message came from (results carry the file's key)."""

    def __init__(
        self,
        store: Store,
        inbox_id: int,
        sources: Sequence[Source],
        sink: ResultSink,
        progress: Progress,
    ) -> None:
        self.store = store
        self.inbox_id = inbox_id
        self.sources = sources
        self.sink = sink
        self.progress = progress
        self.keys: dict[int, str] = {}

    @classmethod
    async def create(
        cls,
        store: Store,
        sources: Sequence[Source],
        title: str,
        sink: ResultSink,
        progress: Progress,
    ) -> FileImporter:
        projects = [p for p in await store.list_projects() if p.name == IMPORT_PROJECT]
        project = projects[0] if projects else await store.create_project(IMPORT_PROJECT)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        inbox = await store.create_inbox(project.id, f"{stamp} {title}"[:200], 2**62)
        return cls(store, inbox.id, sources, sink, progress)

    async def message_ids(self) -> AsyncIterator[int]:
        """Store the files not audited yet, a batch at a time; yield the stored ids."""
        async for batch in _batches(self._to_import(), IMPORT_BATCH):
            for message_id in await self._store(batch):
                yield message_id

    async def _to_import(self) -> AsyncIterator[SourceItem]:
        """The files not audited yet; an unreadable one is recorded at once."""
        for source in self.sources:
            async for item in source.items():
                if item.key in self.sink.done_keys:
                    self.progress.skipped += 1
                elif item.error is not None:
                    self._unreadable(item.key, item.error)
                else:
                    yield item

    async def _store(self, items: list[SourceItem]) -> list[int]:
        """One group commit for the batch; a file the store refuses is audited as unreadable."""
        stored = await asyncio.gather(*(self._insert(i.raw) for i in items), return_exceptions=True)
        ids = []
        for item, result in zip(items, stored, strict=True):
            if isinstance(result, BaseException):
                self._unreadable(item.key, f"{type(result).__name__}: {result}")
            else:
                self.keys[result] = item.key
                ids.append(result)
        return ids

    async def _insert(self, raw: bytes) -> int:
        return (await self.store.insert_message(self.inbox_id, ParsedMessage(raw))).id

    def _unreadable(self, key: str, error: str) -> None:
        self.sink.add(Outcome(unreadable_record(key, error)))
        self.progress.advance()


class Collector:
    """Moves the records of a stored audit into the sink as they arrive, under the keys of
    the files they came from (imported mail), with the full report when asked for."""

    def __init__(
        self,
        audits: AuditStore,
        audit_id: int,
        sink: ResultSink,
        progress: Progress,
        importer: FileImporter | None,
    ) -> None:
        self.audits = audits
        self.audit_id = audit_id
        self.sink = sink
        self.progress = progress
        self.importer = importer
        self._after = 0
        self._seen = 0  # rows read in id order, each once

    async def drain(self, *, everything: bool = False) -> None:
        """The records stored since the last call; with ``everything``, every record not in
        the sink yet (rows of concurrent chunks may commit out of id order)."""
        after = 0 if everything else self._after
        while rows := await self.audits.results_after(self.audit_id, after):
            for _, record in rows:
                await self._add(record)
            after = rows[-1][0]
            self._after = max(self._after, after)
            if not everything:
                self._seen += len(rows)
            self.sink.flush()  # in --out now, whatever happens next

    async def finish(self) -> None:
        """The last records; every record read again only when a row committed after a
        later one was read, and so was passed over."""
        await self.drain()
        if self._seen < await self.audits.count_results(self.audit_id):
            await self.drain(everything=True)

    async def _add(self, record: AuditRecord) -> None:
        if self.importer is not None and record.message_id is not None:
            key = self.importer.keys.get(record.message_id, record.key)
            record = record.model_copy(update={"key": key})
        if record.key in self.sink.done_keys:
            return
        report_json = None
        if self.importer is not None and self.sink.reports_dir is not None:
            assert record.message_id is not None
            report = await self.importer.store.get_report(record.message_id)
            report_json = report.model_dump_json(by_alias=True) if report else None
        self.sink.add(Outcome(record, report_json))
        self.progress.advance()


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def dumps(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2)
