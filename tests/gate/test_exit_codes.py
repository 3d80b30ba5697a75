"""Exit codes: 0 passed, 1 the gate failed, 2 usage or configuration error, 3 internal."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gate.conftest import BROKEN_EML, CLEAN_EML, WARNING_EML, Gate, write


def test_clean_message_passes_with_0(project: Path, gate: Gate) -> None:
    write(project, "ok.eml", CLEAN_EML)
    out = gate("ok.eml", "--checks", "headers")
    assert out.exit_code == 0, out.stdout + out.stderr
    assert "PASS ok.eml" in out.stdout
    assert "gate passed: 1 file checked" in out.stdout


def test_error_finding_fails_with_1(project: Path, gate: Gate) -> None:
    write(project, "bad.eml", BROKEN_EML)
    out = gate("bad.eml", "--checks", "headers")
    assert out.exit_code == 1
    assert "FAIL bad.eml" in out.stdout
    assert "error headers.date-missing" in out.stdout
    assert "gate failed" in out.stdout


def test_warnings_pass_by_default_and_fail_with_fail_on_warning(project: Path, gate: Gate) -> None:
    write(project, "warn.eml", WARNING_EML)
    assert gate("warn.eml", "--checks", "headers").exit_code == 0
    out = gate("warn.eml", "--checks", "headers", "--fail-on", "warning")
    assert out.exit_code == 1
    assert "warning headers.message-id-missing" in out.stdout


def test_fail_on_never_passes_errors(project: Path, gate: Gate) -> None:
    write(project, "bad.eml", BROKEN_EML)
    out = gate("bad.eml", "--checks", "headers", "--fail-on", "never")
    assert out.exit_code == 0
    assert "headers.date-missing" in out.stdout  # still reported


def test_usage_errors_exit_2(project: Path, gate: Gate) -> None:
    write(project, "ok.eml", CLEAN_EML)
    cases = {
        ("missing.eml",): "no such file or directory: missing.eml",
        ("nothing/*.html",): "no files match",
        ("ok.eml", "--format", "pdf"): "unknown --format 'pdf'",
        ("ok.eml", "--checks", "nope"): "option --checks: unknown check(s) nope",
        ("ok.eml", "--fail-on", "sometimes"): "option --fail-on: Input should be",
        ("ok.eml", "--baseline", "absent.json"): "baseline file not found",
        ("ok.eml", "--format", "json", "--format", "sarif"): "only one format can go to",
        ("ok.eml", "--output", "report.pdf"): "has no --format",
        ("ok.eml", "--color", "pink"): "--color",
        (): "nothing to check",
    }
    for args, message in cases.items():
        out = gate(*args)
        assert out.exit_code == 2, (args, out.stdout, out.stderr)
        assert message in out.stderr, (args, out.stderr)


def test_unwritable_output_is_an_internal_error_3(project: Path, gate: Gate) -> None:
    write(project, "ok.eml", CLEAN_EML)
    write(project, "afile", "x")
    out = gate("ok.eml", "--checks", "headers", "--format", "json", "--output", "afile/r.json")
    assert out.exit_code == 3
    assert "internal error" in out.stderr


def test_file_that_vanished_before_reading_fails_the_gate(project: Path) -> None:
    from mailqa.cli.config import GateConfig
    from mailqa.cli.gate import GateRun
    from mailqa.cli.runner import FileTask, GateJob, iter_results
    from mailqa.settings import Settings

    job = GateJob(Settings(offline=True), ["headers"], GateConfig(), project)
    (result,) = iter_results(job, [FileTask("gone.eml", "gone.eml")])
    assert result.failed
    assert result.error is not None and result.error.startswith("cannot read gone.eml")
    assert GateRun([result]).failed


def test_bad_input_files_give_results_not_crashes(project: Path, gate: Gate) -> None:
    (project / "garbage.eml").write_bytes(bytes(range(256)) * 40)
    (project / "latin1.html").write_bytes("<p>caf\xe9 \xff\xfe</p>\n".encode("latin-1"))
    (project / "empty.html").write_bytes(b"")
    (project / "empty.eml").write_bytes(b"")
    out = gate(".", "--format", "json")
    assert out.exit_code in (0, 1), out.stderr
    doc = json.loads(out.stdout)
    assert sorted(f["path"] for f in doc["files"]) == [
        "empty.eml",
        "empty.html",
        "garbage.eml",
        "latin1.html",
    ]
    assert all(f["report"] is not None for f in doc["files"])
