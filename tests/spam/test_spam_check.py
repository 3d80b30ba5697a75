"""The spam check against the session's real spamd."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from aiospamc.exceptions import AIOSpamcConnectionFailed, ClientException

from mailqa.checks.headers import HeadersCheck
from mailqa.checks.spam import SpamCheck, SpamDetails, mailtrap_spam_report, scoring_bytes
from mailqa.core.check import CheckContext
from mailqa.core.message import Envelope, ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import Severity, Status
from mailqa.net.spamd.client import SpamdClient, SpamdUnavailable, failure_reason
from mailqa.net.spamd.process import ManagedSpamd, free_port
from mailqa.resources import check_context
from mailqa.settings import Settings

Sample = Callable[[str], ParsedMessage]

RULES_DIR = Path("/usr/share/spamassassin")


def details(result_details: dict[str, object]) -> SpamDetails:
    return SpamDetails.model_validate(result_details)


async def test_gtube_is_spam_and_lists_the_gtube_rule(sample: Sample, ctx: CheckContext) -> None:
    result = await SpamCheck().run(sample("gtube.eml"), ctx)
    spam = details(result.details)
    assert result.status == Status.FAILED
    assert spam.outcome == "scored"
    assert spam.is_spam is True
    assert spam.score is not None and spam.score >= 1000
    gtube = next(r for r in spam.rules if r.name == "GTUBE")
    assert gtube.score == 1000.0
    assert "Generic Test for Unsolicited Bulk Email" in gtube.description
    assert result.score == 0.0
    assert result.findings[0].rule == "spam.GTUBE"
    assert result.findings[0].severity == Severity.ERROR


async def test_threshold_is_spamds_own(sample: Sample, threshold: float, ctx: CheckContext) -> None:
    result = await SpamCheck().run(sample("gtube.eml"), ctx)
    assert details(result.details).threshold == threshold
    assert f"threshold {threshold:g}" in result.summary


async def test_clean_transactional_message_is_ham(sample: Sample, ctx: CheckContext) -> None:
    result = await SpamCheck().run(sample("order_shipped.eml"), ctx)
    spam = details(result.details)
    assert result.status == Status.PASSED
    assert spam.is_spam is False
    assert spam.score is not None and spam.score < 1.0
    assert result.score is not None and result.score >= 90
    assert not [f for f in result.findings if f.severity != Severity.INFO]


async def test_multi_rule_spam_points_sum_to_the_score(
    sample: Sample, threshold: float, ctx: CheckContext
) -> None:
    result = await SpamCheck().run(sample("lottery_spam.eml"), ctx)
    spam = details(result.details)
    assert result.status == Status.FAILED
    assert spam.score is not None and spam.score > threshold
    positive = [r for r in spam.rules if r.score > 0]
    assert len(positive) >= 10
    assert {"GUARANTEED_100_PERCENT", "MISSING_DATE", "DEAR_BENEFICIARY"} <= {
        r.name for r in positive
    }
    # REPORT prints each rule's points rounded to 0.1: allow that much per rule.
    total = sum(r.score for r in spam.rules)
    assert abs(total - spam.score) <= 0.05 * len(spam.rules) + 1e-9
    # One finding per rule that added points, worst first.
    assert [f.rule for f in result.findings] == [
        f"spam.{r.name}" for r in sorted(positive, key=lambda r: -r.score)
    ]


def _describe(rule: str) -> str:
    pattern = re.compile(rf"^describe\s+{rule}\s+(.+?)\s*$", re.M)
    for path in sorted(RULES_DIR.glob("*.cf")):
        match = pattern.search(path.read_text(errors="replace"))
        if match:
            return match.group(1)
    raise AssertionError(f"no description of {rule} in {RULES_DIR}")


async def test_wrapped_descriptions_are_joined(sample: Sample, ctx: CheckContext) -> None:
    result = await SpamCheck().run(sample("lottery_spam.eml"), ctx)
    rules = {r.name: r for r in details(result.details).rules}
    # spamd wraps this one onto a second line in its REPORT table.
    wrapped = rules["NORMAL_HTTP_TO_IP"]
    assert wrapped.description == "URI: " + _describe("NORMAL_HTTP_TO_IP")
    for rule in rules.values():
        assert "\n" not in rule.description
        assert "  " not in rule.description


async def test_mailtrap_shape_of_a_scored_message(
    sample: Sample, threshold: float, ctx: CheckContext
) -> None:
    result = await SpamCheck().run(sample("lottery_spam.eml"), ctx)
    shape = mailtrap_spam_report(result)
    assert set(shape) == {
        "ResponseCode",
        "ResponseMessage",
        "ResponseVersion",
        "Score",
        "Spam",
        "Threshold",
        "Details",
    }
    spam = details(result.details)
    assert shape["ResponseCode"] == 0
    assert shape["ResponseMessage"] == "EX_OK"
    assert re.fullmatch(r"\d+\.\d+", shape["ResponseVersion"])
    assert shape["Score"] == spam.score
    assert shape["Spam"] is True
    # Always an int, as Mailtrap sends it (its SDK refuses anything else); "Spam" is exact.
    assert shape["Threshold"] == round(threshold) and isinstance(shape["Threshold"], int)
    for exact, sent in ((5.0, 5), (6.5, 6), (7.6, 8)):
        changed = result.model_copy(update={"details": {**result.details, "threshold": exact}})
        assert mailtrap_spam_report(changed)["Threshold"] == sent
        assert isinstance(mailtrap_spam_report(changed)["Threshold"], int)
    assert [d["RuleName"] for d in shape["Details"]] == [r.name for r in spam.rules]
    assert all(isinstance(d["Pts"], float) for d in shape["Details"])


async def test_spamd_version_is_reported(
    sample: Sample, ctx: CheckContext, spamd: ManagedSpamd
) -> None:
    # A fresh client learns the version by asking spamd itself (HEADERS probe).
    assert ctx.spamd is not None
    fresh = SpamdClient(ctx.spamd.url)
    assert await fresh.server_version() == spamd.version
    assert spamd.version is not None and re.fullmatch(r"\d+\.\d+\.\d+", spamd.version)
    result = await SpamCheck().run(
        sample("order_shipped.eml"), dataclasses.replace(ctx, spamd=fresh)
    )
    assert details(result.details).spamd_version == spamd.version


async def test_mail_captured_from_loopback_is_not_all_trusted(ctx: CheckContext) -> None:
    raw = (
        b"Received: from app.local (localhost [127.0.0.1])\r\n"
        b"\tby mailqa.local with ESMTP id 1; Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        + (Path(__file__).parent / "samples" / "order_shipped.eml").read_bytes()
    )
    result = await SpamCheck().run(ParsedMessage(raw), ctx)
    names = {r.name for r in details(result.details).rules}
    assert "ALL_TRUSTED" not in names


async def test_private_network_hop_is_not_trusted(ctx: CheckContext) -> None:
    """The managed spamd trusts only loopback, so a LAN relay is scored like an MX would."""
    raw = (
        b"Received: from app (app.internal [10.1.2.3])\r\n"
        b"\tby relay.internal with ESMTP id 1; Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        + (Path(__file__).parent / "samples" / "order_shipped.eml").read_bytes()
    )
    result = await SpamCheck().run(ParsedMessage(raw), ctx)
    names = {r.name for r in details(result.details).rules}
    assert "ALL_TRUSTED" not in names
    assert "NO_RELAYS" not in names  # the hop was read as a relay


def _two_megabyte_message() -> ParsedMessage:
    line = b"Quarterly figures for the regional offices, see the table below. " * 2 + b"\r\n"
    body = line * (2 * 1024 * 1024 // len(line) + 1)
    head = (
        b"From: reports@example.com\r\nTo: team@example.org\r\nSubject: Quarterly report\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <q4-report@example.com>\r\n\r\n"
    )
    return ParsedMessage(head + body)


async def test_two_megabyte_message_over_the_limit_is_skipped(ctx: CheckContext) -> None:
    msg = _two_megabyte_message()
    assert ctx.spamd is not None and len(msg.raw) > ctx.spamd.max_size
    result = await SpamCheck().run(msg, ctx)
    assert result.status == Status.SKIPPED
    assert "over the spamd size limit" in result.summary
    assert "MAILQA_SPAMD_MAX_SIZE" in result.summary
    spam = details(result.details)
    assert spam.outcome == "too_large"
    assert spam.size == len(msg.raw)
    assert mailtrap_spam_report(result)["ResponseCode"] == 65


@pytest.mark.slow
async def test_two_megabyte_message_under_a_raised_limit_is_scored(
    threshold: float, spamd: ManagedSpamd
) -> None:
    client = SpamdClient(spamd.url, max_size=4 * 1024 * 1024, timeout=60)
    msg = _two_megabyte_message()
    result = await SpamCheck().run(msg, check_context(Settings(), spamd=client))
    spam = details(result.details)
    assert result.status in (Status.PASSED, Status.FAILED)
    assert spam.outcome == "scored"
    assert spam.threshold == threshold
    assert spam.size > 2 * 1024 * 1024


async def test_no_spamd_is_skipped_with_the_reason(sample: Sample, settings: Settings) -> None:
    ctx = check_context(settings, extras={"spamd_unavailable": "no spamd: it is off"})
    result = await SpamCheck().run(sample("gtube.eml"), ctx)
    assert result.status == Status.SKIPPED
    assert result.summary == "no spamd: it is off"
    assert details(result.details).outcome == "not_configured"


async def test_an_unreachable_spamd_is_reported_with_the_reason(tmp_path: Path) -> None:
    """The reason is the system's (refused, no such socket), never empty."""
    closed = SpamdClient(f"tcp://127.0.0.1:{free_port()}", timeout=5)
    with pytest.raises(SpamdUnavailable) as refused:
        await closed.ping()
    assert str(refused.value) == f"spamd at {closed.url} is unreachable: connection refused"
    no_socket = SpamdClient(f"unix://{tmp_path / 'spamd.sock'}", timeout=5)
    with pytest.raises(SpamdUnavailable) as missing:
        await no_socket.ping()
    assert str(missing.value).endswith("is unreachable: no such file or directory")


