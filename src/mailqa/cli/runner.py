"""Run the pipeline over files without a server or a database, and judge each file.

One process checks the files in turn, or (many files) a pool of forked processes shares the
work; either way results come back in input order, one at a time, so the text output can
start before the last file is checked. Each worker opens its own check context from the
job's settings (DNS servers, spamd URL...). Runs that validate links over HTTP or start a
managed spamd stay in one process: the per-host request limits and the daemon are the run's.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Generator, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mailqa.checks import BUILTIN_CHECKS
from mailqa.cli.collector import resume_collector
from mailqa.cli.config import GateConfig
from mailqa.cli.gate import FileResult, evaluate
from mailqa.cli.inputs import HTML_SUFFIXES, CheckInput, input_from_bytes, load_input
from mailqa.cli.paths import STDIN, relative_to
from mailqa.core.analyzer import Analyzer
from mailqa.core.message import ParsedMessage
from mailqa.resources import open_analyzer
from mailqa.settings import Settings

if TYPE_CHECKING:
    from mailqa.core.analysis_pool import PoolWorker

# A wrapped template has synthetic headers: checking them would only report our wrapper.
TEMPLATE_SKIPS = frozenset({"headers"})
# Default-on checks that still need more than the files: left out unless --online.
ONLINE_ONLY = frozenset({"spam"})
# Below this many files a process pool costs more than it saves.
POOL_MIN_FILES = 8


def network_checks(names: Sequence[str]) -> list[str]:
    """The named checks that cannot do anything without the network (auth, blacklist)."""
    return [
        n for n in dict.fromkeys(names) if n in BUILTIN_CHECKS and BUILTIN_CHECKS[n].needs_network
    ]


def needs_one_process(settings: Settings, names: Sequence[str]) -> bool:
    """Whether the run holds clients a pool must not copy: an HTTP link fetcher (its per-host
    limits are for the whole run) or a managed spamd (one daemon, not one per worker)."""
    online = not settings.offline
    http = online and (
        (settings.link_check and "links" in names)
        or (settings.html_fetch_stylesheets and "html" in names)
    )
    managed_spamd = "spam" in names and not settings.spamd_url and settings.spamd_managed != "off"
    return http or managed_spamd


def default_check_names(online: bool) -> list[str]:
    return [
        name
        for name, cls in BUILTIN_CHECKS.items()
        if cls.default_enabled and (online or (not cls.needs_network and name not in ONLINE_ONLY))
    ]


@dataclass
class GateJob:
    """What every file's run shares: settings, the checks, the project's gate config."""

    settings: Settings
    check_names: list[str]
    config: GateConfig
    root: Path
    baseline: dict[str, dict[str, int]] = field(default_factory=dict)
    baseline_path: Path | None = None


@dataclass(frozen=True)
class FileTask:
    source: str  # a path, or "-" for stdin
    name: str  # how outputs call the file
    data: bytes | None = None  # stdin content, read by the parent


class FileChecker:
    """Checks one file at a time with an analyzer it keeps open."""

    def __init__(self, job: GateJob, analyzer: Analyzer) -> None:
        self.job = job
        self.analyzer = analyzer
        self._template_checks = [n for n in analyzer.check_names if n not in TEMPLATE_SKIPS]

    async def check(self, task: FileTask) -> FileResult:
        is_template = Path(task.source).suffix.lower() in HTML_SUFFIXES
        try:
            item = self._load(task)
        except OSError as exc:
            return FileResult(
                path=task.name,
                is_template=is_template,
                error=f"cannot read {task.name}: {exc.strerror or exc}",
            )
        msg = ParsedMessage(item.raw)
        only = self._template_checks if item.is_template else None
        report = await self.analyzer.run(msg, only=only)
        path = self.job.baseline_path
        if path is not None:
            from mailqa.cli.baseline import baseline_key

            key = baseline_key(task.name, path)
        else:
            key = task.name
        return evaluate(
            task.name,
            relative_to(Path(task.source), self.job.root) if task.source != STDIN else task.name,
            report,
            self.job.config,
            is_template=item.is_template,
            baseline_counts=self.job.baseline.get(key),
            message=msg,
        )

    @staticmethod
    def _load(task: FileTask) -> CheckInput:
        if task.data is not None:
            return input_from_bytes(task.name, task.data)
        return load_input(task.source, task.name)


async def _open_checker(stack: AsyncExitStack, job: GateJob) -> FileChecker:
    analyzer = await stack.enter_async_context(open_analyzer(job.settings, job.check_names))
    return FileChecker(job, analyzer)


def _run_file(runner: asyncio.Runner, checker: FileChecker, task: FileTask) -> FileResult:
    """``checker.check`` on the runner's loop, without ``Runner.run``: that installs a SIGINT
    handler holding the task for each call, and putting the previous handler back formats
    it (enum lookup error message) with ``repr`` of the finished task, that is of the whole
    report: tens of milliseconds per file, more than some checks take. Ctrl-C still stops the
    run (KeyboardInterrupt)."""
    return runner.get_loop().run_until_complete(checker.check(task))


def _iter_serial(job: GateJob, tasks: Sequence[FileTask]) -> Iterator[FileResult]:
    """One event loop and one check context for the run; results as they come."""
    runner = asyncio.Runner()
    stack = AsyncExitStack()
    try:
        checker = runner.run(_open_checker(stack, job))
        for task in tasks:
            yield _run_file(runner, checker, task)
            resume_collector()  # start-up is over
    finally:
        runner.run(stack.aclose())
        runner.close()


# --- process pool (offline runs over many files) -------------------------------------


def _check_in_worker(worker: PoolWorker[FileChecker], task: FileTask) -> FileResult:
    return worker.run(worker.state.check(task))


def _iter_pool(job: GateJob, tasks: Sequence[FileTask], jobs: int) -> Iterator[FileResult]:
    # Imported here: a run of a few files never starts a pool. Forked, the workers share
    # what the first file loaded (rules data) instead of each loading it again.
    from mailqa.core.analysis_pool import AnalysisPool

    with AnalysisPool(jobs, _open_checker, (job,), start_method="fork") as pool:
        yield from pool.map(_check_in_worker, tasks)


def pick_jobs(requested: int | None, file_count: int, one_process: bool = False) -> int:
    """Processes for the run; ``one_process`` (see ``needs_one_process``) forces one."""
    if one_process:
        return 1
    if requested is not None:
        return max(1, min(requested, file_count))
    if file_count < POOL_MIN_FILES:
        return 1
    return max(1, min(os.cpu_count() or 1, file_count // 2))


def iter_results(
    job: GateJob, tasks: Sequence[FileTask], jobs: int = 1
) -> Generator[FileResult, None, None]:
    """Each file's result, in input order, as soon as it (and those before it) are done.
    Closing the generator early cancels the files not started and ends the event loop.

    With a pool, the first file is checked here before forking: output starts at once and
    the workers inherit whatever the checks loaded and cached (rules data) instead of each
    loading it again.
    """
    if jobs <= 1 or len(tasks) < 2:
        yield from _iter_serial(job, tasks)
        return
    yield from _iter_serial(job, tasks[:1])
    yield from _iter_pool(job, tasks[1:], jobs)


__all__ = [
    "BUILTIN_CHECKS",
    "FileChecker",
    "FileTask",
    "GateJob",
    "default_check_names",
    "iter_results",
    "needs_one_process",
    "network_checks",
    "pick_jobs",
]
