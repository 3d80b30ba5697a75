"""REPORT parsing, spamd addresses, the MX view of a message, and the Mailtrap shape."""

from __future__ import annotations

import pytest

from mailqa.checks.spam import (
    SpamDetails,
    mailtrap_spam_report,
    quality_score,
    scoring_bytes,
)
from mailqa.core.errors import ConfigError
from mailqa.core.message import Envelope, ParsedMessage
from mailqa.core.report import CheckResult, Status
from mailqa.net.spamd.client import SpamdAddress, parse_report_rules

REPORT_BODY = """\
Spam detection software, running on the system "mx",
has identified this incoming email as possible spam.

Content analysis details:   (1003.7 points, 5.0 required)

 pts rule name              description
---- ---------------------- --------------------------------------------------
-1.0 ALL_TRUSTED            Passed through trusted hosts only via SMTP
-0.0 NO_RELAYS              Informational: message was not relayed via SMTP
1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email
 0.2 NORMAL_HTTP_TO_IP      URI: URI host has a public dotted-decimal IPv4
                            address
 0.0 T_PDS_SHORT_SPOOFED_URL HTML message short and T_SPOOFED_URL (S_U_FP)
 4.5 LONG_WRAP              First line of a description that goes on
                            for two more lines: 10 times
                            the usual length
 0.0 NO_DESCRIPTION

"""


def test_rule_table_is_parsed_with_negative_integral_and_wrapped_points() -> None:
    rules = parse_report_rules(REPORT_BODY)
    assert [r.name for r in rules] == [
        "ALL_TRUSTED",
        "NO_RELAYS",
        "GTUBE",
        "NORMAL_HTTP_TO_IP",
        "T_PDS_SHORT_SPOOFED_URL",
        "LONG_WRAP",
        "NO_DESCRIPTION",
    ]
    by_name = {r.name: r for r in rules}
    assert by_name["ALL_TRUSTED"].score == -1.0
    assert by_name["GTUBE"].score == 1000.0
    assert by_name["NORMAL_HTTP_TO_IP"].description == (
        "URI: URI host has a public dotted-decimal IPv4 address"
    )
    # A continuation line that starts with a number is still a continuation.
    assert by_name["LONG_WRAP"].description == (
        "First line of a description that goes on for two more lines: 10 times the usual length"
    )
    assert by_name["T_PDS_SHORT_SPOOFED_URL"].description.startswith("HTML message short")
    assert by_name["NO_DESCRIPTION"].description == ""


def test_text_without_a_rule_table_has_no_rules() -> None:
    assert parse_report_rules("Spam detection software\n\nno table here\n") == []
    assert parse_report_rules("") == []


@pytest.mark.parametrize(
    ("url", "host", "port", "path"),
    [
        ("tcp://127.0.0.1:7830", "127.0.0.1", 7830, None),
        ("tcp://spamd", "spamd", 783, None),
        ("unix:///run/spamd.sock", None, None, "/run/spamd.sock"),
    ],
)
def test_spamd_urls(url: str, host: str | None, port: int | None, path: str | None) -> None:
    address = SpamdAddress.parse(url)
    assert address.host == host
    assert address.port == port
    assert (str(address.path) if address.path else None) == path


@pytest.mark.parametrize("url", ["http://spamd:783", "tcp://", "unix://", "tcp://h:notaport", ""])
def test_bad_spamd_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="spamd URL"):
        SpamdAddress.parse(url)


LOCAL_HOPS = (
    b"Received: from app.local (localhost [127.0.0.1])\r\n"
    b"\tby mailqa.local with ESMTP id 1; Mon, 23 Nov 2026 10:00:01 +0000\r\n"
    b"X-Mailer: app 1.0\r\n"
    b"Received: from localhost by app.local with local; Mon, 23 Nov 2026 10:00:00 +0000\r\n"
)
REMOTE_HOP = (
    b"Received: from mail.example.com (mail.example.com [203.0.113.7])\r\n"
    b"\tby relay.example.net with ESMTP; Mon, 23 Nov 2026 09:59:59 +0000\r\n"
)
HEADERS = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n"
BODY = b"\r\nhello\r\n"


def test_loopback_hops_on_top_are_dropped_and_remote_ones_kept() -> None:
    msg = ParsedMessage(LOCAL_HOPS + REMOTE_HOP + HEADERS + BODY)
    out = scoring_bytes(msg, "mx.test")
    assert b"127.0.0.1" not in out
    assert b"from localhost" not in out
    assert out.startswith(b"X-Mailer: app 1.0\r\n" + REMOTE_HOP)
    assert out.endswith(HEADERS + BODY)
    # Parsed back, the headers are intact.
    assert ParsedMessage(out).subject == "hi"


def test_loopback_hop_below_a_remote_hop_is_kept() -> None:
    raw = REMOTE_HOP + LOCAL_HOPS + HEADERS + BODY
    assert scoring_bytes(ParsedMessage(raw), "mx.test") == raw


def test_message_without_loopback_hops_is_sent_unchanged() -> None:
    raw = HEADERS + BODY
    assert scoring_bytes(ParsedMessage(raw), "mx.test") is raw


def test_receiving_hop_is_added_for_an_envelope_client_address() -> None:
    envelope = Envelope(client_ip="198.51.100.20", helo="sender.example.com")
    msg = ParsedMessage(LOCAL_HOPS + HEADERS + BODY, envelope)
    out = scoring_bytes(msg, "mx.test")
    first = out.split(b"\r\n")[0]
    assert first == b"Received: from sender.example.com (unknown [198.51.100.20])"
    assert out.split(b"\r\n")[1].startswith(b"\tby mx.test (mailqa) with ESMTP; ")
    assert b"127.0.0.1" not in out
    assert ParsedMessage(out).received[0].ip == "198.51.100.20"


def test_receiving_hop_is_not_duplicated() -> None:
    envelope = Envelope(client_ip="203.0.113.7")
    raw = REMOTE_HOP + HEADERS + BODY
    assert scoring_bytes(ParsedMessage(raw, envelope), "mx.test") == raw


def test_quality_score_scale() -> None:
    assert quality_score(-2.0, 5.0) == 100.0
    assert quality_score(0.0, 5.0) == 100.0
    assert quality_score(5.0, 5.0) == 50.0
    assert quality_score(10.0, 5.0) == 0.0
    assert quality_score(1000.0, 5.0) == 0.0
    assert quality_score(2.5, 5.0) == 75.0


def test_mailtrap_shape_of_unscored_results() -> None:
    too_large = CheckResult.skipped("spam", "too big").model_copy(
        update={"details": SpamDetails(outcome="too_large", size=10, max_size=5).model_dump()}
    )
    down = CheckResult.errored("spam", "down", retryable=True).model_copy(
        update={"details": SpamDetails(outcome="unavailable").model_dump()}
    )
    bare = CheckResult(name="spam", status=Status.SKIPPED)
    for result, code, message in [
        (too_large, 65, "EX_DATAERR"),
        (down, 69, "EX_UNAVAILABLE"),
        (bare, 69, "EX_UNAVAILABLE"),
    ]:
        shape = mailtrap_spam_report(result)
        assert shape["ResponseCode"] == code
        assert shape["ResponseMessage"] == message
        assert shape["Score"] == 0.0
        assert shape["Spam"] is False
        assert shape["Details"] == []