def test_a_failure_reason_is_never_empty() -> None:
    def raised(error: BaseException, cause: BaseException) -> BaseException:
        try:
            raise error from cause
        except BaseException as exc:
            return exc

    assert failure_reason(raised(AIOSpamcConnectionFailed(), TimeoutError())) == "timed out"
    resolver = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert failure_reason(raised(AIOSpamcConnectionFailed(), resolver)) == (
        "name or service not known"
    )
    assert failure_reason(raised(ClientException(), ValueError("bad"))) == "bad"
    assert failure_reason(ClientException()) == "ClientException"


async def test_unreachable_spamd_is_errored_and_retryable(
    sample: Sample, settings: Settings
) -> None:
    client = SpamdClient(f"tcp://127.0.0.1:{free_port()}", timeout=5)
    ctx = check_context(settings, spamd=client)
    report = await Pipeline([SpamCheck(), HeadersCheck()]).run(sample("gtube.eml"), ctx)
    spam = report.checks["spam"]
    assert spam.status == Status.ERRORED
    assert spam.retryable is True
    assert spam.error == f"spamd at {client.url} is unreachable: connection refused"
    # The rest of the report is unaffected.
    assert report.checks["headers"].status == Status.PASSED
    assert mailtrap_spam_report(spam)["ResponseCode"] == 69


