"""The process pool of batch runs (``mailqa check`` over many files, audits of many messages).

Each worker opens its state once (an analyzer and the clients its checks use) on an event
loop of its own, runs every job on that loop, and closes the state when it exits. Openers
and jobs are module-level functions (they are pickled to the workers)::

    async def open_state(stack: AsyncExitStack, settings_json: str) -> Analyzer: ...
    def analyse(worker: PoolWorker[Analyzer], raw: bytes) -> Report:
        return worker.run(worker.state.run(raw))

    with AnalysisPool(2, open_state, (settings_json,)) as pool:
        reports = list(pool.map(analyse, messages))
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from multiprocessing.util import Finalize
from types import TracebackType
from typing import Any, Generic, TypeVar

StateT = TypeVar("StateT")
ResultT = TypeVar("ResultT")


@dataclass
class PoolWorker(Generic[StateT]):
    """One worker's event loop and the state it opened on it."""

    runner: asyncio.Runner
    state: StateT

    def run(self, job: Coroutine[Any, Any, ResultT]) -> ResultT:
        """Run ``job`` on the worker's loop. Not ``Runner.run``: that installs a SIGINT
        handler per call, and restoring the previous one formats the finished task with
        ``repr`` (of the whole result), which costs more than some checks take."""
        return self.runner.get_loop().run_until_complete(job)


_worker: PoolWorker[Any] | None = None


def _start(
    opener: Callable[..., Coroutine[Any, Any, object]], args: tuple[Any, ...], ignore_sigint: bool
) -> None:
    global _worker
    if ignore_sigint:  # Ctrl-C is the parent's business
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    runner = asyncio.Runner()
    stack = AsyncExitStack()
    _worker = PoolWorker(runner, runner.run(opener(stack, *args)))

    def close() -> None:  # when the worker exits: the clients' connections, for one
        try:
            runner.run(stack.aclose())
        finally:
            runner.close()

    Finalize(None, close, exitpriority=10)


def _call(job: Callable[..., ResultT], *args: Any) -> ResultT:
    assert _worker is not None, "pool worker not started"
    return job(_worker, *args)


class AnalysisPool:
    """``workers`` processes, each with the state ``opener(stack, *args)`` opened once;
    ``start_method`` is the multiprocessing one (``fork`` shares what the parent loaded)."""

    def __init__(
        self,
        workers: int,
        opener: Callable[..., Coroutine[Any, Any, object]],
        args: tuple[Any, ...] = (),
        *,
        start_method: str | None = None,
        ignore_sigint: bool = False,
    ) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=get_context(start_method) if start_method else None,
            initializer=_start,
            initargs=(opener, args, ignore_sigint),
        )

    def submit(self, job: Callable[..., ResultT], *args: Any) -> Future[ResultT]:
        """Run ``job(worker, *args)`` in a worker."""
        return self._pool.submit(_call, job, *args)

    async def run(self, job: Callable[..., ResultT], *args: Any) -> ResultT:
        """``submit``, awaited on the running loop."""
        return await asyncio.wrap_future(self.submit(job, *args))

    def map(self, job: Callable[..., ResultT], items: Iterable[object]) -> Iterator[ResultT]:
        """``job(worker, item)`` for each item, results in input order as they come."""
        return self._pool.map(partial(_call, job), items, chunksize=1)

    def shutdown(self, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel_futures)

    def __enter__(self) -> AnalysisPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown(cancel_futures=exc is not None)
