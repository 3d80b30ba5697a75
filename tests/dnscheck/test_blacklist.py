"""The blacklist check against DNS lists served by NSD: listings, self-tests, errors."""

from __future__ import annotations

from typing import Any

import pytest
from tests.dnscheck.conftest import DBL_ERROR_DOMAIN, GOOD_IP, LISTED_IP, LISTED_IP6, DnsLab

from mailqa.checks.blacklist import (
    BlacklistCheck,
    BlacklistDetails,
    blacklists_report_info,
    linked_domains,
    query_label,
)
from mailqa.core.errors import RulesError
from mailqa.core.message import Envelope, ParsedMessage
from mailqa.core.report import CheckResult, Status
from mailqa.net.dns import DnsResolver
from mailqa.resources import check_context
from mailqa.rules.dnsbl import load_dnsbl
from mailqa.settings import Settings

HTML_BODY = (
    '<html><body><a href="https://www.evil.example/offer">Offer</a>'
    '<a href="https://shop.good.example/">Shop</a><img src="http://cdn.refused.example/a.png">'
    '<a href="mailto:x@ignored.example">mail</a><a href="https://10.0.0.1/">ip</a>'
    "</body></html>"
)


def message(html: str = "<p>Hi</p>") -> bytes:
    return (
        "From: Shop <news@good.example>\r\nTo: a@receiver.example\r\nSubject: Hi\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html
    ).encode()


async def run_blacklist(
    dns_lab: DnsLab,
    ip: str | None,
    html: str = "<p>Hi</p>",
    resolver: DnsResolver | None = None,
) -> tuple[CheckResult, BlacklistDetails]:
    msg = ParsedMessage(message(html), Envelope(mail_from="bounce@good.example", client_ip=ip))
    ctx = check_context(dns_lab.settings(), resolver=resolver or dns_lab.resolver())
    result = await BlacklistCheck().run(msg, ctx)
    return result, BlacklistDetails.model_validate(result.details)


def by_list(details: BlacklistDetails, name: str, target: str) -> dict[str, Any]:
    """One result row as the report's JSON has it."""
    [row] = [r for r in details.results if r.name == name and r.target == target]
    return row.model_dump()


async def test_listed_ip(dns_lab: DnsLab) -> None:
    result, d = await run_blacklist(dns_lab, LISTED_IP)
    row = by_list(d, "IPBL", LISTED_IP)
    assert row["listed"] is True and row["status"] == "listed"
    assert row["query"] == "99.33.22.11.ipbl.test"
    assert [c["code"] for c in row["codes"]] == ["127.0.0.2", "127.0.0.4"]
    assert row["codes"][1]["meanings"] == ["exploited host"]
    assert row["reason"] == "Listed for spam, see https://ipbl.test/99"
    assert row["delist_url"] == "https://ipbl.test/delist"
    assert result.status == Status.FAILED and d.listed == 1
    [finding] = [f for f in result.findings if f.rule == "blacklist.listed"]
    assert finding.url == "https://ipbl.test/delist" and LISTED_IP in finding.title


async def test_clean_ip_and_domains(dns_lab: DnsLab) -> None:
    result, d = await run_blacklist(dns_lab, GOOD_IP)
    assert by_list(d, "IPBL", GOOD_IP)["status"] == "clean"
    assert by_list(d, "DOMBL", "good.example")["status"] == "clean"
    assert d.domains == ["good.example"]
    # the broken lists are reported, never counted as clean
    assert by_list(d, "DEADBL", GOOD_IP)["status"] == "unusable"
    assert by_list(d, "ALLBL", GOOD_IP)["status"] == "unusable"
    assert by_list(d, "REFUSEBL", GOOD_IP)["status"] == "error"
    health = {z.name: z for z in d.zones}
    assert health["IPBL"].usable and health["DOMBL"].usable
    assert "not listed" in (health["DEADBL"].problem or "")
    assert "lists everything" in (health["ALLBL"].problem or "")
    assert "127.255.255.254" in (health["REFUSEBL"].problem or "")
    assert "OFFBL" not in health  # disabled
    assert result.status == Status.WARNING and d.listed == 0
    assert {f.rule for f in result.findings} == {"blacklist.zone-unusable"}


async def test_linked_domain_listed_with_bitmask(dns_lab: DnsLab) -> None:
    result, d = await run_blacklist(dns_lab, GOOD_IP, HTML_BODY)
    assert d.domains == ["good.example", "evil.example", "refused.example"]
    evil = by_list(d, "DOMBL", "evil.example")
    assert evil["listed"] is True
    assert evil["codes"][0]["meanings"] == ["black", "grey"]
    refused = by_list(d, "DOMBL", "refused.example")
    assert refused["status"] == "error" and not refused["listed"]
    assert result.status == Status.FAILED


