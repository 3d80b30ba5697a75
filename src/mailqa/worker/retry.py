"""Retries of transient check failures (spamd down, DNS timeout): only the failed checks run
again, after an exponential backoff with jitter.

The analysis task retries through Celery (the partial report is stored in between); audits
retry in place (their partial reports are not stored anywhere), with the same rules.
"""

from __future__ import annotations

import asyncio
import random

from mailqa.core.check import CheckContext
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import Report, Status


def retryable_failures(report: Report, only: list[str] | None = None) -> list[str]:
    """Checks that errored for a reason that may pass (spamd down, DNS timeout)."""
    return sorted(
        name
        for name, result in report.checks.items()
        if result.status == Status.ERRORED and result.retryable and (not only or name in only)
    )


def backoff(base: float, retries: int) -> float:
    """Exponential, with jitter so retries of a burst do not arrive together."""
    delay = base * (2**retries)
    return float(round(delay * random.uniform(0.75, 1.25), 2))


async def run_with_retries(
    pipeline: Pipeline, msg: ParsedMessage, ctx: CheckContext, *, retries: int, base: float
) -> Report:
    """The pipeline's report, with transient failures re-run (alone) up to ``retries`` times."""
    report = await pipeline.run(msg, ctx)
    for attempt in range(retries):
        failed = retryable_failures(report)
        if not failed:
            break
        await asyncio.sleep(backoff(base, attempt))
        report = report.merged(await pipeline.run_checks(msg, ctx, failed))
    return report
