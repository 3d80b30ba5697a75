"""The bulk-sender requirements (the report's ``compliance`` section), judged from real
checks: messages signed with keys published in NSD, real SPF, DMARC and reverse lookups."""

from __future__ import annotations

import dkim
from tests.dnscheck.conftest import GOOD_IP, NO_PTR_IP, DnsLab

from mailqa.checks.auth.check import AuthCheck
from mailqa.checks.headers import HeadersCheck
from mailqa.core.message import Envelope, ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import Report
from mailqa.resources import check_context

SIGNED = [b"from", b"to", b"subject", b"date", b"message-id"]
ONE_CLICK = [b"list-unsubscribe", b"list-unsubscribe-post"]


def newsletter(from_addr: str = "news@good.example", one_click: bool = True) -> bytes:
    lines = [
        f"From: Shop <{from_addr}>",
        "To: someone@receiver.example",
        "Subject: Weekly offers",
        "Date: Mon, 06 Jan 2025 10:00:00 +0000",
        "Message-ID: <w1@good.example>",
        "List-Unsubscribe: <https://good.example/u/1>, <mailto:u@good.example>",
    ]
    if one_click:
        lines.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    return ("\r\n".join([*lines, "", "This week's offers.", ""])).encode()


def sign(raw: bytes, key: bytes, headers: list[bytes]) -> bytes:
    return bytes(dkim.sign(raw, b"sel", b"good.example", key, include_headers=headers)) + raw


async def judge(
    dns_lab: DnsLab, raw: bytes, *, ip: str = GOOD_IP, tls: bool | None = True
) -> Report:
    envelope = Envelope(
        mail_from="bounce@good.example", client_ip=ip, helo="mta.good.example", tls=tls
    )
    ctx = check_context(dns_lab.settings(), resolver=dns_lab.resolver())
    return await Pipeline([HeadersCheck(), AuthCheck()]).run(ParsedMessage(raw, envelope), ctx)


def statuses(report: Report) -> dict[str, str]:
    return {i.id: i.status for i in report.compliance.items}


async def test_a_compliant_newsletter_meets_every_profile(dns_lab: DnsLab) -> None:
    raw = sign(newsletter(), dns_lab.keys.good_private, SIGNED + ONE_CLICK)
    report = await judge(dns_lab, raw)
    assert set(statuses(report).values()) == {"pass"}, report.compliance
    for profile in report.compliance.profiles:
        assert (profile.status, profile.passed) == ("pass", profile.total)
    gmail = report.compliance.profile("gmail-bulk")
    assert gmail.total == 10 and not gmail.failing
    # What each item says is what was found.
    reasons = {i.id: i.reason for i in report.compliance.items}
    assert reasons["one-click-unsubscribe"] == "both headers signed by d=good.example"
    assert "mail.good.example" in reasons["reverse-dns"]
    # The section is part of the report as served and stored.
    dumped = report.model_dump(mode="json", by_alias=True)
    assert dumped["compliance"]["profiles"][0]["id"] == "gmail-bulk"


async def test_unsubscribe_headers_the_signature_does_not_cover_fail_one_click(
    dns_lab: DnsLab,
) -> None:
    raw = sign(newsletter(), dns_lab.keys.good_private, SIGNED)
    report = await judge(dns_lab, raw)
    assert statuses(report)["one-click-unsubscribe"] == "fail"
    gmail = report.compliance.profile("gmail-bulk")
    assert gmail.failing == ["one-click-unsubscribe"] and gmail.status == "fail"
    # Outlook.com asks for authentication alone: still met.
    assert report.compliance.profile("outlook-high-volume").status == "pass"


async def test_each_failing_requirement_is_named_with_its_reason(dns_lab: DnsLab) -> None:
    raw = newsletter(from_addr="shop.offers@gmail.com", one_click=False)
    report = await judge(dns_lab, raw, ip=NO_PTR_IP, tls=False)
    found = statuses(report)
    assert found["dkim-pass"] == "fail"  # unsigned
    assert found["one-click-unsubscribe"] == "fail"
    assert found["smtp-tls"] == "fail"
    assert found["from-own-domain"] == "fail"
    assert found["reverse-dns"] == "fail"
    assert found["message-format"] == "pass"
    reasons = {i.id: i.reason for i in report.compliance.items}
    assert reasons["smtp-tls"] == "the SMTP session did not use TLS (no STARTTLS)"
    assert "gmail.com" in reasons["from-own-domain"]
    assert reasons["dkim-pass"] == "the message has no DKIM signature"
    yahoo = report.compliance.profile("yahoo-bulk")
    assert yahoo.status == "fail" and "reverse-dns" in yahoo.failing


async def test_without_the_auth_check_its_items_are_unknown_not_guessed(
    dns_lab: DnsLab,
) -> None:
    raw = sign(newsletter(), dns_lab.keys.good_private, SIGNED + ONE_CLICK)
    envelope = Envelope(client_ip=GOOD_IP, tls=None)
    ctx = check_context(dns_lab.settings())
    report = await Pipeline([HeadersCheck()]).run(ParsedMessage(raw, envelope), ctx)
    found = statuses(report)
    for item in ("spf-pass", "dkim-pass", "dmarc-record", "dmarc-aligned", "reverse-dns"):
        assert found[item] == "unknown"
    assert found["smtp-tls"] == "unknown"  # not received over SMTP
    assert found["one-click-unsubscribe"] == "unknown"  # right headers; signature not read
    assert found["message-format"] == "pass" and found["from-own-domain"] == "pass"
    assert report.compliance.profile("gmail-bulk").status == "unknown"
