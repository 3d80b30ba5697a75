"""The accessibility rules through the registry: `mailqa check` runs the check by default and
its findings reach the JSON report, SARIF (rule metadata from the catalogue), JUnit and
GitHub annotations, and the score, with no code of the check's own in any of them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from tests.gate.conftest import write
from typer.testing import CliRunner

from mailqa.checks import build_checks
from mailqa.cli.main import app

IMAGE_ONLY = """<!DOCTYPE html>
<html lang="en"><head><title>Sale</title></head>
<body>
<div lang="en">
<img src="https://cdn.shop.example/sale.png" width="600" height="900">
</div>
</body></html>
"""
LOW_CONTRAST = """<!DOCTYPE html>
<html lang="en"><head><title>Receipt</title></head>
<body><div lang="en">
<h1>Your receipt</h1>
<p style="color:#bbbbbb">Thanks for your order. It ships tomorrow and arrives soon.</p>
</div></body></html>
"""


@pytest.fixture
def templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "mail/sale.html", IMAGE_ONLY)
    write(tmp_path, "mail/receipt.html", LOW_CONTRAST)
    return tmp_path


def gate(*args: str) -> tuple[int, str]:
    out = CliRunner().invoke(app, ["check", "--jobs", "1", *args])
    return out.exit_code, out.stdout


def test_the_check_is_on_by_default_offline() -> None:
    assert "accessibility" in {check.name for check in build_checks()}


def test_mailqa_check_reports_it_with_severities_and_score(templates: Path) -> None:
    code, out = gate("mail", "-f", "json")
    assert code == 1  # the image-only template without alt is critical: an error
    files = {entry["path"]: entry["report"]["checks"] for entry in json.loads(out)["files"]}
    sale = files["mail/sale.html"]["accessibility"]
    assert sale["status"] == "failed"
    critical = next(f for f in sale["findings"] if f["rule"] == "accessibility.image-only")
    assert (critical["severity"], critical["data"]["impact"]) == ("error", "critical")
    assert critical["locations"][0]["line"] == 5
    receipt = files["mail/receipt.html"]["accessibility"]
    assert receipt["status"] == "warning"
    assert [f["rule"] for f in receipt["findings"]] == ["accessibility.color-contrast"]
    assert receipt["score"] == 96.0  # one warning: 100 - 4
    code, _ = gate("mail/receipt.html", "-f", "json")
    assert code == 0  # a serious finding is a warning: the default gate passes


def test_sarif_junit_and_github_carry_the_findings(templates: Path) -> None:
    _, sarif_text = gate("mail", "-f", "sarif")
    run = json.loads(sarif_text)["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    contrast = rules["accessibility.color-contrast"]
    assert contrast["shortDescription"]["text"] == "Text contrast too low"
    assert "WCAG 2.2 1.4.3" in contrast["fullDescription"]["text"]
    assert contrast["helpUri"].endswith("/accessibility.md#rules")
    located = next(r for r in run["results"] if r["ruleId"] == "accessibility.color-contrast")
    region = located["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 5

    _, junit = gate("mail", "-f", "junit")
    suites = {s.get("name"): s for s in ET.fromstring(junit).findall("testsuite")}
    case = next(
        c for c in suites["mail/sale.html"].findall("testcase") if c.get("name") == "accessibility"
    )
    failure = case.find("failure")
    assert failure is not None and "accessibility.image-only" in (failure.text or "")

    _, github = gate("mail", "-f", "github")
    line = next(x for x in github.splitlines() if "accessibility.image-only" in x)
    assert line.startswith("::error file=mail/sale.html,line=5,")