async def test_ipv6_nibbles(dns_lab: DnsLab) -> None:
    _, d = await run_blacklist(dns_lab, LISTED_IP6)
    row = by_list(d, "IPBL", LISTED_IP6)
    assert row["listed"] is True and str(row["query"]).startswith("9.9.0.0.0.0.0.0.")
    assert not [r for r in d.results if r.name == "DEADBL"]  # IPv4-only list not asked


async def test_private_ip_is_not_looked_up(dns_lab: DnsLab) -> None:
    _, d = await run_blacklist(dns_lab, "192.168.1.5")
    assert d.ip is None and "not a public address" in (d.ip_note or "")
    assert all(r.kind == "domain" for r in d.results)


async def test_dns_down_is_error_not_clean(dns_lab: DnsLab, dead_server: str) -> None:
    resolver = DnsResolver([dead_server], timeout=0.3)
    result, d = await run_blacklist(dns_lab, LISTED_IP, resolver=resolver)
    assert d.results and all(r.status == "error" and not r.listed for r in d.results)
    assert result.status == Status.ERRORED and result.retryable


async def test_mailtrap_shape(dns_lab: DnsLab) -> None:
    result, _ = await run_blacklist(dns_lab, LISTED_IP)
    info = blacklists_report_info(result)
    assert info["result"] == "success" and info["ip"] == LISTED_IP
    assert info["domain"] == "good.example"
    rows = {r["name"]: r for r in info["report"]}
    assert rows["IPBL"] == {
        "name": "IPBL",
        "url": "https://ipbl.test/delist",
        "in_black_list": True,
    }
    assert rows["DOMBL"]["in_black_list"] is False
    assert blacklists_report_info(None)["result"] == "pending"
    skipped = CheckResult.skipped("blacklist", "offline")
    assert blacklists_report_info(skipped)["result"] == "error"


def test_linked_domains_use_registered_domain() -> None:
    msg = ParsedMessage(
        message(HTML_BODY + " see https://www.bbc.co.uk/news and http://x.y.z.shop.co.uk")
    )
    assert linked_domains(msg) == [
        "evil.example",
        "good.example",
        "refused.example",
        "bbc.co.uk",
        "shop.co.uk",
    ]


