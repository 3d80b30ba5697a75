"""The command as CI runs it: a separate process, real exit codes, stdin, the process pool."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.gate.conftest import (
    BROKEN_EML,
    CLEAN_EML,
    TEMPLATE_WITH_PRIVATE_LINK,
    Gate,
    GateProcess,
    write,
)

from mailqa.checks import BUILTIN_CHECKS
from mailqa.cli.common import EXIT_STDOUT_CLOSED


def test_exit_codes_of_the_real_process(project: Path, gate_process: GateProcess) -> None:
    write(project, "ok.eml", CLEAN_EML)
    write(project, "bad.eml", BROKEN_EML)
    assert gate_process("ok.eml", "--checks", "headers", cwd=project).exit_code == 0
    failed = gate_process("bad.eml", "--checks", "headers", cwd=project)
    assert failed.exit_code == 1 and "headers.date-missing" in failed.stdout
    usage = gate_process("ok.eml", "--format", "yaml", cwd=project)
    assert usage.exit_code == 2 and "unknown --format" in usage.stderr
    typer_usage = gate_process("ok.eml", "--no-such-option", cwd=project)
    assert typer_usage.exit_code == 2


def test_stdin_through_the_real_process(project: Path, gate_process: GateProcess) -> None:
    out = gate_process(
        "-",
        "--checks",
        "links",
        "--format",
        "json",
        cwd=project,
        stdin=TEMPLATE_WITH_PRIVATE_LINK.encode(),
    )
    assert out.exit_code == 1
    doc = json.loads(out.stdout)
    assert doc["files"][0]["path"] == "<stdin>" and doc["files"][0]["template"] is True
    assert any(f["rule"] == "links.private-host" for f in doc["files"][0]["findings"])


def _many_private_links(count: int) -> str:
    links = "".join(f'<p><a href="https://yourapp.example/c{i}">c</a></p>\n' for i in range(count))
    return f"<!doctype html>\n<html><body>\n{links}</body></html>\n"


# The console script's entry (the check fast path) and the full application.
ENTRIES = {
    "entry": "from mailqa.cli.entry import main; main()",
    "app": "from mailqa.cli.main import app; app()",
}


@pytest.mark.parametrize(
    ("entry", "args"),
    [
        ("entry", ["--jobs", "1"]),  # text, streamed file by file
        ("app", ["--jobs", "1"]),
        ("entry", ["--jobs", "2"]),  # the first file here, the others in a process pool
        ("entry", ["--jobs", "1", "--format", "json"]),  # one write at the end
    ],
)
def test_a_reader_that_stops_early_ends_the_run_quietly(
    project: Path, cli_env: dict[str, str], entry: str, args: list[str]
) -> None:
    """``mailqa check ... | head -1``: each file's report is more than a pipe holds, so a
    write fails once the reader has gone; no traceback, no "Exception ignored" at exit."""
    for name in ("a", "b", "c"):
        write(project, f"t/{name}.html", _many_private_links(300))
    proc = subprocess.Popen(
        [sys.executable, "-c", ENTRIES[entry], "check", "t", "--checks", "links", *args],
        cwd=project,
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.read(100)  # the JSON document is one line: read less than that
    proc.stdout.close()
    stderr = proc.stderr.read().decode("utf-8", "replace")
    assert proc.wait(timeout=120) == EXIT_STDOUT_CLOSED, stderr
    assert first.strip()
    assert stderr == ""


@pytest.mark.slow
def test_process_pool_gives_the_same_results_in_the_same_order(
    project: Path, gate_process: GateProcess
) -> None:
    for i in range(12):
        write(project, f"t/{i:02d}.html", TEMPLATE_WITH_PRIVATE_LINK.replace("confirm", f"c{i}"))
        write(project, f"m/{i:02d}.eml", BROKEN_EML if i % 3 else CLEAN_EML)
    args = ["t", "m", "--checks", "headers,links", "--format", "json"]
    serial = json.loads(gate_process(*args, "--jobs", "1", cwd=project).stdout)
    pooled = json.loads(gate_process(*args, "--jobs", "2", cwd=project).stdout)

    def digest(doc: dict[str, Any]) -> list[Any]:
        return [
            (
                f["path"],
                f["status"],
                [(x["rule"], x["line"], x["fingerprint"]) for x in f["findings"]],
            )
            for f in doc["files"]
        ]

    assert digest(pooled) == digest(serial)
    assert [f["path"] for f in serial["files"]][:2] == ["t/00.html", "t/01.html"]
    assert serial["summary"]["failed"] == 12 + 8


def test_html_score_threshold(project: Path, gate: Gate) -> None:
    if "html" not in BUILTIN_CHECKS:
        pytest.skip("the html check is not registered in this build")
    write(project, "flex.html", '<div style="display:flex">x</div>\n')
    relaxed = gate("flex.html", "--checks", "html", "--fail-on", "never", "--format", "json")
    score = json.loads(relaxed.stdout)["files"][0]["report"]["checks"]["html"]["score"]
    assert relaxed.exit_code == 0 and score < 100
    strict = gate("flex.html", "--checks", "html", "--fail-on", "never", "--min-html-score", "100")
    assert strict.exit_code == 1
    assert f"gate.min-html-score: HTML support score {score:g} is below the minimum 100" in (
        strict.stdout
    )
    assert (
        gate(
            "flex.html", "--checks", "html", "--fail-on", "never", "--min-html-score", f"{score:g}"
        ).exit_code
        == 0
    )


def test_target_clients_reach_the_html_check(project: Path, gate: Gate) -> None:
    if "html" not in BUILTIN_CHECKS:
        pytest.skip("the html check is not registered in this build")
    write(project, "mailqa.toml", "checks = ['html']\nclients = ['gmail.*']\n")
    write(project, "flex.html", '<div style="display:flex">x</div>\n')
    out = gate("flex.html", "--format", "json")
    html = json.loads(out.stdout)["files"][0]["report"]["checks"]["html"]
    assert html["details"]["targets"] == ["gmail.*"]
    bad = gate("flex.html", "--clients", "no-such-client")
    assert bad.exit_code == 2 and "clients:" in bad.stderr and "no-such-client" in bad.stderr


def test_results_are_not_formatted_with_repr_per_file(
    project: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncio.Runner.run would repr each finished task's result (the whole report) when it
    restores the SIGINT handler: tens of milliseconds per file for nothing."""
    from mailqa.cli.gate import FileResult

    calls: list[FileResult] = []

    def counted_repr(self: FileResult) -> str:
        calls.append(self)
        return "<result>"

    monkeypatch.setattr(FileResult, "__repr__", counted_repr)
    write(project, "bad.eml", BROKEN_EML)
    write(project, "ok.eml", CLEAN_EML)
    assert gate("bad.eml", "ok.eml", "--checks", "headers").exit_code == 1
    assert calls == []
