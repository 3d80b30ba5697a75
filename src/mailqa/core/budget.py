"""CPU budgets for check work, enforced where the work is done.

A thread cannot be stopped from outside, so CPU-heavy loops (the HTML tokenizer, the CSS
walk, link extraction) call ``checkpoint()`` every few hundred steps. Inside a budgeted
call (``run_budgeted``, or ``in_thread`` from a coroutine) it raises ``CpuBudgetExceeded``
once the call's thread has used the budget's CPU seconds, or once the pipeline gave up on
the check (its wall-clock timeout): an abandoned thread stops at its next checkpoint instead
of burning a core to the end. Outside a budgeted call it costs one lookup and does nothing.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from mailqa.core.errors import CheckError

P = ParamSpec("P")
T = TypeVar("T")


class CpuBudgetExceeded(CheckError):
    """The work used more CPU time than its budget, or was abandoned."""


class CpuBudget:
    """CPU seconds one check may use, summed over every budgeted call it makes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.spent = 0.0
        self.abandoned = False

    def abandon(self) -> None:
        """Stop the work at its next checkpoint (its result is no longer wanted)."""
        self.abandoned = True


_current: ContextVar[CpuBudget | None] = ContextVar("mailqa_cpu_budget", default=None)
_running = threading.local()  # (budget, thread CPU time when the budgeted call started)


@contextmanager
def budget_scope(budget: CpuBudget) -> Iterator[None]:
    """Make ``budget`` the one that ``in_thread`` calls of this task (and its copies) use."""
    token = _current.set(budget)
    try:
        yield
    finally:
        _current.reset(token)


def run_budgeted(budget: CpuBudget | None, fn: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
    """Call ``fn`` on this thread, its checkpoints counting against ``budget``."""
    if budget is None:
        return fn(*args, **kw)
    outer = getattr(_running, "state", None)
    started = time.thread_time()
    _running.state = (budget, started - budget.spent)
    try:
        return fn(*args, **kw)
    finally:
        budget.spent += time.thread_time() - started
        _running.state = outer


async def in_thread(fn: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
    """Run CPU-bound ``fn`` in a worker thread under the current check's budget, so the
    event loop stays live and the work stops when the budget is spent."""
    budget = _current.get()
    return await asyncio.to_thread(run_budgeted, budget, functools.partial(fn, *args, **kw))


def checkpoint() -> None:
    """Raise ``CpuBudgetExceeded`` when the budgeted call running here is over budget."""
    state = getattr(_running, "state", None)
    if state is None:
        return
    budget, origin = state
    if budget.abandoned:
        raise CpuBudgetExceeded("stopped: the check ran past its time limit")
    if time.thread_time() - origin > budget.seconds:
        raise CpuBudgetExceeded(f"used more than {budget.seconds:g} s of CPU time; stopped")
