"""Run checks concurrently on one parsed message and assemble the report."""

from __future__ import annotations

import asyncio
import atexit
import threading
import time
import weakref
from collections.abc import Collection, Sequence

from mailqa.core.budget import CpuBudget, CpuBudgetExceeded, budget_scope, in_thread, run_budgeted
from mailqa.core.check import Check, CheckContext
from mailqa.core.errors import TransientCheckError
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, MessageSummary, Report


def summarize(msg: ParsedMessage) -> MessageSummary:
    return MessageSummary(
        subject=msg.subject,
        from_=msg.from_,
        to=list(msg.to),
        date=msg.date,
        message_id=msg.message_id,
        size=len(msg.raw),
        has_html=msg.html is not None,
        has_text=msg.text is not None,
        attachments=len(msg.attachments),
        parse_defects=list(msg.defects),
    )


_thread_state = threading.local()
# The worker threads' loops still open, closed at exit (see _close_thread_loops).
_thread_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def _run_blocking(check: Check, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
    """Run a blocking check on this worker thread's own event loop.

    The loop is made once per thread and reused: ``asyncio.run`` per call spent more time
    creating and closing loops than most checks spend checking.
    """
    loop: asyncio.AbstractEventLoop | None = getattr(_thread_state, "loop", None)
    if loop is None or loop.is_closed():
        loop = _thread_state.loop = asyncio.new_event_loop()
        _thread_loops.add(loop)
    return loop.run_until_complete(check.run(msg, ctx))


@atexit.register
def _close_thread_loops() -> None:
    """Close the loops of finished worker threads that the garbage collector has not got to
    yet. Left to the interpreter's last collection, a loop can be closed after the socket
    it wakes itself with, which prints "Exception ignored in BaseEventLoop.__del__"."""
    for loop in list(_thread_loops):
        if not loop.is_running() and not loop.is_closed():
            loop.close()


def prepare(msg: ParsedMessage) -> None:
    """Work out what several checks read (the HTML scan, the preview, the sending IP)
    up front, in a thread, so none of it runs on the event loop."""
    if msg.html is not None:
        _ = msg.html_document.scan
    _ = msg.preview_text, msg.from_address, msg.sending_ip


class Pipeline:
    """A fixed set of checks. ``run`` never raises because of a check."""

    def __init__(
        self,
        checks: Sequence[Check],
        *,
        timeout: float = 30.0,
        cpu_seconds: float | None = None,
        rules_version: str | None = None,
    ) -> None:
        self.checks = {c.name: c for c in checks}
        self.timeout = timeout
        self.cpu_seconds = timeout if cpu_seconds is None else cpu_seconds
        self.rules_version = rules_version

    async def run(
        self, msg: ParsedMessage, ctx: CheckContext, only: Collection[str] | None = None
    ) -> Report:
        started = time.perf_counter()
        results = await self.run_checks(msg, ctx, only)
        return Report.from_results(
            summarize(msg),
            results,
            rules_version=self.rules_version,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    async def run_checks(
        self, msg: ParsedMessage, ctx: CheckContext, only: Collection[str] | None = None
    ) -> list[CheckResult]:
        names = list(self.checks) if only is None else [n for n in self.checks if n in only]
        shared = CpuBudget(self.cpu_seconds)
        try:
            await asyncio.wait_for(
                asyncio.to_thread(run_budgeted, shared, prepare, msg), self.timeout
            )
        except TimeoutError:
            shared.abandon()
            reason = f"timed out after {self.timeout:g} s"
            return [CheckResult.errored(n, reason, retryable=True) for n in names]
        except CpuBudgetExceeded as exc:
            reason = f"the message is too costly to analyse: {exc}"
            return [CheckResult.errored(n, reason) for n in names]
        return list(await asyncio.gather(*(self._run_one(self.checks[n], msg, ctx) for n in names)))

    async def _run_one(self, check: Check, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        started = time.perf_counter()
        if check.needs_network and ctx.offline:
            result = CheckResult.skipped(check.name, "offline mode: this check needs the network")
        else:
            budget = CpuBudget(self.cpu_seconds)
            try:
                with budget_scope(budget):
                    if getattr(check, "blocking", False):
                        # CPU-bound: in a thread so the event loop (SMTP, API) stays live.
                        coro = in_thread(_run_blocking, check, msg, ctx)
                        result = await asyncio.wait_for(coro, self.timeout)
                    else:
                        result = await asyncio.wait_for(check.run(msg, ctx), self.timeout)
            except TimeoutError:
                budget.abandon()  # a thread still at it stops at its next checkpoint
                result = CheckResult.errored(
                    check.name, f"timed out after {self.timeout:g} s", retryable=True
                )
            except CpuBudgetExceeded as exc:
                result = CheckResult.errored(check.name, str(exc))
            except TransientCheckError as exc:
                result = CheckResult.errored(check.name, str(exc), retryable=True)
            except Exception as exc:
                result = CheckResult.errored(check.name, f"{type(exc).__name__}: {exc}")
            if not isinstance(result, CheckResult):
                result = CheckResult.errored(
                    check.name, f"returned {type(result).__name__}, not a CheckResult"
                )
        if result.name != check.name:
            result = result.model_copy(update={"name": check.name})
        duration = round((time.perf_counter() - started) * 1000, 2)
        return result.model_copy(update={"duration_ms": duration})
