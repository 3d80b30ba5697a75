"""Analyses in child processes of the server.

The checks' CPU work (tokenizing 25 MB of HTML, walking its CSS, scanning its links) then
shares neither the serving process's event loop nor its GIL: one costly message cannot stall
SMTP capture or the API, however the work inside a check is written.

Each child opens its own store and analyzer once (the server's managed spamd is shared: the
children connect to it) and runs several analyses at a time on its own event loop. The server
sends it ``(job id, message id, uid, only)`` and gets back a small outcome; the child reads
the message, parses it, runs the checks and saves the report itself, onto that very message.
A child that dies (killed, out of memory) is started again; what it was analysing is reported
as ``crashed`` to the caller, which decides about retrying (the attempt is counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from mailqa.core.analyzer import AnalysisOutcome
from mailqa.core.errors import (
    AnalysisCrashed,
    AnalysisUnavailable,
    MailqaError,
    NotFound,
    SourceExpired,
)
from mailqa.settings import Settings
from mailqa.worker.executor import AnalyzeFn, InlineExecutor

log = logging.getLogger(__name__)

READY = "ready"
STOP_GRACE_SECONDS = 5.0
NICENESS = 10
"""Analysis processes run at a lower CPU priority: under load, capture and the API (the
serving process) get the CPU first, and analysis catches up afterwards."""


START_ATTEMPTS = 3
"""Starts of an analysis process in a row that may fail before analysis is given up."""


@dataclass
class _Child:
    process: BaseProcess
    conn: Connection
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    inflight: dict[int, asyncio.Future[AnalysisOutcome]] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None
    stopping: bool = False


class AnalysisProcesses:
    """A fixed number of analysis processes, each running up to ``per_process`` analyses."""

    def __init__(
        self,
        settings: Settings,
        processes: int,
        per_process: int,
        *,
        spamd_unavailable: str | None = None,
    ) -> None:
        self.settings = settings
        self.size = max(1, processes)
        self.per_process = max(1, per_process)
        self._spamd_unavailable = spamd_unavailable
        self._context = multiprocessing.get_context("spawn")
        self._children: list[_Child | None] = [None] * self.size
        self._ids = itertools.count(1)
        self._free = asyncio.Condition()
        self._stopped = False
        self._failed_starts = [0] * self.size
        self.unavailable: str | None = None
        # One thread per child waits on its pipe: not the loop's default pool, which the
        # store and the checks need.
        self._readers = ThreadPoolExecutor(self.size, thread_name_prefix="analysis-pipe")

    async def start(self) -> None:
        """Nothing yet: the processes start with the first analysis (a server, or a command,
        that analyses nothing never pays for them)."""

    def _start_children(self) -> None:
        for slot in range(self.size):
            if self._children[slot] is None:
                self._spawn(slot)

    def _spawn(self, slot: int) -> None:
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=child_main,
            args=(self.settings.model_dump_json(), child_end, self.per_process),
            kwargs={"spamd_unavailable": self._spamd_unavailable},
            name=f"mailqa-analysis-{slot}",
            daemon=True,
        )
        process.start()
        child_end.close()
        child = _Child(process, parent_end)
        child.reader = asyncio.create_task(self._read(slot, child))
        self._children[slot] = child

    @property
    def under_way(self) -> int:
        """Analyses sent to a child and not answered yet."""
        return sum(len(c.inflight) for c in self._children if c is not None)

    @property
    def pids(self) -> list[int]:
        return [c.process.pid for c in self._children if c is not None and c.process.pid]

    async def analyze(
        self, message_id: int, uid: str | None, only: Collection[str] | None
    ) -> AnalysisOutcome:
        """Analyse and store one message in a child; ``NotFound`` when it is gone,
        ``AnalysisCrashed`` when the child died meanwhile."""
        child = await self._pick()
        job_id = next(self._ids)
        future: asyncio.Future[AnalysisOutcome] = asyncio.get_running_loop().create_future()
        child.inflight[job_id] = future
        try:
            child.conn.send((job_id, message_id, uid, tuple(only) if only else None))
        except OSError as exc:
            child.inflight.pop(job_id, None)
            raise AnalysisCrashed(f"the analysis process is gone: {exc}") from exc
        try:
            return await future
        finally:
            child.inflight.pop(job_id, None)
            async with self._free:
                self._free.notify()

    async def _pick(self) -> _Child:
        """The ready child with the fewest analyses under way, waiting for room."""
        if not self._stopped:
            self._start_children()
        async with self._free:
            while True:
                if self._stopped:
                    raise AnalysisCrashed("the analysis processes are stopping")
                if self.unavailable is not None:
                    raise AnalysisUnavailable(self.unavailable)
                ready = [
                    c
                    for c in self._children
                    if c is not None and c.ready.is_set() and len(c.inflight) < self.per_process
                ]
                if ready:
                    return min(ready, key=lambda c: len(c.inflight))
                await self._free.wait()

    async def _read(self, slot: int, child: _Child) -> None:
        """Outcomes from one child until it exits; then fail what it had and start another."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    message = await loop.run_in_executor(self._readers, child.conn.recv)
                except (EOFError, OSError):
                    break
                if message == READY:
                    child.ready.set()
                    async with self._free:
                        self._free.notify_all()
                    continue
                job_id, kind, payload = message
                future = child.inflight.get(job_id)
                if future is None or future.done():
                    continue
                if kind == "ok":
                    future.set_result(payload)
                elif kind == "expired":
                    future.set_exception(SourceExpired(payload))
                elif kind == "gone":
                    future.set_exception(NotFound(payload))
                else:
                    future.set_exception(MailqaError(payload))
        except asyncio.CancelledError:
            # The loop is closing without ``stop`` (its caller was cancelled): start nothing
            # and wait for nothing; the daemon child ends with this process.
            child.stopping = True
            for future in child.inflight.values():
                future.cancel()
            raise
        await self._after_exit(slot, child)

    async def _after_exit(self, slot: int, child: _Child) -> None:
        """A child's pipe has closed: fail what it had, and start another unless stopping."""
        await asyncio.to_thread(child.process.join, 1.0)
        code = child.process.exitcode
        for future in child.inflight.values():
            if not future.done():
                future.set_exception(AnalysisCrashed(f"the analysis process exited (code {code})"))
        child.conn.close()
        started = child.ready.is_set()
        self._failed_starts[slot] = 0 if started else self._failed_starts[slot] + 1
        if self._stopped or child.stopping:
            pass
        elif self._failed_starts[slot] >= START_ATTEMPTS:
            self.unavailable = (
                f"the analysis processes do not start (exit code {code}, "
                f"{START_ATTEMPTS} times in a row; the server log says why)"
            )
            log.error("%s: analyses are reported errored", self.unavailable)
        else:
            log.warning("analysis process %s exited with code %s; restarting", slot, code)
            self._spawn(slot)
        async with self._free:
            self._free.notify_all()

    async def stop(self) -> None:
        self._stopped = True
        async with self._free:
            self._free.notify_all()
        children = [c for c in self._children if c is not None]
        for child in children:
            child.stopping = True
            if not child.ready.is_set():  # still starting: nothing under way to finish
                child.process.kill()
                continue
            with contextlib.suppress(OSError):
                child.conn.send(None)
        for child in children:
            await asyncio.to_thread(child.process.join, STOP_GRACE_SECONDS)
            if child.process.is_alive():
                child.process.kill()
                await asyncio.to_thread(child.process.join, STOP_GRACE_SECONDS)
        readers = [c.reader for c in children if c.reader is not None]
        await asyncio.gather(*readers, return_exceptions=True)
        self._readers.shutdown(wait=False)


