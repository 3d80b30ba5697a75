"""Check work is bounded in CPU time and never runs on the event loop.

A check that uses more than ``MAILQA_CHECK_CPU_SECONDS`` stops at its next checkpoint and is
``errored`` with the reason; the others still report. While a costly message is analysed,
the server keeps answering.
"""

from __future__ import annotations

import asyncio
import email.policy
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest_asyncio
from tests.support.stack import Running, base_settings, start_stack

from mailqa.checks.headers import HeadersCheck
from mailqa.checks.html import HtmlCheck
from mailqa.checks.links.check import LinksCheck
from mailqa.core.budget import CpuBudget, CpuBudgetExceeded, checkpoint, run_budgeted
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.resources import check_context
from mailqa.settings import Settings


def html_mail(html: str, subject: str = "costly") -> bytes:
    mail = EmailMessage()
    mail["From"] = "app@app.example"
    mail["To"] = "user@example.com"
    mail["Subject"] = subject
    mail.set_content("text part")
    mail.add_alternative(html, subtype="html", cte="quoted-printable")
    return mail.as_bytes(policy=email.policy.SMTP)  # CRLF, as on the wire


HEAVY_CSS = "".join(f".c{i} {{ display: flex; color: red }}\n" for i in range(60_000))
MANY_TAGS = "".join(
    f'<td style="display:flex"><a href="https://example.com/{i}">x</a></td>' for i in range(40_000)
)


def test_the_budget_stops_work_at_a_checkpoint() -> None:
    def spin() -> None:
        while True:
            checkpoint()

    budget = CpuBudget(0.02)
    try:
        run_budgeted(budget, spin)
    except CpuBudgetExceeded as exc:
        assert "0.02 s of CPU" in str(exc)
    else:
        raise AssertionError("the budget did not stop the loop")
    assert budget.spent >= 0.02
    checkpoint()  # outside a budgeted call: nothing to stop


def test_abandoned_work_stops_at_its_next_checkpoint() -> None:
    budget = CpuBudget(1000)
    budget.abandon()
    try:
        run_budgeted(budget, checkpoint)
    except CpuBudgetExceeded as exc:
        assert "time limit" in str(exc)
    else:
        raise AssertionError("abandoned work went on")


async def test_a_check_over_its_cpu_budget_is_errored_and_the_others_report() -> None:
    msg = ParsedMessage(html_mail(f"<style>{HEAVY_CSS}</style><p>hi</p>"))
    pipeline = Pipeline([HtmlCheck(), HeadersCheck()], timeout=120, cpu_seconds=0.05)
    report = await pipeline.run(msg, check_context(Settings(offline=True)))
    html = report.checks["html"]
    assert html.status.value == "errored"
    assert "0.05 s of CPU time" in (html.error or "")
    assert report.checks["headers"].status.value != "errored"


async def test_a_message_too_costly_to_scan_errors_every_check() -> None:
    msg = ParsedMessage(html_mail(MANY_TAGS))
    pipeline = Pipeline([HtmlCheck(), LinksCheck()], timeout=120, cpu_seconds=0.01)
    report = await pipeline.run(msg, check_context(Settings(offline=True)))
    for name in ("html", "links"):
        assert report.checks[name].status.value == "errored"
        assert "too costly to analyse" in (report.checks[name].error or "")


async def test_the_same_message_within_budget_is_analysed() -> None:
    msg = ParsedMessage(html_mail(MANY_TAGS))
    pipeline = Pipeline([HtmlCheck(), LinksCheck()], timeout=120, cpu_seconds=60)
    report = await pipeline.run(msg, check_context(Settings(offline=True)))
    assert {r.status.value for r in report.checks.values()} <= {"passed", "warning", "failed"}


@pytest_asyncio.fixture
async def costly_stack(tmp_path: Path) -> AsyncIterator[Running]:
    settings = base_settings(
        tmp_path,
        checks=["headers", "html", "hygiene", "links"],
        link_check=False,
        check_cpu_seconds=0.1,  # the html check needs about 0.4 s CPU for its capped CSS
        smtp_max_message_size=30_000_000,
    )
    async with start_stack(settings) as stack:
        yield stack


async def test_a_costly_message_over_smtp_is_bounded_by_the_cpu_budget(
    costly_stack: Running,
) -> None:
    """Several MB of CSS over real SMTP: the HTML check stops at its CPU budget and says so,
    the other checks report, and the HTTP API answers throughout."""
    # Cheap to scan (one style element), costly to walk: only the HTML check goes over.
    raw = html_mail(f"<style>{HEAVY_CSS * 2}</style><p>hi</p>", subject="big one")
    assert len(raw) > 4_000_000
    await asyncio.to_thread(costly_stack.smtp_send, raw)
    report = None
    started = time.perf_counter()
    async with costly_stack.client() as c:
        r = await c.get("/api/v1/inboxes/1/messages")
        [row] = [m for m in r.json()["messages"] if m["subject"] == "big one"]
        while report is None and time.perf_counter() - started < 120:
            assert (await c.get("/healthz")).status_code == 200
            got = await c.get(f"/api/v1/messages/{row['id']}/report")
            if got.status_code == 200:
                report = got.json()
            await asyncio.sleep(0.01)
    assert report is not None, "no report"
    errored = {n: c["error"] for n, c in report["checks"].items() if c["status"] == "errored"}
    assert errored, report["checks"]
    assert all("CPU" in e or "costly" in e for e in errored.values()), errored
    assert report["checks"]["headers"]["status"] != "errored", report["checks"]["headers"]
    assert "html" in errored
