"""``--format markdown``: a summary for pull-request comments and GitHub step summaries.

A table with one row per file, then the new findings (capped: step summaries are limited
to 1 MiB) in a collapsible section.
"""

from __future__ import annotations

from mailqa.cli.gate import FileResult, FindingState, GateRun, sorted_findings
from mailqa.cli.output.clients import lacking_support
from mailqa.core.report import Severity

MAX_FINDING_ROWS = 500


def cell(text: str) -> str:
    """Table-safe text: no pipes or line breaks."""
    return " ".join(text.replace("|", "\\|").split())


def _code(text: str) -> str:
    quoted = text.replace("`", "'")
    return f"`{quoted}`"


def _scores(file: FileResult) -> str:
    return ", ".join(f"{c.name} {c.score:g}" for c in file.checks if c.score is not None) or "-"


def _result(file: FileResult) -> str:
    if file.error:
        return "❌ unreadable"
    if file.errored_checks:
        names = ", ".join(c.name for c in file.errored_checks)
        return f"❌ errored ({names})" if file.failed else "✅ passed"
    return "❌ failed" if file.failed else "✅ passed"


def render_markdown(run: GateRun) -> str:
    failed = sum(1 for f in run.files if f.failed)
    out = [
        f"## mailqa check: {'❌ failed' if run.failed else '✅ passed'}",
        "",
        f"{len(run.files)} file(s) checked, {len(run.files) - failed} passed, {failed} failed · "
        f"{run.severity_total(Severity.ERROR)} error(s), "
        f"{run.severity_total(Severity.WARNING)} warning(s), "
        f"{run.severity_total(Severity.INFO)} note(s) · "
        f"{run.total(FindingState.BASELINED)} baselined, {run.total(FindingState.IGNORED)} "
        f"ignored · fail-on `{run.fail_on}`",
        "",
        "| File | Result | Errors | Warnings | Notes | Scores |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for file in run.files:
        out.append(
            f"| {_code(file.path)} | {_result(file)} | {file.severity_count(Severity.ERROR)} | "
            f"{file.severity_count(Severity.WARNING)} | {file.severity_count(Severity.INFO)} | "
            f"{_scores(file)} |"
        )
    rows: list[str] = []
    total = 0
    for file in run.files:
        for f in sorted_findings(file.counted(FindingState.NEW)):
            total += 1
            if len(rows) >= MAX_FINDING_ROWS:
                continue
            where = file.path + (f":{f.line}" if f.line is not None else "")
            title = cell(f.finding.title)
            if f.finding.url:
                title = f"[{title}]({f.finding.url})"
            clients = lacking_support(f)
            if clients:
                title += f" — {cell(clients)}"
            rows.append(f"| {_code(where)} | {f.severity.value} | {_code(f.rule)} | {title} |")
    if rows:
        out += [
            "",
            f"<details><summary>New findings ({total})</summary>",
            "",
            "| Where | Severity | Rule | Finding |",
            "| --- | --- | --- | --- |",
            *rows,
        ]
        if total > len(rows):
            out.append(f"\n… and {total - len(rows)} more (see the full report).")
        out += ["", "</details>"]
    return "\n".join(out) + "\n"
