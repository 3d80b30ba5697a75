"""The pipeline isolates checks: one that raises, hangs or misbehaves never takes others down."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, ClassVar

from tests.support.messages import make_message

from mailqa.checks.headers import HeadersCheck
from mailqa.core import pipeline
from mailqa.core.check import Check, CheckContext
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import CheckResult, Status
from mailqa.resources import check_context
from mailqa.settings import Settings

CTX = check_context(Settings(offline=True))
MSG = ParsedMessage(make_message("pipeline"))


class Raises:
    name: ClassVar[str] = "raises"
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = False

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        raise KeyError("no such thing")


class Sleeps:
    name: ClassVar[str] = "sleeps"
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = False

    def __init__(self, seconds: float, name: str = "sleeps") -> None:
        self.seconds = seconds
        self.name = name  # type: ignore[misc]

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        await asyncio.sleep(self.seconds)
        return CheckResult(name=self.name, status=Status.PASSED, summary="slept")


class ReturnsJunk:
    name: ClassVar[str] = "junk"
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = False

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> Any:
        return {"status": "passed"}


class BlockingRaises:
    name: ClassVar[str] = "blocking"
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = False
    blocking: ClassVar[bool] = True

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        raise RuntimeError("thread trouble")


class NeedsNetwork(Sleeps):
    needs_network: ClassVar[bool] = True


async def test_failures_stay_inside_their_check() -> None:
    checks: list[Check] = [HeadersCheck(), Raises(), Sleeps(5), ReturnsJunk(), BlockingRaises()]
    report = await Pipeline(checks, timeout=0.3).run(MSG, CTX)
    got = {name: (r.status.value, r.error) for name, r in report.checks.items()}
    assert got["headers"][0] in ("passed", "warning")
    assert got["raises"] == ("errored", "KeyError: 'no such thing'")
    assert got["sleeps"][0] == "errored" and "timed out after 0.3 s" in str(got["sleeps"][1])
    assert report.checks["sleeps"].retryable
    assert got["junk"] == ("errored", "returned dict, not a CheckResult")
    assert got["blocking"] == ("errored", "RuntimeError: thread trouble")


async def test_checks_run_concurrently_and_offline_skips_network_checks() -> None:
    checks = [Sleeps(0.4, "a"), Sleeps(0.4, "b"), Sleeps(0.4, "c"), NeedsNetwork(0.4, "net")]
    started = time.perf_counter()
    report = await Pipeline(checks, timeout=5).run(MSG, CTX)
    assert time.perf_counter() - started < 1.0  # not 1.2 s in a row
    assert [report.checks[n].status.value for n in "abc"] == ["passed"] * 3
    assert report.checks["net"].status.value == "skipped"


class RecordsItsLoop:
    name: ClassVar[str] = "records-its-loop"
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = False

    def __init__(self) -> None:
        self.loops: list[asyncio.AbstractEventLoop] = []

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        self.loops.append(asyncio.get_running_loop())
        return CheckResult(name=self.name, status=Status.PASSED)


def test_worker_thread_loops_are_closed_at_exit() -> None:
    """A blocking check's thread keeps its loop; at exit the loops still open are closed
    (left to the last garbage collection they warn "Exception ignored in
    BaseEventLoop.__del__")."""
    check = RecordsItsLoop()
    worker = threading.Thread(target=pipeline._run_blocking, args=(check, MSG, CTX))
    worker.start()
    worker.join()
    (loop,) = check.loops
    assert not loop.is_closed()
    pipeline._close_thread_loops()
    assert loop.is_closed()
