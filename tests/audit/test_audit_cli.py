"""`mailqa audit` on generated eml directories, mboxes and Maildirs, as a user runs it."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from tests.audit.conftest import (
    MAILQA,
    ROOT,
    expected,
    run_cli,
    write_eml_dir,
    write_maildir,
    write_mbox,
)

N = 40


def rule_counts(summary: dict[str, Any]) -> dict[str, int]:
    return {row["name"]: row["messages"] for row in summary["top_rules"]}


@pytest.mark.parametrize("kind", ["eml", "mbox", "maildir"])
def test_audit_gives_the_expected_summary(kind: str, tmp_path: Path) -> None:
    writer = {"eml": write_eml_dir, "mbox": write_mbox, "maildir": write_maildir}[kind]
    source = writer(tmp_path / f"source-{kind}", N)
    out = tmp_path / "out"
    done = run_cli(
        "audit",
        str(source),
        "--checks",
        "headers",
        "--jobs",
        "2",
        "--out",
        str(out),
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    want = expected(N)
    assert summary["messages"] == want.messages
    rules = rule_counts(summary)
    assert rules["headers.subject-missing"] == want.subject_missing
    assert rules["headers.date-missing"] == want.date_missing
    headers = summary["checks"]["headers"]
    assert sum(headers.values()) == N
    assert sum(b["messages"] for b in summary["score"]["histogram"]) == N
    assert json.loads((out / "summary.json").read_text()) == summary
    with (out / "messages.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == N
    assert sum("headers.subject-missing" in r["rules"] for r in rows) == want.subject_missing
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 3 and "Score distribution" in html
    assert "<script" not in html and 'src="http' not in html and 'href="http' not in html


def test_text_output_and_per_message_reports(tmp_path: Path) -> None:
    source = write_eml_dir(tmp_path / "eml", 5)
    reports = tmp_path / "reports"
    done = run_cli("audit", str(source / "*.eml"), "--jobs", "1", "--reports", str(reports))
    assert done.returncode == 0, done.stderr
    assert "Messages audited: 5" in done.stdout
    assert "headers.subject-missing" in done.stdout
    files = sorted(reports.glob("*.json"))
    assert len(files) == 5
    report = json.loads(files[0].read_text())
    assert set(report["checks"]) >= {"headers"}


def test_plain_progress_lines_when_not_on_a_terminal(tmp_path: Path) -> None:
    source = write_eml_dir(tmp_path / "eml", 6)
    done = run_cli(
        "audit", str(source), "--jobs", "1", "--checks", "headers", "--progress-interval", "0"
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("audited ")]
    assert lines[-1].startswith("audited 6/6 (") and "msg/s" in lines[-1]
    assert len(lines) == 6  # one per message with a zero interval; no bar, no escapes
    assert "\x1b" not in done.stderr


def test_interrupted_audit_resumes_without_repeating(tmp_path: Path) -> None:
    n = 1500
    source = write_eml_dir(tmp_path / "eml", n)
    out = tmp_path / "out"
    results = out / "results.jsonl"
    args = [*MAILQA, "audit", str(source), "--jobs", "1", "--out", str(out), "--format", "json"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if results.exists() and results.stat().st_size > 5000:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    assert b"interrupted" in stderr and b"--resume" in stderr
    partial = json.loads(stdout)["messages"]
    assert 0 < partial < n
    write_eml_dir(source, 10, start=n)  # mail that arrived meanwhile
    done = run_cli(
        "audit", str(source), "--jobs", "2", "--out", str(out), "--resume", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["messages"] == n + 10
    keys = [json.loads(line)["key"] for line in results.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == n + 10
    assert summary["top_rules"][0]["messages"] <= n + 10


def test_bad_sources_are_usage_errors(tmp_path: Path) -> None:
    missing = run_cli("audit", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    no_out = run_cli("audit", str(tmp_path), "--resume")
    assert no_out.returncode == 2 and "--resume needs --out" in no_out.stderr
    bad_check = run_cli("audit", str(tmp_path), "--checks", "nonsense")
    assert bad_check.returncode == 2 and "unknown check" in bad_check.stderr


def test_garbage_files_are_reported_not_fatal(tmp_path: Path) -> None:
    source = write_eml_dir(tmp_path / "eml", 3)
    (source / "garbage.eml").write_bytes(b"\x00\xff\xfe" * 1000)
    (source / "empty.eml").write_bytes(b"")
    done = run_cli("audit", str(source), "--jobs", "1", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["messages"] == 5
