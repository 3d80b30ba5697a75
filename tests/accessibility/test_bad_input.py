"""Hostile and broken HTML: the accessibility check answers, bounded, and never raises."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailqa.checks import build_checks
from mailqa.checks.accessibility.check import analyse
from mailqa.checks.html_detect.engine import MAX_CSS_CHARS
from mailqa.core.html import HtmlDocument
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import Status
from mailqa.resources import check_context
from mailqa.settings import Settings

SIZE = 300_000
HOSTILE = {
    "nested lang wrappers": '<html lang="en"><body>'
    + '<div lang="en" style="font-size:30px;font-weight:bold">x' * (SIZE // 60),
    "nested links with images": '<a href="h"><img>' * (SIZE // 14),
    "nested tables": "<table><tr><td>" * (SIZE // 15),
    "nested large spans": "<p>" + '<span style="font-size:30px">ab ' * (SIZE // 36),
    "aria-hidden around links": '<div aria-hidden="true"><a href="x">a</a>' * (SIZE // 40),
    "links in one paragraph": '<p style="color:#333">'
    + 'text <a href="x" style="text-decoration:none;color:#444">l</a> ' * (SIZE // 60),
    "referenced duplicate ids": '<p id="a" aria-labelledby="a">x</p>' * (SIZE // 35),
    "unterminated style": "<style>p{color:#fff",
    "broken colours": '<p style="color:#ggg;background:rgb(1,2">x</p><font color="zz">y</font>',
    "garbage selectors": "<style>p:::x{color:red} [[{color:blue} a{color:</style><p>x</p>",
}


def message(html: str) -> ParsedMessage:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["To"] = "b@example.com"
    msg["Subject"] = "x"
    msg.set_content(html, subtype="html")
    return ParsedMessage(msg.as_bytes())


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_html_is_analysed_within_the_pipelines_budget(name: str) -> None:
    """The pipeline's CPU budget (MAILQA_CHECK_CPU_SECONDS) would make a quadratic walk
    ``errored``; the check reports instead."""
    ctx = check_context(Settings(), offline=True)
    report = asyncio.run(Pipeline(build_checks(["accessibility"])).run(message(HOSTILE[name]), ctx))
    result = report.checks["accessibility"]
    assert result.status in (Status.PASSED, Status.WARNING, Status.FAILED), result.error
    assert result.score is not None


def test_style_beyond_the_css_cap_is_not_read_and_says_so() -> None:
    rule = ".x td{color:#010101}"
    html = f"<style>{rule * (MAX_CSS_CHARS // len(rule) + 10)}</style><p>x</p>"
    assert analyse(HtmlDocument(html)).details["css_truncated"] is True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "<table>",
                "</table>",
                "<tr>",
                "<td>",
                "<th>",
                '<a href="x">',
                "</a>",
                "<img>",
                '<img alt="">',
                '<p style="color:#777;font-size:9px">',
                "</p>",
                '<div aria-hidden="true">',
                "</div>",
                '<span lang="xx_YY">',
                "<h3>",
                "<h1>",
                "</h1>",
                '<td bgcolor="#000">',
                '<font color="#111">',
                "<style>td{color:#eee}</style>",
                "text ",
                "CLICK HERE ",
                '<div role="nope" aria-foo="1">',
                '<meta name="viewport" content="user-scalable=no">',
                "<",
                "&amp;",
            ]
        ),
        max_size=60,
    )
)
def test_any_tag_soup_gives_a_result(parts: list[str]) -> None:
    result = analyse(HtmlDocument("".join(parts)))
    assert result.score is not None
    for finding in result.findings:
        assert finding.data["occurrences"] >= 1
        for where in finding.locations:
            assert where.line is not None and where.line >= 1
