"""Output formats of ``mailqa check``: each renders a ``GateRun`` to text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mailqa.cli.gate import GateRun

FORMATS = ("text", "json", "junit", "sarif", "github", "markdown")
FORMAT_BY_SUFFIX = {
    ".txt": "text",
    ".json": "json",
    ".xml": "junit",
    ".sarif": "sarif",
    ".md": "markdown",
}


def format_for_path(path: str) -> str | None:
    """The format an output file's name implies (``report.sarif`` -> sarif), if any."""
    name = path.lower()
    if name.endswith(".sarif.json"):
        return "sarif"
    return FORMAT_BY_SUFFIX.get(Path(name).suffix)


def renderer(name: str, *, color: bool = False) -> Callable[[GateRun], str]:
    if name == "text":
        from mailqa.cli.output.text import render_text

        return lambda run: render_text(run, color)
    if name == "json":
        from mailqa.cli.output.json import render_json

        return render_json
    if name == "junit":
        from mailqa.cli.output.junit import render_junit

        return render_junit
    if name == "sarif":
        from mailqa.cli.output.sarif import render_sarif

        return render_sarif
    if name == "github":
        from mailqa.cli.output.github import render_github

        return render_github
    if name == "markdown":
        from mailqa.cli.output.markdown import render_markdown

        return render_markdown
    raise ValueError(f"unknown format {name!r}")
