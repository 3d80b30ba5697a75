"""``mailqa audit``: audit stored mail in bulk and summarise it."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mailqa.cli.common import EXIT_INTERNAL, EXIT_USAGE, settings_from_options

if TYPE_CHECKING:
    from mailqa.audit.runner import Progress
    from mailqa.audit.sample import SamplePlan
    from mailqa.settings import Settings


def _progress_printer(interval: float) -> tuple[Any, Any]:
    """A rich bar with rate and ETA on a terminal; a plain line every ``interval`` s otherwise."""
    if sys.stderr.isatty():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        bar = Bar(
            TextColumn("auditing"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]:.0f} msg/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        task_id = bar.add_task("audit", total=None, rate=0.0)

        def draw(p: Progress) -> None:
            bar.update(task_id, completed=p.done, total=p.total, rate=p.rate)

        return bar, draw

    last = [0.0]

    def line(p: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < interval and p.done != p.total:
            return
        last[0] = now
        total = f"/{p.total}" if p.total is not None else ""
        eta = ""
        if p.total and p.rate > 0:
            eta = f", ETA {max(0, p.total - p.done) / p.rate:.0f} s"
        print(f"audited {p.done}{total} ({p.rate:.1f} msg/s{eta})", file=sys.stderr, flush=True)

    return None, line


def audit(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="Directories of .eml, mbox files, Maildirs, .eml files or globs."),
    ] = None,
    inbox: Annotated[
        int | None, typer.Option(help="Audit a stored inbox (database, or --server).")
    ] = None,
    server: Annotated[
        str | None, typer.Option(help="Read --inbox from a running mailqa at this URL.")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="API token for --server [env MAILQA_API_TOKEN].")
    ] = None,
    since: Annotated[datetime | None, typer.Option(help="Stored mail received since.")] = None,
    until: Annotated[datetime | None, typer.Option(help="Stored mail received until.")] = None,
    checks: Annotated[
        str | None, typer.Option(help="Comma-separated checks (default: the offline ones).")
    ] = None,
    online: Annotated[
        bool, typer.Option("--online/--offline", help="Allow network checks.")
    ] = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Processes (default: one per CPU).")
    ] = None,
    executor: Annotated[
        str,
        typer.Option(
            help="inline (processes here) or celery (workers; files are imported into the "
            "database first)."
        ),
    ] = "inline",
    out: Annotated[
        Path | None,
        typer.Option(help="Write results.jsonl, summary.json, messages.csv, report.html here."),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Skip messages already in --out's results.jsonl.")
    ] = False,
    reports: Annotated[
        Path | None, typer.Option(help="Also write each message's full JSON report here.")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (for --inbox).")] = None,
    progress_interval: Annotated[
        float, typer.Option(help="Seconds between progress lines when not on a terminal.")
    ] = 5.0,
    render_sample: Annotated[
        int | None,
        typer.Option(
            "--render-sample",
            help="Render the N messages that scored worst into --out's renders/ and show them "
            "in report.html (headless Chromium; emulated, not client screenshots).",
        ),
    ] = None,
    render_variants: Annotated[
        str | None,
        typer.Option(
            "--render-variants",
            help="Comma-separated render variants for --render-sample (default: desktop-600, "
            "mobile-375, dark-600, outlook-windows-600; see docs/previews.md).",
        ),
    ] = None,
    stall_timeout: Annotated[
        float,
        typer.Option(
            help="--executor celery: seconds without a new result before asking the workers "
            "whether anything is under way (when nothing is, the audit fails)."
        ),
    ] = 60.0,
) -> None:
    """Audit many messages and summarise them: pass/fail per check, scores, top issues."""
    from mailqa.audit.record import default_audit_checks
    from mailqa.audit.runner import AuditOptions, Progress, ResultSink, cpu_count
    from mailqa.audit.summary import render_text
    from mailqa.checks import build_checks
    from mailqa.core.errors import ConfigError, MailqaError
    from mailqa.store.messages import MessageFilter

    def usage(message: str) -> typer.Exit:
        typer.echo(f"error: {message}", err=True)
        return typer.Exit(EXIT_USAGE)

    if not sources and inbox is None:
        raise usage("give a SOURCE path or --inbox ID")
    if resume and out is None:
        raise usage("--resume needs --out (where the earlier results are)")
    if executor not in ("inline", "celery"):
        raise usage(f"unknown executor {executor!r}: inline or celery")
    if executor == "celery" and (server or (inbox is not None and sources)):
        raise usage("--executor celery takes SOURCE paths or --inbox ID (no --server)")
    if executor == "celery" and inbox is not None and reports:
        raise usage(
            "--reports with --executor celery needs SOURCE paths: "
            "the messages of a stored inbox keep their own reports"
        )
    if output_format not in ("text", "json"):
        raise usage(f"unknown format {output_format!r}: text or json")
    sample_plan = _sample_plan(out, render_sample, render_variants, usage)
    settings = settings_from_options(data_dir=data_dir, offline=not online)
    names = [c.strip() for c in checks.split(",") if c.strip()] if checks else None
    names = names or default_audit_checks()
    try:
        build_checks(names)
    except ConfigError as exc:
        raise usage(str(exc)) from exc
    options = AuditOptions(
        checks=names, jobs=max(1, jobs or cpu_count()), online=online, reports_dir=reports
    )
    sink = ResultSink(
        out,
        resume=resume,
        reports_dir=reports,
        sample=sample_plan.size if sample_plan is not None else 0,
    )
    bar, draw = _progress_printer(progress_interval)
    progress = Progress(on_change=draw)
    progress.done = 0
    title = "Mail audit: " + ", ".join(sources or [f"inbox {inbox}"])

    async def main() -> None:
        from mailqa.audit.runner import run_audit, run_celery_audit
        from mailqa.audit.sources import (
            ServerInboxSource,
            Source,
            StoredInboxSource,
            open_path_source,
            prepare,
        )

        opened: list[Source] = [open_path_source(s) for s in sources or []]
        store = None
        try:
            if inbox is not None and server:
                plain = token or settings.api_token
                opened.append(ServerInboxSource(server, inbox, plain))
            elif inbox is not None or executor == "celery":
                from mailqa.store.database import migrate
                from mailqa.store.repository import Store

                await asyncio.to_thread(migrate, settings.effective_database_url)
                store = Store(settings.effective_database_url)
            if inbox is not None and store is not None:
                filters = MessageFilter(since=since, until=until)
                opened.append(StoredInboxSource(store, inbox, filters))
            for source in opened:
                await prepare(source)
            counts = [s.count() for s in opened]
            if all(c is not None for c in counts):
                progress.total = sum(c or 0 for c in counts) - len(sink.done_keys)
            if executor == "celery":
                assert store is not None
                fan_out = opened[0] if isinstance(opened[0], StoredInboxSource) else opened
                from mailqa.worker.celery_executor import CeleryExecutor

                audit_id = await run_celery_audit(
                    CeleryExecutor(settings),
                    store,
                    fan_out,
                    options,
                    sink,
                    progress,
                    title=title,
                    stall_timeout=stall_timeout,
                )
                print(f"stored audit {audit_id}", file=sys.stderr)
            else:
                await run_audit(settings, opened, options, sink, progress)
            if sample_plan is not None:
                from mailqa.audit.sample import read_sample

                sample_plan.messages = await read_sample(opened, sink.sample.picked())
        finally:
            if store is not None:
                await store.close()

    interrupted = False
    failure: MailqaError | None = None
    try:
        if bar is not None:
            with bar:
                asyncio.run(main())
        else:
            asyncio.run(main())
    except KeyboardInterrupt:
        interrupted = True
    except (ConfigError, FileNotFoundError) as exc:
        raise usage(str(exc)) from exc
    except MailqaError as exc:
        if not progress.done:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_INTERNAL) from exc
        failure = exc  # the results so far are written and summarised first
    sample_section: dict[str, Any] | None = None
    render_error: str | None = None
    if sample_plan is not None and not interrupted and failure is None:
        sample_section, render_error = _render_sample(sample_plan, settings, online=online)
    summary = sink.close(title, sample_section)
    if output_format == "json":
        from mailqa.audit.runner import dumps

        typer.echo(dumps(summary))
    else:
        sys.stdout.write(render_text(summary))
        if out is not None:
            sys.stdout.write(f"\nReport: {out / 'report.html'}\n")
    if interrupted:
        typer.echo(
            f"interrupted after {progress.done} message(s)"
            + ("; run again with --resume to go on" if out else ""),
            err=True,
        )
        raise typer.Exit(130)
    if failure is not None:
        typer.echo(f"error: {failure}", err=True)
        raise typer.Exit(EXIT_INTERNAL)
    if render_error is not None:
        typer.echo(
            f"error: --render-sample: {render_error} (the audit itself is complete"
            + (f" in {out}" if out else "")
            + ")",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)


def _sample_plan(
    out: Path | None, size: int | None, variants: str | None, usage: Any
) -> SamplePlan | None:
    """What ``--render-sample``/``--render-variants`` ask for, or None (nothing to render)."""
    from mailqa.audit.sample import DEFAULT_SAMPLE_VARIANTS, RENDERS, SamplePlan
    from mailqa.render.variants import pick_variants

    if size is not None and size < 0:
        raise usage("--render-sample takes a count of messages (0 or more)")
    if variants is not None and size is None:
        raise usage("--render-variants needs --render-sample N")
    if not size:
        return None
    if out is None:
        raise usage("--render-sample needs --out DIR (the PNGs go under DIR/renders/)")
    names = [v.strip() for v in (variants or "").split(",") if v.strip()]
    try:
        chosen = pick_variants(names or list(DEFAULT_SAMPLE_VARIANTS))
    except ValueError as exc:
        raise usage(f"--render-variants: {exc}") from exc
    return SamplePlan(size, tuple(v.name for v in chosen), out / RENDERS)


def _render_sample(
    plan: SamplePlan, settings: Settings, *, online: bool
) -> tuple[dict[str, Any], str | None]:
    """Render the sample; its summary section, and an error when Chromium could not start."""
    from mailqa.audit.sample import sample_summary
    from mailqa.cli.render_gate import RenderOutcome, RenderPlan, report_lines, run_renders
    from mailqa.core.errors import ConfigError
    from mailqa.render.variants import pick_variants

    files = [(m.sampled.key, m.raw) for m in plan.messages if m.raw is not None]
    render_plan = RenderPlan(
        directory=plan.directory,
        variants=pick_variants(list(plan.variants)),
        allow_remote_images=online and settings.render_remote_images,
        chromium=settings.render_chromium,
    )
    try:
        outcome = run_renders(render_plan, files) if files else RenderOutcome()
    except ConfigError as exc:
        return sample_summary(plan, None, str(exc)), str(exc)
    for line in report_lines(render_plan, outcome):
        typer.echo(line, err=True)
    return sample_summary(plan, outcome.by_file), None