def test_bundled_lists_are_valid_and_current() -> None:
    data = load_dnsbl()
    enabled = {entry.name for entry in data.lists if entry.enabled}
    assert {"SPAMHAUS-ZEN", "SPAMHAUS-DBL", "SPAMCOP", "BARRACUDA", "URIBL", "SURBL"} <= enabled
    assert not {"SORBS-SPAM", "NIXSPAM"} & enabled  # closed lists are not queried
    dbl = next(e for e in data.lists if e.name == "SPAMHAUS-DBL")
    assert dbl.is_error_code("127.0.1.255") and not dbl.is_error_code("127.0.1.2")
    assert dbl.listed_test_point == "dbltest.com"
    points = {e.name: e.listed_test_point for e in data.lists if e.kind == "domain"}
    assert points["SURBL"] == "test.surbl.org" and points["URIBL"] == "test.uribl.com"
    zen = next(e for e in data.lists if e.name == "SPAMHAUS-ZEN")
    assert zen.is_error_code("127.255.255.254") and zen.meanings("127.0.0.4")[0].startswith("XBL")


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        (
            "version: '1'\nlists:\n  - {name: A, zone: a.test, kind: ip, codes: {10.0.0.2: x}}",
            "127.0.0.0/8",
        ),
        ("version: '1'\nlists:\n  - {name: A, zone: 'not a zone', kind: ip}", "not a DNS zone"),
        ("version: '1'\nlists:\n  - {name: A, zone: a.test, kind: url}", "kind"),
        (
            "version: '1'\nlists:\n  - {name: A, zone: a.test, kind: ip, bitmask: {3: x}}",
            "power of two",
        ),
        (
            "version: '1'\nlists:\n  - {name: A, zone: a.test, kind: ip}\n"
            "  - {name: A, zone: b.test, kind: ip}",
            "duplicate",
        ),
        ("lists: [", "cannot read"),
    ],
)
def test_invalid_list_files_are_rejected(tmp_path, body: str, message_part: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "lists.yaml"
    path.write_text(body)
    with pytest.raises(RulesError) as info:
        load_dnsbl(path)
    assert message_part in str(info.value)


async def test_ipv4_mapped_client_ip_is_looked_up_as_ipv4(dns_lab: DnsLab) -> None:
    """A dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d: it is an IPv4 target."""
    result, d = await run_blacklist(dns_lab, f"::ffff:{LISTED_IP}")
    assert d.ip == LISTED_IP and d.ip_note is None
    row = by_list(d, "IPBL", LISTED_IP)
    assert row["listed"] is True and row["query"] == "99.33.22.11.ipbl.test"
    # IPv4-only lists are asked too
    assert by_list(d, "DEADBL", LISTED_IP)["status"] == "unusable"
    assert result.status == Status.FAILED


async def test_ipv6_targets_use_the_ipv6_test_points(dns_lab: DnsLab) -> None:
    """RFC 5782 section 5: an IPv6 list lists ::FFFF:7F00:2 (nibbles), not 127.0.0.2."""
    _, d = await run_blacklist(dns_lab, LISTED_IP6)
    health = {z.name: z for z in d.zones}
    assert health["IP6BL"].usable, health["IP6BL"].problem
    assert health["IP6BL"].test_points == ["::ffff:7f00:2", "::ffff:7f00:1"]
    row = by_list(d, "IP6BL", LISTED_IP6)
    assert row["listed"] is True and row["codes"][0]["meanings"] == ["IPv6 spam source"]
    assert health["IPBL"].usable
    # IPv4 targets keep the IPv4 test points
    _, v4 = await run_blacklist(dns_lab, GOOD_IP)
    ipbl = next(z for z in v4.zones if z.name == "IPBL")
    assert ipbl.test_points == ["127.0.0.2", "127.0.0.1"]
    assert not next(z for z in v4.zones if z.name == "IP6BL").usable


def test_query_labels() -> None:
    assert query_label("11.22.33.99") == "99.33.22.11"
    assert query_label("::ffff:7f00:2") == "2.0.0.0.0.0.f.7.f.f.f.f" + ".0" * 20
    assert query_label("2001:db8::1") == "1" + ".0" * 23 + ".8.b.d.0.1.0.0.2"


async def test_bundled_lists_self_test_and_error_codes(dns_lab: DnsLab) -> None:
    """rules/dnsbl.yaml as shipped, against NSD serving zen.spamhaus.org, dbl.spamhaus.org,
    multi.surbl.org and multi.uribl.com with their documented test points."""
    settings = Settings(dns_servers=[dns_lab.nsd.address])  # the bundled lists
    html = f'<a href="https://www.{DBL_ERROR_DOMAIN}/x">x</a>'
    msg = ParsedMessage(
        message(html), Envelope(mail_from="bounce@good.example", client_ip=LISTED_IP)
    )
    ctx = check_context(settings, resolver=dns_lab.resolver())
    result = await BlacklistCheck().run(msg, ctx)
    d = BlacklistDetails.model_validate(result.details)
    health = {z.name: z for z in d.zones}
    for name, point in (
        ("SURBL", "test.surbl.org"),
        ("URIBL", "test.uribl.com"),
        ("SPAMHAUS-DBL", "dbltest.com"),
        ("SPAMHAUS-ZEN", "127.0.0.2"),
    ):
        assert health[name].usable, (name, health[name].problem)
        assert health[name].test_points[0] == point
    # lists NSD does not serve refuse: unusable, never clean
    assert not health["SPAMCOP"].usable
    assert by_list(d, "SPAMCOP", LISTED_IP)["status"] == "error"
    zen = by_list(d, "SPAMHAUS-ZEN", LISTED_IP)
    assert zen["listed"] is True
    assert [c["meanings"][0][:3] for c in zen["codes"]] == ["SBL", "XBL"]
    # DBL's 127.0.1.255 is an error answer, never a listing
    dbl = by_list(d, "SPAMHAUS-DBL", DBL_ERROR_DOMAIN)
    assert dbl["status"] == "error" and dbl["listed"] is False
    assert "127.0.1.255" in str(dbl["error"])
    errors = [f for f in result.findings if f.rule == "blacklist.lookup-error"]
    assert [f.data["target"] for f in errors if f.data["list"] == "SPAMHAUS-DBL"] == [
        DBL_ERROR_DOMAIN
    ]
    assert not [f for f in result.findings if f.rule == "blacklist.listed" and "DBL" in f.title]
    assert by_list(d, "URIBL", "good.example")["status"] == "clean"
