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
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mailqa.audit.html import render_html
from mailqa.audit.record import AuditRecord, record_from_report, unreadable_record
from mailqa.audit.sources import Source, SourceItem, StoredInboxSource
from mailqa.audit.summary import AuditSummary, write_csv, write_json
from mailqa.checks import build_checks
from mailqa.core.check import CheckContext
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.resources import open_check_context
from mailqa.settings import Settings

RESULTS = "results.jsonl"
IN_FLIGHT_PER_JOB = 4


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
    """The pipeline and the check clients of one process, on its event loop."""

    def __init__(self, settings: Settings, options: AuditOptions) -> None:
        self.settings = settings
        self.options = options
        self.pipeline = Pipeline(build_checks(options.checks), timeout=settings.check_timeout)
        self._stack = AsyncExitStack()
        self.ctx: CheckContext | None = None

    async def open(self) -> None:
        self.ctx = await self._stack.enter_async_context(
            open_check_context(
                self.settings,
                offline=not self.options.online,
                checks=list(self.pipeline.checks),
            )
        )

    async def close(self) -> None:
        await self._stack.aclose()

    async def analyze(self, key: str, raw: bytes, message_id: int | None) -> Outcome:
        assert self.ctx is not None
        try:
            report = await self.pipeline.run(ParsedMessage(raw), self.ctx)
        except Exception as exc:  # the parser gave up: audit it as unreadable
            return Outcome(unreadable_record(key, f"{type(exc).__name__}: {exc}", message_id))
        report_json = report.model_dump_json(by_alias=True) if self.options.reports_dir else None
        return Outcome(record_from_report(key, report, message_id), report_json)


_PROCESS: tuple[asyncio.Runner, LocalAnalyzer] | None = None


def _init_process(settings_json: str, options: AuditOptions) -> None:
    """Pool initializer: Ctrl-C is the parent's business; open the checks' clients once."""
    global _PROCESS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    runner = asyncio.Runner()
    analyzer = LocalAnalyzer(Settings.model_validate_json(settings_json), options)
    runner.run(analyzer.open())
    _PROCESS = (runner, analyzer)


def _analyze_in_process(key: str, raw: bytes, message_id: int | None) -> Outcome:
    assert _PROCESS is not None
    runner, analyzer = _PROCESS
    return runner.run(analyzer.analyze(key, raw, message_id))


class PoolAnalyzer:
    def __init__(self, settings: Settings, options: AuditOptions) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=options.jobs,
            initializer=_init_process,
            initargs=(settings.model_dump_json(), options),
        )

    async def open(self) -> None:
        return None

    async def analyze(self, key: str, raw: bytes, message_id: int | None) -> Outcome:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _analyze_in_process, key, raw, message_id)

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, True, cancel_futures=True)


# Results ----------------------------------------------------------------------------------


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("_")[-180:] or "message"


class ResultSink:
    """Appends each record to ``out_dir/results.jsonl`` (when given) and to the summary.

    With ``resume``, the records already in the file are counted again and their keys skipped.
    """

    def __init__(
        self, out_dir: Path | None, *, resume: bool = False, reports_dir: Path | None = None
    ) -> None:
        self.out_dir = out_dir
        self.reports_dir = reports_dir
        self.summary = AuditSummary()
        self.done_keys: set[str] = set()
        self.resumed = 0
        self._file: IO[str] | None = None
        if reports_dir is not None:
            reports_dir.mkdir(parents=True, exist_ok=True)
        if out_dir is None:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / RESULTS
        if resume and path.exists():
            for record in self.read_records():
                self.summary.add(record)
                self.done_keys.add(record.key)
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

    def add(self, outcome: Outcome) -> None:
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

    def close(self, title: str) -> dict[str, Any]:
        """Write summary.json, messages.csv and report.html; return the summary."""
        summary = self.summary.to_dict()
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
    await analyzer.open()

    def collect(done: set[asyncio.Task[Outcome]]) -> None:
        for task in done:
            sink.add(task.result())
            progress.advance()

    try:
        for source in sources:
            async for item in source.items():
                if item.key in sink.done_keys:
                    progress.skipped += 1
                    continue
                while len(pending) >= limit:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    collect(done)
                pending.add(asyncio.create_task(_analyze_item(analyzer, item)))
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
        return Outcome(unreadable_record(item.key, item.error, item.message_id))
    return await analyzer.analyze(item.key, item.raw, item.message_id)


async def run_celery_audit(
    settings: Settings,
    source: StoredInboxSource,
    options: AuditOptions,
    sink: ResultSink,
    progress: Progress,
    *,
    poll: float = 0.5,
) -> int:
    """Fan a stored inbox out to Celery workers as a stored audit; collect its records.

    Returns the audit id (the API shows it too: ``GET /api/v1/audits/{id}``).
    """
    from mailqa.audit.store import AuditStore
    from mailqa.worker.celery_executor import CeleryExecutor

    audits = AuditStore(source.store)
    audit = await audits.create(
        source.inbox_id,
        options.checks,
        online=options.online,
        filters={"since": None, "until": None},
    )
    executor = CeleryExecutor(settings)
    await executor.start()
    try:
        await audits.update(audit.id, total=source.count(), status="running")
        sent = 0
        batch: list[int] = []
        async for message_id in source.message_ids():
            if f"message:{message_id}" in sink.done_keys:
                progress.skipped += 1
                continue
            batch.append(message_id)
            if len(batch) >= 500:
                await executor.submit_audit(audit.id, batch)
                sent, batch = sent + len(batch), []
        if batch:
            await executor.submit_audit(audit.id, batch)
            sent += len(batch)
        await audits.update(audit.id, total=sent)
        progress.total = sent
        while progress.done < sent:
            await asyncio.sleep(poll)
            count = await audits.count_results(audit.id)
            if count != progress.done:
                progress.advance(count - progress.done)
        await audits.update(audit.id, status="done")
    except asyncio.CancelledError:
        await audits.update(audit.id, status="cancelled")
        raise
    finally:
        await executor.stop()
    async for record in audits.iter_results(audit.id):
        sink.add(Outcome(record))
    return audit.id


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def dumps(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2)