# The child ------------------------------------------------------------------------------------


def child_settings(settings: Settings, spamd_url: str | None) -> Settings:
    """The server's settings as a child uses them: no analysis processes of its own, and the
    server's spamd (a managed one included) instead of starting another."""
    update: dict[str, Any] = {"analysis_processes": 0}
    if spamd_url is not None:
        update.update(spamd_url=spamd_url, spamd_managed="off")
    elif settings.spamd_url is None:
        update["spamd_managed"] = "off"
    return settings.model_copy(update=update)


def child_main(
    settings_json: str, conn: Connection, per_process: int, spamd_unavailable: str | None = None
) -> None:
    """Entry point of an analysis process."""
    # Ctrl-C, and a SIGTERM sent to the whole process group (systemd, docker stop), are the
    # server's to handle: it stops its children in order (and kills one that does not stop).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    logging.basicConfig(
        level=logging.WARNING,
        format=f"%(asctime)s analysis[{os.getpid()}] %(levelname)s %(name)s: %(message)s",
    )
    settings = Settings.model_validate_json(settings_json)
    asyncio.run(_serve(settings, conn, per_process, spamd_unavailable))


async def _serve(
    settings: Settings, conn: Connection, per_process: int, spamd_unavailable: str | None
) -> None:
    from mailqa.service import open_service  # the child's own service: store and analyzer

    # The child's service never queues an analysis of its own: its executor is not started.
    async with open_service(
        settings, executor=lambda service: InlineExecutor(service.analyze_job), start_executor=False
    ) as service:
        if spamd_unavailable is not None and service.analyzer.ctx.spamd is None:
            service.analyzer.ctx.extras["spamd_unavailable"] = spamd_unavailable
        conn.send(READY)
        running: set[asyncio.Task[None]] = set()
        limit = asyncio.Semaphore(per_process)

        async def run(job_id: int, message_id: int, uid: str | None, only: Any) -> None:
            async with limit:
                try:
                    report = await service.analyze(message_id, uid=uid, only=only)
                    inbox = (await service.store.get_message(message_id)).inbox_id
                except SourceExpired as exc:
                    conn.send((job_id, "expired", str(exc)))
                    return
                except NotFound as exc:
                    conn.send((job_id, "gone", str(exc)))
                    return
                except Exception as exc:
                    log.exception("analysis of message %s failed", message_id)
                    conn.send((job_id, "error", f"{type(exc).__name__}: {exc}"))
                    return
                checks = tuple(
                    (r.name, r.status.value, r.duration_ms) for r in report.checks.values()
                )
                conn.send((job_id, "ok", AnalysisOutcome(inbox, report.status.value, checks)))

        loop = asyncio.get_running_loop()
        pipe = ThreadPoolExecutor(1, thread_name_prefix="analysis-pipe")
        while True:
            try:
                job = await loop.run_in_executor(pipe, conn.recv)
            except (EOFError, OSError):
                break
            if job is None:
                break
            task = asyncio.create_task(run(*job))
            running.add(task)
            task.add_done_callback(running.discard)
        pipe.shutdown(wait=False)
        if running:
            await asyncio.wait(running, timeout=STOP_GRACE_SECONDS)


class ProcessExecutor(InlineExecutor):
    """The inline executor's queue, drained into analysis processes."""

    def __init__(self, analyze: AnalyzeFn, processes: AnalysisProcesses, concurrency: int) -> None:
        super().__init__(analyze, concurrency=concurrency)
        self.processes = processes

    async def start(self) -> None:
        await self.processes.start()
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        await self.processes.stop()

    async def analyze_in_process(
        self, message_id: int, uid: str | None, only: Collection[str] | None
    ) -> AnalysisOutcome:
        return await self.processes.analyze(message_id, uid, only)
