"""The executor a server's settings ask for: inline, in analysis processes, or on Celery
workers. Whoever opens a ``Service`` passes ``select_executor``: the service itself only
knows the core's ``Executor`` protocol."""

from __future__ import annotations

from mailqa.core.analyzer import Executor
from mailqa.service import Service
from mailqa.worker.executor import InlineExecutor
from mailqa.worker.processes import AnalysisProcesses, ProcessExecutor, child_settings


def select_executor(service: Service) -> Executor:
    """Celery when ``MAILQA_EXECUTOR=celery``; else analysis processes when
    ``MAILQA_ANALYSIS_PROCESSES`` is above 0 (sharing the service's spamd); else inline."""
    settings = service.settings
    if settings.executor == "celery":
        from mailqa.worker.celery_executor import CeleryExecutor

        return CeleryExecutor(settings)
    concurrency = max(1, settings.analysis_concurrency)
    count = settings.analysis_processes
    if count > 0:
        spamd = service.analyzer.ctx.spamd
        per_process = -(-concurrency // count)
        processes = AnalysisProcesses(
            child_settings(settings, spamd.url if spamd is not None else None),
            count,
            per_process,
            spamd_unavailable=service.analyzer.ctx.extras.get("spamd_unavailable"),
        )
        return ProcessExecutor(service.analyze_in_process, processes, count * per_process)
    return InlineExecutor(service.analyze_job, concurrency=concurrency)
