"""A template checked as a template holds its variables (info, never a failure); the same
markup sent as a message fails. Hostile input (a megabyte of braces) costs bounded time."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailqa.checks import build_checks
from mailqa.checks.merge_tags import MAX_OCCURRENCES, analyse
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import Status
from mailqa.resources import check_context
from mailqa.settings import Settings

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Welcome to Fernway</title>
<style>p {{ margin: 0 0 12px; }}</style></head>
<body>
<div style="display:none">Your account is ready, {{ first_name }}</div>
<p>Hi {{ first_name }},</p>
<p>Your plan: {% if plan %}{{ plan.name }}{% endif %}. Manager: *|MANAGER|*.</p>
<p><a href="https://fernway.example/welcome?u={{ user_id }}">Open your account</a></p>
<p><img src="https://img.fernway.example/logo.png" alt="Fernway" width="120" height="40"></p>
</body>
</html>
"""


def gate(*args: str, cwd: Path) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILQA_")}
    proc = subprocess.run(
        [sys.executable, "-m", "mailqa.cli.main", "check", "--format", "json", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=120,
    )
    return proc.returncode, json.loads(proc.stdout)


def as_message(html: str) -> str:
    return (
        "From: Fernway <hello@fernway.example>\r\nTo: ann@customer.example\r\n"
        "Subject: Welcome to Fernway\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        "Message-ID: <w-1@fernway.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + html
    )


def test_a_template_lists_its_variables_as_info_and_a_message_fails(tmp_path: Path) -> None:
    (tmp_path / "welcome.html").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "welcome.eml").write_text(as_message(TEMPLATE), encoding="utf-8")

    code, doc = gate("welcome.html", "--checks", "merge_tags", cwd=tmp_path)
    assert code == 0, doc
    file = doc["files"][0]
    assert file["template"] is True
    findings = [f for f in file["findings"] if f["rule"].startswith("merge_tags.")]
    assert findings and {f["severity"] for f in findings} == {"info"}
    assert {f["rule"] for f in findings} == {"merge_tags.unreplaced", "merge_tags.unreplaced-link"}
    by_variable = {f["title"].split("'")[1]: f for f in findings}
    expected = {"first_name", "plan", "plan.name", "{% endif %}", "MANAGER", "user_id"}
    assert set(by_variable) == expected
    assert by_variable["first_name"]["line"] == 6  # the preheader: the first use
    assert by_variable["user_id"]["line"] == 9
    result = file["report"]["checks"]["merge_tags"]
    needed = [v["name"] for v in result["details"]["variables"]]
    assert needed == ["first_name", "plan", "plan.name", "MANAGER", "user_id"]
    assert "needs: first_name, plan, plan.name, MANAGER, user_id" in result["summary"]

    code, doc = gate("welcome.eml", "--checks", "merge_tags", cwd=tmp_path)
    assert code == 1
    severities = {f["rule"]: f["severity"] for f in doc["files"][0]["findings"]}
    assert severities["merge_tags.unreplaced-link"] == "error"
    assert severities["merge_tags.unreplaced"] == "warning"


def test_a_template_with_merge_tags_does_not_fail_the_default_gate(tmp_path: Path) -> None:
    (tmp_path / "welcome.html").write_text(TEMPLATE, encoding="utf-8")
    _, doc = gate("welcome.html", cwd=tmp_path)
    file = doc["files"][0]
    assert "merge_tags" in file["report"]["checks"]
    merge = [f for f in file["findings"] if f["rule"].startswith("merge_tags.")]
    assert merge and all(f["severity"] == "info" and not f["blocking"] for f in merge)


SIZE = 1_000_000
HOSTILE = {
    "open braces": "{" * SIZE,
    "open double braces with text": "{{ a" * (SIZE // 4),
    "closed tags": "{{a}}" * (SIZE // 5),
    "brackets": "[" * SIZE,
    "bracket words": "[Name " * (SIZE // 6),
    "percent signs": "%" * SIZE,
    "ampscript opens": "%%a" * (SIZE // 3),
    "mailchimp opens": "*|" * (SIZE // 2),
    "erb opens": "<%=" * (SIZE // 3),
    "dollar braces": "${" * (SIZE // 2),
    "greetings": "Hi " * (SIZE // 3),
    "dear and spaces": "Dear " + " " * SIZE,
    "spaces": " " * SIZE + "x",
    "conditional comments": "<!--[if mso]><v:rect href='{{a}}' src=x><![endif]-->" * (SIZE // 52),
    "attributes": "<img alt='{{a}}' title='[FirstName]'>" * (SIZE // 38),
    "tabs before words": "\t" * SIZE + "x",
}


def hostile_message(body: str) -> ParsedMessage:
    msg = EmailMessage()
    msg["From"] = "a@fernway.example"
    msg["To"] = "b@customer.example"
    msg["Subject"] = body[:2000]
    msg.set_content(body)
    msg.add_alternative(f"<p>{body}</p><a href='{body[:50_000]}'>x</a>", subtype="html")
    return ParsedMessage(msg.as_bytes())


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_checked_within_the_pipelines_budget(name: str) -> None:
    """The pipeline's CPU budget (MAILQA_CHECK_CPU_SECONDS) would make a quadratic scan
    ``errored``; the check reports instead, and lists a bounded number of occurrences."""
    ctx = check_context(Settings(), offline=True)
    pipeline = Pipeline(build_checks(["merge_tags"]))
    report = asyncio.run(pipeline.run(hostile_message(HOSTILE[name]), ctx))
    result = report.checks["merge_tags"]
    assert result.status in (Status.PASSED, Status.WARNING, Status.FAILED), result.error
    assert result.details["occurrences"] <= MAX_OCCURRENCES
    assert sum(len(f.locations) for f in result.findings) <= MAX_OCCURRENCES


def test_reading_stops_once_the_list_is_full_and_says_so() -> None:
    result = analyse(hostile_message("{{a}} " * 5000))
    assert result.details["occurrences"] == MAX_OCCURRENCES and result.details["truncated"]
    assert result.summary.startswith(f"at least {MAX_OCCURRENCES} unreplaced")
    assert all(len(f.locations) <= 10 for f in result.findings)
    assert not analyse(hostile_message("Hi {{a}}.")).details["truncated"]
