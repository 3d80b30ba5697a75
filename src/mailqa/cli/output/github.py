"""``--format github``: workflow commands GitHub Actions turns into annotations.

``::error file=PATH,line=N,col=M,title=T::MESSAGE`` per new finding (``::warning`` and
``::notice`` for the lower severities), so findings show on the pull request's diff. A
finding with no place in the file (a missing header, a missing doctype) is put on line 1,
where the headers or the document start, as is an errored check: GitHub shows annotations on
lines of the diff, and one without a line only in the run's summary. ``PATH`` is relative
to ``$GITHUB_WORKSPACE`` (the repository) when the file is in it, so annotations land on
the right file whatever the step's working directory.
"""

from __future__ import annotations

from mailqa.cli.gate import FindingState, GateRun, sorted_findings
from mailqa.cli.paths import ci_path
from mailqa.core.report import Severity, Status

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(kind: str, message: str, **props: object) -> str:
    fields = ",".join(
        f"{key}={escape_property(str(value))}" for key, value in props.items() if value is not None
    )
    return (
        f"::{kind} {fields}::{escape_data(message)}"
        if fields
        else f"::{kind}::{escape_data(message)}"
    )


def render_github(run: GateRun) -> str:
    lines: list[str] = []
    for file in run.files:
        path = None if file.path == "<stdin>" else ci_path(file.path)
        line_one = 1 if path is not None else None
        if file.error:
            lines.append(_command("error", file.error, file=path, title="mailqa: unreadable file"))
        for check in file.checks:
            if check.status == Status.ERRORED:
                lines.append(
                    _command(
                        "error",
                        check.error or check.summary or "check errored",
                        file=path,
                        line=line_one,
                        title=f"mailqa {check.name}: check errored",
                    )
                )
        for f in sorted_findings(file.counted(FindingState.NEW)):
            message = f.finding.title
            if f.finding.message:
                message += f"\n{f.finding.message}"
            if f.finding.url:
                message += f"\n{f.finding.url}"
            lines.append(
                _command(
                    COMMANDS[f.severity],
                    message,
                    file=path,
                    line=f.line or line_one,
                    col=f.column if f.line is not None else None,
                    title=f"mailqa {f.rule}",
                )
            )
    failed = sum(1 for f in run.files if f.failed)
    summary = (
        f"mailqa: {len(run.files)} file(s) checked, {failed} failed; "
        f"{run.severity_total(Severity.ERROR)} error(s), "
        f"{run.severity_total(Severity.WARNING)} warning(s)"
    )
    lines.append(_command("error" if run.failed else "notice", summary, title="mailqa check"))
    return "\n".join(lines) + "\n"
