"""The adapters reshape stored results; the SDK's own models must parse what they make."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mailtrap.models.messages import (
    AnalysisReportError,
    AnalysisReportResponse,
    AnalysisReportSuccess,
    Blacklists,
    EmailMessage,
    SpamReport,
)
from tests.dnscheck.conftest import LISTED_IP, DnsLab

from mailqa.api.routes.mailtrap.shapes import (
    blacklists_report_info,
    html_analysis,
    human_size,
    mail_headers,
    message_json,
    spam_report,
)
from mailqa.checks.blacklist import BlacklistCheck
from mailqa.core.message import Envelope, ParsedMessage
from mailqa.core.report import (
    CheckResult,
    Finding,
    Location,
    MessageSummary,
    Report,
    Severity,
    Status,
)
from mailqa.resources import check_context
from mailqa.store.capture import utf8_size
from mailqa.store.models import Message

RAW = (
    b"From: Shop <news@good.example>\r\nTo: Ana <ana@example.com>\r\nSubject: Hi\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hi</p>\r\n"
)


def row(**values: Any) -> Message:
    base: dict[str, Any] = {
        "id": 7,
        "inbox_id": 3,
        "created_at": datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        "subject": "Hi",
        "from_header": "Shop <news@good.example>",
        "from_address": "news@good.example",
        "to_header": "Ana <ana@example.com>",
        "size": len(RAW),
        "is_read": False,
        "mail_from": "bounce@good.example",
        "rcpt_to": ["ana@example.com"],
        "client_ip": LISTED_IP,
    }
    base.update(values)
    return Message(**base)


def report(*results: CheckResult) -> Report:
    return Report.from_results(MessageSummary(), list(results))


def sdk_message(data: dict[str, Any]) -> EmailMessage:
    return EmailMessage(**data)


async def test_real_blacklist_result_parses_as_the_sdks_blacklists(
    dns_lab: DnsLab,
) -> None:
    msg = ParsedMessage(RAW, Envelope(mail_from="bounce@good.example", client_ip=LISTED_IP))
    ctx = check_context(dns_lab.settings(), resolver=dns_lab.resolver())
    result = await BlacklistCheck().run(msg, ctx)
    shaped = message_json(
        row(), (0, 0), report(result), "/api/x/messages/7", blacklist_enabled=True
    )
    parsed = sdk_message(shaped)
    info = parsed.blacklists_report_info
    assert isinstance(info, Blacklists)
    assert info.result == "success" and info.ip == LISTED_IP and info.domain == "good.example"
    listed = {r.name: r.in_black_list for r in info.report}
    assert listed["IPBL"] is True and listed["DOMBL"] is False


def test_blacklists_pending_off_and_skipped() -> None:
    msg = row()
    pending = blacklists_report_info(None, msg, enabled=True)
    assert isinstance(pending, dict) and pending["result"] == "pending"
    assert Blacklists(**pending).domain == "good.example"
    assert blacklists_report_info(None, msg, enabled=False) is False
    offline = report(CheckResult.skipped("blacklist", "offline"))
    assert blacklists_report_info(offline, msg, enabled=True) is False
    errored = blacklists_report_info(
        report(CheckResult.errored("blacklist", "DNS down")), msg, enabled=True
    )
    assert isinstance(errored, dict) and errored["result"] == "error"
    assert Blacklists(**errored).ip == LISTED_IP


def test_message_object_fields() -> None:
    parsed = ParsedMessage(RAW)
    sizes = (utf8_size(parsed.html), utf8_size(parsed.text))
    data = message_json(row(), sizes, None, "/base/messages/7", blacklist_enabled=False)
    message = sdk_message(data)
    assert (message.from_email, message.from_name) == ("news@good.example", "Shop")
    assert (message.to_email, message.to_name) == ("ana@example.com", "Ana")
    assert message.html_body_size == len("<p>Hi</p>\r\n") and message.text_body_size == 0
    assert message.html_source_path == "/base/messages/7/body.htmlsource"
    assert message.sent_at == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert data["blacklists_report_info"] is False
    bare = message_json(
        row(from_header=None, to_header=None, subject=None),
        sizes,
        None,
        "/b",
        blacklist_enabled=False,
    )
    assert bare["to_email"] == "ana@example.com" and bare["subject"] == ""
    sdk_message(bare)


def html_finding(rule: str, lines: list[int], clients: list[dict[str, Any]]) -> Finding:
    return Finding(
        rule=rule,
        title=rule.replace("-", " ").title(),
        severity=Severity.ERROR,
        locations=[Location(line=n, column=1) for n in lines],
        data={"clients": clients},
    )


def test_html_analysis_one_error_per_line_grouped_by_client_category() -> None:
    clients = [
        {"name": "Outlook (Windows)", "platform": "windows", "category": "desktop", "support": "n"},
        {"name": "Gmail (Android)", "platform": "android", "category": "mobile", "support": "a"},
        {"name": "Gmail (Webmail)", "platform": "desktop-webmail", "support": "n"},
        {"name": "Mystery", "platform": "ios", "category": "mobile", "support": "u"},
    ]
    result = CheckResult(
        name="html",
        status=Status.FAILED,
        findings=[
            html_finding("css-display-flex", [12, 3, 12], clients),
            html_finding("html-form", [], clients[:1]),
            Finding(rule="note", title="Note", severity=Severity.INFO),
        ],
    )
    shaped = html_analysis(report(result))
    parsed = AnalysisReportResponse(report=shaped).report
    assert isinstance(parsed, AnalysisReportSuccess)
    assert [(e.error_line, e.rule_name) for e in parsed.errors] == [
        (0, "Html Form"),
        (3, "Css Display Flex"),
        (12, "Css Display Flex"),
    ]
    flex = parsed.errors[1].email_clients
    assert flex.desktop == ["Outlook (Windows)"]
    assert flex.mobile == ["Gmail (Android)"]  # unknown support is not listed
    assert flex.web == ["Gmail (Webmail)"]  # platform decides when category is absent


def test_html_analysis_error_shapes() -> None:
    for shaped in (
        html_analysis(report()),
        html_analysis(report(CheckResult.errored("html", "rules missing"))),
    ):
        parsed = AnalysisReportResponse(report=shaped).report
        assert isinstance(parsed, AnalysisReportError) and parsed.msg


def test_spam_report_when_spam_check_is_off_keeps_the_shape() -> None:
    shaped = spam_report(report())
    parsed = SpamReport(**shaped)
    assert parsed.response_code == 69 and parsed.score == 0 and parsed.spam is False


def test_mail_headers_repeat_as_lists_and_show_bcc() -> None:
    raw = b"Received: a\r\nReceived: b\r\nTo: x@example.com\r\nCc: y@example.com\r\n\r\n."
    headers = mail_headers(ParsedMessage(raw), ["x@example.com", "Y@example.com", "z@example.com"])
    assert headers["received"] == ["a", "b"]
    assert headers["bcc"] == "z@example.com"


def test_human_size() -> None:
    assert human_size(512) == "512 Bytes"
    assert human_size(3700) == "3.6 KB"
    assert human_size(5 * 1024 * 1024) == "5.0 MB"
