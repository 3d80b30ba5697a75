"""Baselines (fail only on new findings) and ignore rules (global, per path glob, per check)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.gate.conftest import BROKEN_EML, CLEAN_EML, Gate, write


def test_baseline_records_today_and_fails_only_on_new_findings(project: Path, gate: Gate) -> None:
    write(project, "mail/bad.eml", BROKEN_EML)
    out = gate(
        "mail", "--checks", "headers", "--baseline", "mailqa-baseline.json", "--write-baseline"
    )
    assert out.exit_code == 0
    assert "recorded 4 finding(s) in 1 file(s)" in out.stderr
    data = json.loads((project / "mailqa-baseline.json").read_text())
    assert data["version"] == 1
    rules = sorted(e["rule"] for e in data["files"]["mail/bad.eml"])
    assert rules == [
        "headers.date-missing",
        "headers.message-id-missing",
        "headers.subject-all-caps",
        "headers.to-missing",
    ]

    # The same findings: the gate passes and says they are baselined.
    out = gate("mail", "--checks", "headers", "--baseline", "mailqa-baseline.json")
    assert out.exit_code == 0, out.stdout
    assert "(4 baselined, 0 ignored)" in out.stdout

    # Lines move (a header added on top): still the same findings.
    write(project, "mail/bad.eml", "X-Campaign: spring\n" + BROKEN_EML)
    assert gate("mail", "--checks", "headers", "--baseline", "mailqa-baseline.json").exit_code == 0

    # A new problem (a second From) fails, and only it is reported.
    write(project, "mail/bad.eml", "From: other@shop.example.com\n" + BROKEN_EML)
    out = gate("mail", "--checks", "headers", "--baseline", "mailqa-baseline.json")
    assert out.exit_code == 1
    reported = [line for line in out.stdout.splitlines() if "headers." in line]
    assert len(reported) == 1 and "headers.duplicate-header" in reported[0]

    # A new file with old kinds of problems is new too.
    write(project, "mail/copy.eml", BROKEN_EML)
    out = gate("mail", "--checks", "headers", "--baseline", "mailqa-baseline.json")
    assert "FAIL mail/copy.eml" in out.stdout


def test_baseline_from_the_configuration_resolves_from_its_folder(
    project: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project, "mailqa.toml", "checks = ['headers']\nbaseline = 'ci/baseline.json'\n")
    write(project, "bad.eml", BROKEN_EML)
    out = gate("bad.eml")
    assert out.exit_code == 2 and "create it with --write-baseline" in out.stderr
    assert gate("bad.eml", "--write-baseline").exit_code == 0
    assert (project / "ci/baseline.json").is_file()
    monkeypatch.chdir(write(project, "sub/x.txt", "").parent)
    out = gate("../bad.eml")
    assert out.exit_code == 0, out.stdout


def test_broken_baseline_is_a_usage_error(project: Path, gate: Gate) -> None:
    write(project, "ok.eml", CLEAN_EML)
    write(project, "b.json", "{not json")
    out = gate("ok.eml", "--baseline", "b.json")
    assert out.exit_code == 2 and "not readable JSON" in out.stderr
    write(project, "b.json", json.dumps({"version": 1, "files": {"x": [{"rule": "r"}]}}))
    out = gate("ok.eml", "--baseline", "b.json")
    assert out.exit_code == 2 and "invalid at 'files.x.0.fingerprint'" in out.stderr
    write(project, "b.json", json.dumps({"version": 9}))
    out = gate("ok.eml", "--baseline", "b.json")
    assert out.exit_code == 2 and "version 9" in out.stderr


def test_global_ignore_by_id_and_glob(project: Path, gate: Gate) -> None:
    write(project, "bad.eml", BROKEN_EML)
    out = gate("bad.eml", "--checks", "headers", "--ignore", "headers.date-missing")
    assert out.exit_code == 0  # the only error is ignored; warnings don't fail
    assert "date-missing" not in out.stdout and "(0 baselined, 1 ignored)" in out.stdout
    out = gate("bad.eml", "--checks", "headers", "--ignore", "headers.*", "--fail-on", "info")
    assert out.exit_code == 0 and "(0 baselined, 4 ignored)" in out.stdout
    out = gate("bad.eml", "--checks", "headers", "--ignore", "headers:*", "--fail-on", "info")
    assert out.exit_code == 0


def test_per_path_ignores_apply_only_to_matching_files(project: Path, gate: Gate) -> None:
    write(
        project,
        "mailqa.toml",
        "checks = ['headers']\n"
        "[per-path-ignores]\n"
        "'legacy/**/*.eml' = ['headers.date-missing']\n"
        "'*.draft.eml' = ['headers:*']\n",
    )
    write(project, "legacy/2019/old.eml", BROKEN_EML)
    write(project, "new/fresh.eml", BROKEN_EML)
    write(project, "new/idea.draft.eml", BROKEN_EML)
    out = gate(".")
    assert out.exit_code == 1
    assert "PASS legacy/2019/old.eml" in out.stdout
    assert "PASS new/idea.draft.eml" in out.stdout
    assert "FAIL new/fresh.eml" in out.stdout


def test_ignore_in_configuration_and_on_the_command_line_add_up(project: Path, gate: Gate) -> None:
    write(project, "mailqa.toml", "checks = ['headers']\nignore = ['headers.to-missing']\n")
    write(project, "bad.eml", BROKEN_EML)
    out = gate("bad.eml", "--ignore", "headers.date-missing")
    assert out.exit_code == 0
    assert "(0 baselined, 2 ignored)" in out.stdout
