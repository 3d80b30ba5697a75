"""Adding a check is one module and one registry line: a check registered here (and nowhere
else) shows in the API's report, in ``mailqa check``'s output and SARIF rules, and in the
rule catalogue."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import ClassVar

import pytest
from tests.gate.conftest import write
from tests.support.stack import base_settings, start_stack
from typer.testing import CliRunner

from mailqa.checks import BUILTIN_CHECKS
from mailqa.cli.gate import rule_catalog
from mailqa.cli.main import app
from mailqa.core.check import CheckContext
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Severity
from mailqa.core.rules import CheckRules

RULES = CheckRules("toy", page="ci-gate.md#rules", category="toy", penalties={Severity.WARNING: 7})
NO_GREETING = RULES.rule(
    "no-greeting",
    "Message does not greet the reader",
    Severity.WARNING,
    "Friendly mail starts with hello.",
)


class ToyCheck:
    name: ClassVar[str] = "toy"
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = False
    rules: ClassVar[CheckRules] = RULES

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        text = (msg.text or "").lower()
        findings = [] if "hello" in text else [NO_GREETING.finding("No hello in the text.")]
        return CheckResult.from_findings(self.name, findings, RULES.penalties, summary="toy")


MESSAGE = (
    "From: app@example.com\r\nTo: user@example.com\r\nSubject: Hi\r\n"
    "Date: Mon, 06 Jan 2025 10:00:00 +0000\r\nMessage-ID: <toy-1@example.com>\r\n\r\n"
    "Your order shipped.\r\n"
)


@pytest.fixture
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUILTIN_CHECKS, "toy", ToyCheck)


def test_a_registered_check_is_in_the_catalogue(toy_registered: None) -> None:
    catalog = rule_catalog()
    assert catalog.rules["toy.no-greeting"] is NO_GREETING
    assert catalog.describe("toy.no-greeting", "toy") is NO_GREETING


def test_a_registered_check_runs_in_mailqa_check(
    toy_registered: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "order.eml", MESSAGE)
    runner = CliRunner()
    out = runner.invoke(app, ["check", "--jobs", "1", "--checks", "toy", "order.eml", "-f", "json"])
    assert out.exit_code == 0, out.stdout  # a warning does not fail the gate by default
    (entry,) = json.loads(out.stdout)["files"]
    toy = entry["report"]["checks"]["toy"]
    assert toy["status"] == "warning" and toy["score"] == 93.0
    assert [f["rule"] for f in toy["findings"]] == ["toy.no-greeting"]

    sarif = runner.invoke(
        app, ["check", "--jobs", "1", "--checks", "toy", "order.eml", "-f", "sarif"]
    )
    (rule,) = json.loads(sarif.stdout)["runs"][0]["tool"]["driver"]["rules"]
    assert rule["id"] == "toy.no-greeting"
    assert rule["shortDescription"]["text"] == "Message does not greet the reader"
    assert rule["helpUri"].endswith("/ci-gate.md#rules")


async def test_a_registered_check_is_in_the_api_report(
    toy_registered: None, tmp_path: Path
) -> None:
    # The toy check is registered in this process: the server's checks run here too.
    settings = base_settings(
        tmp_path, checks=["headers", "toy"], smtp_allow_admin_tokens=True, analysis_processes=0
    )
    async with start_stack(settings) as running:
        await asyncio.to_thread(running.smtp_send, MESSAGE.encode())
        async with running.client() as client:
            latest = await client.get(
                "/api/v1/inboxes/1/messages/latest", params={"wait": 60, "analyzed": "true"}
            )
            assert latest.status_code == 200, latest.text
            report = await client.get(f"/api/v1/messages/{latest.json()['id']}/report")
        assert report.status_code == 200, report.text
        toy = report.json()["checks"]["toy"]
        assert toy["status"] == "warning"
        assert [f["rule"] for f in toy["findings"]] == ["toy.no-greeting"]
