"""Checks used only by the scale-out tests, loaded into the worker subprocess.

``slow`` blocks on its first run for a message whose subject says [slow] (the test kills the
worker then); ``flaky`` fails transiently twice for [flaky] messages. Both count their runs
in files, so a test can tell which checks ran how often and in which process.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import ClassVar

from mailqa.core.check import CheckContext
from mailqa.core.errors import TransientCheckError
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Status

MARKERS = Path(os.environ.get("MAILQA_TEST_MARKERS", "/tmp"))


def _token(msg: ParsedMessage) -> str:
    return (msg.message_id or "none").strip("<>").replace("@", "_").replace("/", "_")


def _count_run(name: str, msg: ParsedMessage) -> int:
    path = MARKERS / f"{name}-{_token(msg)}.runs"
    with path.open("a") as f:
        f.write(f"{os.getpid()}\n")
    return len(path.read_text().splitlines())


class SlowCheck:
    name: ClassVar[str] = "slow"
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = False

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        runs = _count_run(self.name, msg)
        if "[slow]" in (msg.subject or "") and runs == 1:
            (MARKERS / f"slow-{_token(msg)}.started").write_text(str(os.getpid()))
            await asyncio.sleep(25)  # the test kills this process meanwhile
        return CheckResult(
            name=self.name, status=Status.PASSED, details={"pid": os.getpid(), "runs": runs}
        )


class FlakyCheck:
    name: ClassVar[str] = "flaky"
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = False

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        runs = _count_run(self.name, msg)
        if "[flaky]" in (msg.subject or "") and runs < 3:
            raise TransientCheckError(f"daemon unavailable (attempt {runs})")
        return CheckResult(name=self.name, status=Status.PASSED, details={"runs": runs})


def install() -> None:
    from mailqa.checks import BUILTIN_CHECKS

    BUILTIN_CHECKS["slow"] = SlowCheck
    BUILTIN_CHECKS["flaky"] = FlakyCheck


def uninstall() -> None:
    from mailqa.checks import BUILTIN_CHECKS

    BUILTIN_CHECKS.pop("slow", None)
    BUILTIN_CHECKS.pop("flaky", None)
