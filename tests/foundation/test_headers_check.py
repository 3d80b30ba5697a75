"""The headers check: each rule fires on the message that deserves it, and only there."""

from __future__ import annotations

import asyncio

import pytest

from mailqa.checks.headers import HeadersCheck
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult
from mailqa.resources import check_context
from mailqa.settings import Settings

GOOD_HEADERS = [
    "From: Shop <orders@shop.example>",
    "To: user@example.com",
    "Subject: Your order has shipped",
    "Date: Mon, 23 Nov 2026 10:00:00 +0000",
    "Message-ID: <abc123@shop.example>",
    "MIME-Version: 1.0",
]
ALT_BODY = [
    'Content-Type: multipart/alternative; boundary="b"',
    "",
    "--b",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Hello",
    "--b",
    "Content-Type: text/html; charset=utf-8",
    "",
    "<p>Hello</p>",
    "--b--",
    "",
]


def build(headers: list[str], body: list[str] | None = None) -> bytes:
    return "\r\n".join(
        [*headers, *(body or ["Content-Type: text/plain", "", "Hello", ""])]
    ).encode()


def run(raw: bytes) -> CheckResult:
    return asyncio.run(HeadersCheck().run(ParsedMessage(raw), check_context(Settings())))


def rules(result: CheckResult) -> set[str]:
    return {f.rule for f in result.findings}


def without(name: str) -> list[str]:
    return [h for h in GOOD_HEADERS if not h.startswith(f"{name}:")]


def test_a_clean_transactional_message_passes() -> None:
    result = run(build(GOOD_HEADERS, ALT_BODY))
    assert result.status.value == "passed" and result.score == 100 and not result.findings


@pytest.mark.parametrize(
    ("headers", "rule", "severity"),
    [
        (without("From"), "headers.from-missing", "error"),
        ([*without("From"), "From: not an address"], "headers.from-invalid", "error"),
        (without("Date"), "headers.date-missing", "error"),
        ([*without("Date"), "Date: sometime yesterday"], "headers.date-invalid", "error"),
        (without("Message-ID"), "headers.message-id-missing", "warning"),
        ([*without("Message-ID"), "Message-ID: abc"], "headers.message-id-invalid", "warning"),
        (without("Subject"), "headers.subject-missing", "warning"),
        (
            [*without("Subject"), "Subject: FREE MONEY FOR EVERYONE NOW"],
            "headers.subject-all-caps",
            "warning",
        ),
        (
            [*without("Subject"), "Subject: " + "long words " * 10],
            "headers.subject-too-long",
            "info",
        ),
        ([*GOOD_HEADERS, "Reply-To: nobody"], "headers.reply-to-invalid", "warning"),
        (without("To"), "headers.to-missing", "warning"),
        ([*GOOD_HEADERS, "Subject: again"], "headers.duplicate-header", "error"),
    ],
)
def test_rule_fires(headers: list[str], rule: str, severity: str) -> None:
    result = run(build(headers, ALT_BODY))
    found = [f for f in result.findings if f.rule == rule]
    assert found, f"{rule} not reported: {rules(result)}"
    assert found[0].severity.value == severity
    if severity != "info":
        assert result.score is not None and result.score < 100


def test_bulk_mail_needs_one_click_unsubscribe() -> None:
    bulk = [*GOOD_HEADERS, "Precedence: bulk"]
    assert "headers.list-unsubscribe-missing" in rules(run(build(bulk, ALT_BODY)))
    mailto_only = [*bulk, "List-Unsubscribe: <mailto:unsub@shop.example>"]
    found = rules(run(build(mailto_only, ALT_BODY)))
    assert {"headers.list-unsubscribe-no-https", "headers.list-unsubscribe-post-missing"} <= found
    one_click = [
        *bulk,
        "List-Unsubscribe: <https://shop.example/u/1>, <mailto:unsub@shop.example>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    ]
    result = run(build(one_click, ALT_BODY))
    assert not {r for r in rules(result) if "unsubscribe" in r}
    assert result.details["bulk"] is True
    broken = [*bulk, "List-Unsubscribe: https://shop.example/u/1"]
    assert "headers.list-unsubscribe-invalid" in rules(run(build(broken, ALT_BODY)))


def test_transactional_mail_does_not_need_unsubscribe() -> None:
    assert not {r for r in rules(run(build(GOOD_HEADERS, ALT_BODY))) if "unsubscribe" in r}


def test_html_without_text_alternative_and_alternative_order() -> None:
    html_only = ["Content-Type: text/html; charset=utf-8", "", "<p>Hi</p>", ""]
    assert "headers.text-part-missing" in rules(run(build(GOOD_HEADERS, html_only)))
    reversed_alt = [
        'Content-Type: multipart/alternative; boundary="b"',
        "",
        "--b",
        "Content-Type: text/html",
        "",
        "<p>Hi</p>",
        "--b",
        "Content-Type: text/plain",
        "",
        "Hi",
        "--b--",
        "",
    ]
    assert "headers.alternative-order" in rules(run(build(GOOD_HEADERS, reversed_alt)))
    no_mime = [h for h in GOOD_HEADERS if not h.startswith("MIME-Version")]
    assert "headers.mime-version-missing" in rules(run(build(no_mime, ALT_BODY)))


def test_encoded_words_are_decoded_before_checking() -> None:
    headers = [*without("Subject"), "Subject: =?utf-8?q?Caf=C3=A9_au_lait?="]
    result = run(build(headers, ALT_BODY))
    assert result.status.value == "passed"
    assert ParsedMessage(build(headers, ALT_BODY)).subject == "Café au lait"


def test_lines_over_998_characters_are_reported_with_the_longest() -> None:
    body = ALT_BODY.copy()
    body[11] = "<p>" + "x" * 998 + "</p>"  # line 18 of the message: 1005 characters
    result = run(build(GOOD_HEADERS, body))
    [finding] = [f for f in result.findings if f.rule == "headers.line-too-long"]
    assert finding.severity.value == "warning"
    assert "Line 18 " in finding.message and "1005 characters" in finding.message
    exactly = ALT_BODY.copy()
    exactly[11] = "y" * 998
    assert "headers.line-too-long" not in rules(run(build(GOOD_HEADERS, exactly)))
