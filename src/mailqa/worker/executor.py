"""Analyses queued in the serving process and drained by a few asyncio tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from mailqa.core.message import ParsedMessage

log = logging.getLogger(__name__)

AnalyzeFn = Callable[
    [int, str | None, ParsedMessage | None, Collection[str] | None], Awaitable[object]
]


@dataclass(frozen=True)
class Job:
    """One analysis to run: the message's id and identity (``uid``: the result is saved
    only onto that very message), and its parse when it is at hand."""

    message_id: int
    uid: str | None = None
    parsed: ParsedMessage | None = None
    only: tuple[str, ...] | None = None


class InlineExecutor:
    """A queue drained by a few tasks in the serving process.

    The parsed message rides along while the queue is short, so the message is not parsed
    twice; past ``keep_parsed`` queued jobs only the id is kept and the worker re-reads it.
    """

    def __init__(self, analyze: AnalyzeFn, concurrency: int = 4, keep_parsed: int = 200) -> None:
        self._analyze = analyze
        self._concurrency = max(1, concurrency)
        self._keep_parsed = keep_parsed
        self._queue: asyncio.Queue[Job | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._backlog = 0

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._concurrency)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def submit(
        self,
        message_id: int,
        uid: str | None = None,
        parsed: ParsedMessage | None = None,
        only: Collection[str] | None = None,
    ) -> None:
        if self._queue.qsize() >= self._keep_parsed:
            parsed = None
        self._queue.put_nowait(Job(message_id, uid, parsed, tuple(only) if only else None))
        self._backlog += 1

    async def join(self) -> None:
        """Wait until every queued job has finished (tests, CLI)."""
        await self._queue.join()

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    @property
    def backlog(self) -> int:
        """Jobs submitted and not finished: queued, or being analysed."""
        return self._backlog

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                if job is not None:
                    await self._analyze(job.message_id, job.uid, job.parsed, job.only)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("analysis of message %s failed", job.message_id if job else "?")
            finally:
                self._backlog -= 1
                self._queue.task_done()
