"""Human-readable output: grouped by file, ``file:line:col`` per finding, a summary line.

A client-support (``html``) finding names the clients that lack the feature after it; a
finding that fails the gate has its message on the next line (what recipients get, the fix);
info findings that do not fail it are counted, not listed.
Colours only when asked (the command turns them on for a terminal, off under ``NO_COLOR``).
``render_file`` is called as each file finishes, so output starts before the run ends.
"""

from __future__ import annotations

from mailqa.cli.gate import FileResult, FindingState, GateRun, sorted_findings
from mailqa.cli.output.clients import lacking_support
from mailqa.core.report import Severity, Status

RESET = "\033[0m"
STYLES = {
    "error": "\033[31m",
    "warning": "\033[33m",
    "info": "\033[36m",
    "pass": "\033[32m",
    "fail": "\033[1;31m",
    "dim": "\033[2m",
    "bold": "\033[1m",
}


class Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, style: str, text: str) -> str:
        return f"{STYLES[style]}{text}{RESET}" if self.color else text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _scores(file: FileResult) -> str:
    parts = [f"{c.name} {c.score:g}" for c in file.checks if c.score is not None]
    return f" ({', '.join(parts)})" if parts else ""


MESSAGE_CHARS = 400


def _shorten(message: str) -> str:
    """A blocking finding's message on one line: what recipients get and how to fix it."""
    text = " ".join(message.split())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def _explanation(data: dict[str, object]) -> str:
    """What recipients get and the fix, for a finding that carries its impact (the clients
    are on the finding's own line already)."""
    reason, fix = data.get("impact_reason"), data.get("fix")
    if not isinstance(reason, str):
        return ""
    return f"{reason} Fix: {fix}" if isinstance(fix, str) else reason


def render_file(file: FileResult, color: bool = False) -> str:
    paint = Painter(color)
    lines: list[str] = []
    verdict = paint("fail", "FAIL") if file.failed else paint("pass", "PASS")
    lines.append(f"{verdict} {paint('bold', file.path)}{_scores(file)}")
    if file.error:
        lines.append(f"  {file.path}: {paint('error', 'error')} {file.error}")
    for check in file.checks:
        if check.status == Status.ERRORED:
            lines.append(
                f"  {file.path}: {paint('error', 'error')} [{check.name}] check errored: "
                f"{check.error or check.summary}"
            )
    quiet = 0
    for f in sorted_findings(file.counted(FindingState.NEW)):
        if f.severity == Severity.INFO and not f.blocking:
            quiet += 1
            continue
        where = file.path
        if f.line is not None:
            where += f":{f.line}"
            if f.column is not None:
                where += f":{f.column}"
        severity = f.severity.value
        clients = lacking_support(f)
        lines.append(
            f"  {paint('dim', where + ':')} {paint(severity, severity)} {f.rule}: "
            f"{f.finding.title} [{f.check}]" + (f" — {clients}" if clients else "")
        )
        explained = _explanation(f.finding.data) or f.finding.message
        if f.blocking and explained:
            lines.append(f"      {_shorten(explained)}")
    if quiet:
        lines.append(
            paint(
                "dim",
                f"  ({_plural(quiet, 'info finding')}: enhancements and uses covered by "
                "fallbacks; --fail-on info or --format json lists them)",
            )
        )
    kept = len(file.counted(FindingState.BASELINED))
    ignored = len(file.counted(FindingState.IGNORED))
    if kept or ignored:
        lines.append(paint("dim", f"  ({kept} baselined, {ignored} ignored)"))
    return "\n".join(lines) + "\n"


def render_summary(run: GateRun, color: bool = False) -> str:
    paint = Painter(color)
    failed = sum(1 for f in run.files if f.failed)
    counts = ", ".join(
        [
            _plural(run.severity_total(Severity.ERROR), "error"),
            _plural(run.severity_total(Severity.WARNING), "warning"),
            _plural(run.severity_total(Severity.INFO), "note"),
        ]
    )
    extra = ""
    baselined = run.total(FindingState.BASELINED)
    ignored = run.total(FindingState.IGNORED)
    if baselined or ignored:
        extra = f"; {baselined} baselined, {ignored} ignored"
    verdict = paint("fail", "gate failed") if run.failed else paint("pass", "gate passed")
    return (
        f"\n{verdict}: {_plural(len(run.files), 'file')} checked in {run.duration_s:.2f} s, "
        f"{len(run.files) - failed} passed, {failed} failed; {counts}{extra} "
        f"(fail-on {run.fail_on})\n"
    )


def render_text(run: GateRun, color: bool = False) -> str:
    return "".join(render_file(f, color) for f in run.files) + render_summary(run, color)
