"""``mailqa check``: the CI quality gate for templates and messages.

Exit codes: 0 the gate passed, 1 it failed, 2 usage or configuration error, 3 internal error,
141 standard output closed by its reader before the report was written.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from mailqa.cli.common import (
    EXIT_GATE_FAILED,
    EXIT_INTERNAL,
    EXIT_PASSED,
    EXIT_STDOUT_CLOSED,
    EXIT_USAGE,
    silence_closed_stdout,
)
from mailqa.core.errors import ConfigError

if TYPE_CHECKING:
    from mailqa.cli.config import GateConfig
    from mailqa.cli.render_gate import RenderPlan
    from mailqa.cli.runner import FileTask
    from mailqa.settings import Settings

DEFAULT_BASELINE = "mailqa-baseline.json"
# Settings fields that take the target clients, depending on the HTML check's version.
CLIENT_SETTINGS = ("html_targets", "html_clients")


@dataclass(frozen=True)
class OutputPlan:
    format: str
    path: str | None  # None: standard output


def plan_outputs(formats: list[str], outputs: list[str]) -> list[OutputPlan]:
    """Pair ``--format``/``--output`` by position; an extra output names its format by its
    suffix; formats without an output (or with ``-``) go to standard output (one at most);
    when none does, text does."""
    from mailqa.cli.output import FORMATS, format_for_path

    for name in formats:
        if name not in FORMATS:
            raise ConfigError(f"unknown --format {name!r}; choose from {', '.join(FORMATS)}")
    plans: list[OutputPlan] = []
    for i, out in enumerate(outputs):
        if i < len(formats):
            name = formats[i]
        else:
            inferred = format_for_path(out)
            if inferred is None:
                raise ConfigError(
                    f"--output {out!r} has no --format and its suffix names none "
                    "(.txt .json .xml .sarif .md)"
                )
            name = inferred
        plans.append(OutputPlan(name, None if out == "-" else out))
    plans += [OutputPlan(name, None) for name in formats[len(outputs) :]]
    to_stdout = [p.format for p in plans if p.path is None]
    if not to_stdout:  # files are for machines; the log still says what failed
        plans.append(OutputPlan("text", None))
    if len(to_stdout) > 1:
        raise ConfigError(
            f"only one format can go to standard output (got {', '.join(to_stdout)}): "
            "give the others an --output FILE"
        )
    return plans


def use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def write_stdout(text: str) -> None:
    """Write ``text`` to standard output, all of it or ``BrokenPipeError``. A pipe whose reader
    goes away during a large write takes part of it, and the buffered writer reports that short
    write as done, dropping the rest: the rest is written again here, and then fails."""
    sys.stdout.flush()
    out = sys.stdout.buffer
    rest = memoryview(text.encode(sys.stdout.encoding, sys.stdout.errors or "strict"))
    while rest:
        rest = rest[out.write(rest) :]
    out.flush()


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def check(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Templates (.html), messages (.eml), folders, globs, or - for stdin. "
            "Default: the 'paths' of the configuration.",
            show_default=False,
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Configuration file (default: discovered upwards).", show_default=False
        ),
    ] = None,
    output_format: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            help="text, json, junit, sarif, github or markdown; repeatable, paired with "
            "--output in order.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            "-o",
            help="File for the matching --format ('-': stdout).",
            show_default=False,
        ),
    ] = None,
    online: Annotated[
        bool | None,
        typer.Option(
            "--online/--offline",
            help="Also run HTTP link checks, DNS checks and spam.",
            show_default=False,
        ),
    ] = None,
    checks: Annotated[
        str | None,
        typer.Option(
            "--checks",
            help="Comma-separated checks to run. Naming auth or blacklist turns the network on.",
            show_default=False,
        ),
    ] = None,
    dns_server: Annotated[
        list[str] | None,
        typer.Option(
            "--dns-server",
            metavar="IP[:PORT]",
            help="DNS server (IP or IP:PORT, IPv6 as [addr]:port) for the auth and blacklist "
            "checks and link hosts; repeatable [env MAILQA_DNS_SERVERS].",
            show_default=False,
        ),
    ] = None,
    link_allow: Annotated[
        list[str] | None,
        typer.Option(
            "--link-allow",
            metavar="HOST|CIDR",
            help="Host (.example.com: its subdomains) or CIDR the online link check may reach "
            "although it is not public; repeatable, adds to link-allow [env MAILQA_LINK_ALLOW].",
            show_default=False,
        ),
    ] = None,
    spamd_url: Annotated[
        str | None,
        typer.Option(
            "--spamd-url",
            metavar="URL",
            help="spamd of the spam check: tcp://host:port, unix:///path or /path "
            "[env MAILQA_SPAMD_URL].",
            show_default=False,
        ),
    ] = None,
    clients: Annotated[
        str | None,
        typer.Option(
            "--clients",
            help="Target clients of the HTML check (comma-separated globs).",
            show_default=False,
        ),
    ] = None,
    strict: Annotated[
        bool | None,
        typer.Option(
            "--strict/--no-strict",
            help="HTML features by support alone: fail on any feature a target client lacks, "
            "whatever its impact or fallbacks.",
            show_default=False,
        ),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="Lowest severity that fails: error, warning, info, never.",
            show_default=False,
        ),
    ] = None,
    min_html_score: Annotated[
        float | None,
        typer.Option(
            "--min-html-score", help="Fail below this HTML support score.", show_default=False
        ),
    ] = None,
    max_spam_score: Annotated[
        float | None,
        typer.Option("--max-spam-score", help="Fail above this spam score.", show_default=False),
    ] = None,
    require: Annotated[
        list[str] | None,
        typer.Option(
            "--require",
            help="Bulk-sender profile each message must meet (gmail-bulk, yahoo-bulk, "
            "outlook-high-volume); repeatable. Most items need --online.",
            show_default=False,
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore",
            help="Rule id (or glob, or check:*) to ignore; repeatable.",
            show_default=False,
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline", help="Fail only on findings not in this file.", show_default=False
        ),
    ] = None,
    write_baseline: Annotated[
        bool,
        typer.Option(
            "--write-baseline",
            help="Record the current findings in the baseline and exit 0.",
            show_default=False,
        ),
    ] = False,
    render: Annotated[
        Path | None,
        typer.Option(
            "--render",
            metavar="DIR",
            help="Render each file's HTML in headless Chromium (emulated previews) and write "
            "the PNGs to DIR.",
            show_default=False,
        ),
    ] = None,
    render_variants: Annotated[
        list[str] | None,
        typer.Option(
            "--render-variants",
            help="Comma-separated render variants (default: all; see docs/previews.md).",
            show_default=False,
        ),
    ] = None,
    render_remote_images: Annotated[
        bool,
        typer.Option(
            "--render-remote-images",
            help="Let renders load remote images (public addresses only, through the "
            "SSRF-safe fetcher).",
            show_default=False,
        ),
    ] = False,
    visual_baseline: Annotated[
        Path | None,
        typer.Option(
            "--visual-baseline",
            metavar="DIR",
            help="Fail when a render differs from the one in DIR; writes a diff image.",
            show_default=False,
        ),
    ] = None,
    write_visual_baseline: Annotated[
        bool,
        typer.Option(
            "--write-visual-baseline",
            help="Record the renders as the visual baseline and exit 0.",
            show_default=False,
        ),
    ] = False,
    visual_threshold: Annotated[
        float | None,
        typer.Option(
            "--visual-threshold",
            help="Perceptual colour distance (0-1) above which a pixel counts as changed "
            "(default 0.1).",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", "-j", min=1, help="Processes (default: automatic).", show_default=False
        ),
    ] = None,
    color: Annotated[
        str, typer.Option("--color", help="Colours in text output: auto, always, never.")
    ] = "auto",
) -> None:
    """Check templates and messages; exit 1 when the gate fails (0 pass, 2 usage, 3 internal)."""
    try:
        code = run_check(
            paths=paths or [],
            config_file=config_file,
            formats=_split(output_format),
            outputs=list(output or []),
            online=online,
            checks=_split([checks]) if checks else None,
            dns_servers=_split(dns_server) or None,
            link_allow=_split(link_allow),
            spamd_url=spamd_url,
            clients=_split([clients]) if clients else None,
            strict=strict,
            fail_on=fail_on,
            min_html_score=min_html_score,
            max_spam_score=max_spam_score,
            require=_split(require),
            ignore=_split(ignore),
            baseline=baseline,
            write_baseline=write_baseline,
            jobs=jobs,
            color=color,
            render=render,
            render_variants=_split(render_variants),
            render_remote_images=render_remote_images,
            visual_baseline=visual_baseline,
            write_visual_baseline=write_visual_baseline,
            visual_threshold=visual_threshold,
        )
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    except (KeyboardInterrupt, typer.Exit):
        raise
    except BrokenPipeError as exc:  # the reader has gone (| head): stop, quietly
        silence_closed_stdout()
        raise typer.Exit(EXIT_STDOUT_CLOSED) from exc
    except Exception as exc:
        typer.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        traceback.print_exc(file=sys.stderr)
        raise typer.Exit(EXIT_INTERNAL) from exc
    raise typer.Exit(code)


def run_check(
    *,
    paths: list[str],
    config_file: Path | None = None,
    formats: list[str] | None = None,
    outputs: list[str] | None = None,
    online: bool | None = None,
    checks: list[str] | None = None,
    dns_servers: list[str] | None = None,
    link_allow: list[str] | None = None,
    spamd_url: str | None = None,
    clients: list[str] | None = None,
    strict: bool | None = None,
    fail_on: str | None = None,
    min_html_score: float | None = None,
    max_spam_score: float | None = None,
    require: list[str] | None = None,
    ignore: list[str] | None = None,
    baseline: Path | None = None,
    write_baseline: bool = False,
    jobs: int | None = None,
    color: str = "auto",
    render: Path | None = None,
    render_variants: list[str] | None = None,
    render_remote_images: bool = False,
    visual_baseline: Path | None = None,
    write_visual_baseline: bool = False,
    visual_threshold: float | None = None,
) -> int:
    """The gate, callable without Typer. Raises ConfigError for usage problems."""
    from mailqa.checks import build_checks
    from mailqa.cli.config import load_config, parse_config
    from mailqa.cli.gate import GateRun
    from mailqa.cli.output import renderer
    from mailqa.cli.output.text import render_file, render_summary
    from mailqa.cli.paths import STDIN, expand_paths, relative_to
    from mailqa.cli.runner import (
        FileTask,
        GateJob,
        default_check_names,
        iter_results,
        needs_one_process,
        network_checks,
        pick_jobs,
    )

    if color not in ("auto", "always", "never"):
        raise ConfigError(f"--color must be auto, always or never, not {color!r}")
    loaded = load_config(config_file)
    overrides = {
        "online": online,
        "checks": checks,
        "dns-servers": dns_servers,
        "link-allow": link_allow or None,  # validated here, added to the file's below
        "spamd-url": spamd_url,
        "clients": clients,
        "strict": strict,
        "fail-on": fail_on,
        "min-html-score": min_html_score,
        "max-spam-score": max_spam_score,
        "require": require or None,
        "jobs": jobs,
    }
    given = {k: v for k, v in overrides.items() if v is not None}
    cli = parse_config(given, "command line", options=True)  # name the option in errors
    given.pop("link-allow", None)
    merged = {**loaded.config.model_dump(by_alias=True, exclude_unset=True), **given}
    if ignore:
        merged["ignore"] = [*loaded.config.ignore, *ignore]
    config = parse_config(merged, loaded.source)
    plans = plan_outputs(formats or [], outputs or [])
    from mailqa.cli.render_gate import plan_renders

    render_plan = plan_renders(
        render_dir=render,
        baseline=visual_baseline,
        write_baseline=write_visual_baseline,
        variants=render_variants or [],
        threshold=visual_threshold,
        allow_remote_images=render_remote_images,
    )

    settings = _settings(config, add_link_allow=cli.link_allow or [])
    chosen = config.checks or settings.checks
    names = chosen or default_check_names(config.online)
    build_checks(names)  # unknown names are a usage error before any work
    # Checks named explicitly that only work with the network turn it on.
    networked = network_checks(chosen) if chosen else []
    if networked and not config.online and "online" in config.model_fields_set:
        where = "--offline" if online is False else f"online = false in {loaded.source}"
        raise ConfigError(
            f"{', '.join(networked)} {'needs' if len(networked) == 1 else 'need'} the network "
            f"but {where} forbids it: use --online, or leave {', '.join(networked)} out of "
            "the checks"
        )
    run_online = config.online or bool(networked)
    if settings.offline == run_online:
        settings = settings.model_copy(update={"offline": not run_online})

    arguments = paths or config.paths
    if not arguments:
        raise ConfigError("nothing to check: give paths (or set 'paths' in the configuration)")
    # Paths from the configuration are relative to it; paths typed are relative to here.
    root = loaded.root
    if not paths:
        arguments = [p if p == STDIN or Path(p).is_absolute() else str(root / p) for p in arguments]
    files = expand_paths(arguments, exclude=config.exclude, root=root)
    if not files:
        raise ConfigError("no .html, .htm or .eml files found in the given paths")

    baseline_path = baseline or (root / config.baseline if config.baseline else None)
    if write_baseline and baseline_path is None:
        baseline_path = Path(DEFAULT_BASELINE)
    counts: dict[str, dict[str, int]] = {}
    if baseline_path is not None and not write_baseline:
        from mailqa.cli.baseline import load_baseline

        known = load_baseline(baseline_path)
        counts = {key: known.counts_for(key) for key in known.files}

    here = Path.cwd()
    tasks = [
        FileTask(STDIN, "<stdin>", sys.stdin.buffer.read())
        if f == STDIN
        else FileTask(f, relative_to(Path(f), here))
        for f in files
    ]
    job = GateJob(
        settings=settings,
        check_names=list(names),
        config=config,
        root=root,
        baseline=counts,
        baseline_path=None if write_baseline else baseline_path,
    )
    colored = use_color(color)
    stream_text = any(p.format == "text" and p.path is None for p in plans) and not write_baseline
    started = time.perf_counter()
    results = []
    processes = pick_jobs(config.jobs, len(tasks), needs_one_process(settings, names))
    # Closed at once when writing fails: its event loop and processes end with the run.
    with closing(iter_results(job, tasks, processes)) as checked:
        for result in checked:
            results.append(result)
            if stream_text:
                write_stdout(render_file(result, colored))
    render_failed = False
    if render_plan is not None:
        render_failed = _render_files(render_plan, tasks)
        if render_plan.write_baseline and not write_baseline:
            return EXIT_PASSED
    run = GateRun(
        files=results,
        fail_on=config.fail_on,
        duration_s=time.perf_counter() - started,
        config_source=loaded.source,
        baseline=str(baseline_path) if baseline_path is not None and not write_baseline else None,
        docs_url=settings.docs_url,
    )

    if write_baseline:
        from mailqa.cli.baseline import build_baseline
        from mailqa.cli.baseline import write_baseline as save_baseline

        assert baseline_path is not None
        document = build_baseline(run, baseline_path)
        save_baseline(document, baseline_path)
        recorded = sum(e.count for entries in document.files.values() for e in entries)
        typer.echo(
            f"mailqa: recorded {recorded} finding(s) in {len(document.files)} file(s) "
            f"to {baseline_path}",
            err=True,
        )
        return EXIT_PASSED

    for plan in plans:
        if plan.format == "text" and plan.path is None:
            write_stdout(render_summary(run, colored))
            continue
        text = renderer(plan.format, color=colored and plan.path is None)(run)
        if plan.path is None:
            write_stdout(text)
        else:
            target = Path(plan.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return EXIT_GATE_FAILED if run.failed or render_failed else EXIT_PASSED


def _render_files(plan: RenderPlan, tasks: Sequence[FileTask]) -> bool:
    """Render the checked files as ``plan`` says; whether that fails the gate."""
    from mailqa.cli.inputs import input_from_bytes, load_input
    from mailqa.cli.render_gate import report_lines, run_renders

    files: list[tuple[str, bytes]] = []
    for task in tasks:
        try:
            item = (
                input_from_bytes(task.name, task.data)
                if task.data is not None
                else load_input(task.source, task.name)
            )
        except OSError:
            continue  # the check run has reported it
        files.append((task.name, item.raw))
    outcome = run_renders(plan, files)
    for line in report_lines(plan, outcome):
        typer.echo(line, err=True)
    return outcome.failed and not plan.write_baseline


def _check_clients(globs: list[str]) -> None:
    """Target clients matching nothing are a configuration error, not an errored check."""
    try:
        from mailqa.checks.html import TargetError, resolve_targets
    except ImportError:  # an html check without target resolution: it reports for itself
        return
    try:
        resolve_targets(globs)
    except TargetError as exc:
        raise ConfigError(f"clients: {exc}") from exc


def _settings(config: GateConfig, *, add_link_allow: Sequence[str] = ()) -> Settings:
    """Environment settings (MAILQA_*) with the gate configuration on top; ``add_link_allow``
    (``--link-allow``) extends the allow-list in force (the configuration's, else the
    environment's)."""
    from mailqa.settings import Settings

    values: dict[str, object] = {"offline": not config.online}
    if config.link_allow is not None:
        values["link_allow"] = config.link_allow
    if config.dns_servers is not None:
        values["dns_servers"] = config.dns_servers
    if config.spamd_url is not None:
        values["spamd_url"] = config.spamd_url
    if config.check_timeout is not None:
        values["check_timeout"] = config.check_timeout
    if config.strict:
        values["html_strict"] = True
    if config.impact:
        values["html_impact"] = config.impact
    if config.clients is not None:
        field = next((f for f in CLIENT_SETTINGS if f in Settings.model_fields), None)
        if field is None:
            raise ConfigError("'clients' needs the html check, which this mailqa does not have")
        values[field] = config.clients
        _check_clients(config.clients)
    try:
        settings = Settings(**values)  # type: ignore[arg-type]
        if add_link_allow:
            extended = list(dict.fromkeys([*settings.link_allow, *add_link_allow]))
            settings = Settings(**{**values, "link_allow": extended})  # type: ignore[arg-type]
        return settings
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid setting {where}: {first['msg']}") from exc