async def test_unix_socket_without_a_daemon_is_errored(
    sample: Sample, settings: Settings, tmp_path: Path
) -> None:
    client = SpamdClient(f"unix://{tmp_path / 'spamd.sock'}", timeout=5)
    result = await SpamCheck().run(sample("gtube.eml"), check_context(settings, spamd=client))
    assert result.status == Status.ERRORED
    assert result.retryable is True


async def test_concurrent_scans_share_one_client(sample: Sample, ctx: CheckContext) -> None:
    messages = [sample("gtube.eml"), sample("order_shipped.eml")] * 4
    results = await asyncio.gather(*(SpamCheck().run(m, ctx) for m in messages))
    assert [r.status for r in results] == [Status.FAILED, Status.PASSED] * 4


def test_ipv4_mapped_client_address_is_named_as_ipv4() -> None:
    raw = (Path(__file__).parent / "samples" / "order_shipped.eml").read_bytes()
    mapped = ParsedMessage(raw, Envelope(client_ip="::ffff:11.22.33.99", helo="mta.example"))
    hop = scoring_bytes(mapped, "mx.test").split(b"\n", 2)[:2]
    assert b"[11.22.33.99]" in hop[0] and b"::ffff" not in b"".join(hop)
    # a dual-stack listener's loopback is loopback: no receiving hop is added
    loopback = ParsedMessage(raw, Envelope(client_ip="::ffff:127.0.0.1"))
    assert scoring_bytes(loopback, "mx.test") == raw
