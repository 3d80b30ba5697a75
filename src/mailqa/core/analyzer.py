"""What every runner of analyses shares: the pipeline, the check context it runs with, and the
retry policy for transient failures; and the protocol of the executors that queue analyses.

The server (inline or in analysis processes), the Celery worker, both audit runners and the
CLI open one ``Analyzer`` through ``mailqa.resources.open_analyzer`` and call it; none of
them builds a pipeline or a check context of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mailqa.core.check import Check, CheckContext
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import Report, Status


def project_scope(project_id: int) -> str:
    """The cache scope of a project's mail: what checks cache (link results) is reused only
    for that project's mail, never shown to another project."""
    return f"project:{project_id}"


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of transient check failures (spamd down, DNS timeout): only the failed checks
    run again, after an exponential backoff with jitter."""

    retries: int = 0
    base_delay: float = 2.0

    def backoff(self, attempt: int) -> float:
        """Exponential, with jitter so retries of a burst do not arrive together."""
        delay = self.base_delay * (2**attempt)
        return float(round(delay * random.uniform(0.75, 1.25), 2))

    @staticmethod
    def retryable_failures(report: Report, only: Collection[str] | None = None) -> list[str]:
        """Checks that errored for a reason that may pass (spamd down, DNS timeout)."""
        return sorted(
            name
            for name, result in report.checks.items()
            if result.status == Status.ERRORED and result.retryable and (not only or name in only)
        )


class Analyzer:
    """A pipeline with its check context and retry policy, open for the life of a process."""

    def __init__(
        self,
        pipeline: Pipeline,
        ctx: CheckContext,
        retry: RetryPolicy | None = None,
        build: CheckBuilder | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.ctx = ctx
        self.retry = retry or RetryPolicy()
        self._build = build
        self._variants: dict[tuple[str, ...], Analyzer] = {}

    @property
    def rules_version(self) -> str | None:
        return self.pipeline.rules_version

    @property
    def check_names(self) -> list[str]:
        return list(self.pipeline.checks)

    def context(self, *, scope: str | None = None, offline: bool | None = None) -> CheckContext:
        """The shared context for one message: what checks cache (link results) is reused
        only within ``scope`` (a project), and ``offline`` turns the network checks off."""
        ctx = self.ctx
        if scope is not None:
            ctx = dataclasses.replace(ctx, scope=scope)
        if offline:
            ctx = dataclasses.replace(ctx, offline=True)
        return ctx

    def for_checks(self, names: Sequence[str]) -> Analyzer:
        """An analyzer running just ``names`` (an audit's checks) on the same clients."""
        key = tuple(names)
        if key == tuple(self.pipeline.checks):
            return self
        if key not in self._variants:
            if self._build is None:
                raise ValueError("this analyzer cannot build other checks")
            pipeline = Pipeline(
                self._build(list(key)),
                timeout=self.pipeline.timeout,
                cpu_seconds=self.pipeline.cpu_seconds,
                rules_version=self.pipeline.rules_version,
            )
            self._variants[key] = Analyzer(pipeline, self.ctx, self.retry, self._build)
        return self._variants[key]

    async def run(
        self,
        msg: ParsedMessage,
        *,
        only: Collection[str] | None = None,
        scope: str | None = None,
        offline: bool | None = None,
    ) -> Report:
        """One pass of the pipeline (``only``: just those checks)."""
        return await self.pipeline.run(msg, self.context(scope=scope, offline=offline), only=only)

    async def run_with_retries(
        self, msg: ParsedMessage, *, scope: str | None = None, offline: bool | None = None
    ) -> Report:
        """The report, with transient failures re-run (alone) as the retry policy says.

        For runs whose partial reports are stored nowhere (audits, the CLI); the Celery task
        retries through Celery instead, storing the partial report in between."""
        ctx = self.context(scope=scope, offline=offline)
        report = await self.pipeline.run(msg, ctx)
        for attempt in range(self.retry.retries):
            failed = self.retry.retryable_failures(report)
            if not failed:
                break
            await asyncio.sleep(self.retry.backoff(attempt))
            report = report.merged(await self.pipeline.run_checks(msg, ctx, failed))
        return report


class CheckBuilder(Protocol):
    def __call__(self, names: Sequence[str], /) -> Sequence[Check]: ...


class Executor(Protocol):
    """Where a server's analyses run: queued here, run inline, in analysis processes or on
    Celery workers. ``uid`` is the message's identity: the report is saved only onto it.

    The service depends on this protocol only; the front ends (``mailqa.worker.selection``)
    pick the executor the settings name and give it to the service."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def submit(
        self,
        message_id: int,
        uid: str | None = None,
        parsed: ParsedMessage | None = None,
        only: Collection[str] | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class AnalysisOutcome:
    """What another process reports of one analysis it ran and stored: the inbox it changed,
    the report's status and each check's status and duration (for metrics); ``None`` fields
    when the message was gone."""

    inbox_id: int | None = None
    status: str | None = None
    checks: tuple[tuple[str, str, float], ...] = ()


@runtime_checkable
class ProcessBackedExecutor(Executor, Protocol):
    """An executor whose analyses run, and are stored, in analysis processes of the server."""

    async def analyze_in_process(
        self, message_id: int, uid: str | None, only: Collection[str] | None
    ) -> AnalysisOutcome:
        """Analyse and store one message in a process now; ``NotFound`` when it is gone,
        ``AnalysisCrashed`` when the process died meanwhile."""
        ...


@runtime_checkable
class QueuedExecutor(Executor, Protocol):
    """An executor that queues analyses in this process (inline, analysis processes)."""

    @property
    def backlog(self) -> int:
        """Analyses submitted and not finished yet (queued or under way)."""
        ...


@runtime_checkable
class AuditExecutor(Executor, Protocol):
    """An executor that also fans stored audits out to workers elsewhere (Celery)."""

    async def submit_audit(self, audit_id: int, message_ids: Collection[int]) -> None: ...

    async def audit_activity(self, audit_id: int) -> str | None:
        """What is still under way for the audit, or None when nothing is."""
        ...
