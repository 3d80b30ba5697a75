"""SPF (RFC 7208) evaluated against real records served by NSD."""

from __future__ import annotations

import ipaddress

import pytest
from tests.dnscheck.conftest import GOOD_IP, PROVIDER_IP, STRANGER_IP

from mailqa.net.dns import DnsResolver
from mailqa.net.spf import SpfError, _Evaluation, check_spf, parse_record


@pytest.mark.parametrize(
    ("domain", "ip", "result", "matched"),
    [
        ("good.example", GOOD_IP, "pass", "ip4:11.22.33.0/24"),
        ("good.example", PROVIDER_IP, "pass", "include:_spf.provider.example"),
        ("good.example", STRANGER_IP, "fail", "-all"),
        ("monitor.example", STRANGER_IP, "softfail", "~all"),
        ("amx.example", "12.0.0.1", "pass", "a"),
        ("amx.example", "12.0.1.200", "pass", "mx/24"),
        ("amx.example", "12.0.2.1", "fail", "-all"),
        ("redir.example", GOOD_IP, "pass", "ip4:11.22.33.0/24"),
        ("macro.example", GOOD_IP, "pass", "exists:%{i}._spf.%{d}"),
        ("macro.example", STRANGER_IP, "fail", "-all"),
        ("ptr.example", GOOD_IP, "pass", "ptr:good.example"),
        ("ptr.example", "11.22.33.45", "fail", "-all"),  # PTR not forward-confirmed
        ("v6.example", "2a01:4f8::1", "pass", "ip6:2a01:4f8::/32"),
        ("v6.example", "::ffff:11.22.33.44", "fail", "-all"),
    ],
)
async def test_results(
    resolver: DnsResolver, domain: str, ip: str, result: str, matched: str
) -> None:
    outcome = await check_spf(resolver, ip, f"bounce@{domain}", "mta.example")
    assert (outcome.result, outcome.matched) == (result, matched), outcome.reason


async def test_include_counts_lookups_and_records_the_chain(resolver: DnsResolver) -> None:
    outcome = await check_spf(resolver, PROVIDER_IP, "a@good.example", None)
    assert outcome.dns_lookups == 1
    assert outcome.chain == [
        "good.example: v=spf1 ip4:11.22.33.0/24 include:_spf.provider.example -all",
        "_spf.provider.example: v=spf1 ip4:44.55.66.0/24 ~all",
    ]
    assert outcome.record is not None and outcome.record.startswith("v=spf1 ip4:11.22.33.0/24")


async def test_more_than_ten_lookups_is_permerror(resolver: DnsResolver) -> None:
    outcome = await check_spf(resolver, STRANGER_IP, "a@many.example", None)
    assert outcome.result == "permerror"
    assert "more than 10 DNS-querying terms" in outcome.reason
    assert outcome.dns_lookups == 11


async def test_void_lookup_limit(resolver: DnsResolver) -> None:
    outcome = await check_spf(resolver, STRANGER_IP, "a@void.example", None)
    assert outcome.result == "permerror" and "void" in outcome.reason
    assert outcome.void_lookups == 3


@pytest.mark.parametrize(
    ("domain", "result", "reason"),
    [
        ("badsyntax.example", "permerror", "bad ip4 network"),
        ("twice.example", "permerror", "2 SPF records"),
        ("redirnone.example", "permerror", "has no SPF record"),
        ("nospf.example", "none", "publishes no SPF record"),
        ("nothing-here.example", "none", "publishes no SPF record"),
    ],
)
async def test_errors_and_none(
    resolver: DnsResolver, domain: str, result: str, reason: str
) -> None:
    outcome = await check_spf(resolver, GOOD_IP, f"x@{domain}", None)
    assert outcome.result == result and reason in outcome.reason


async def test_empty_mail_from_uses_helo(resolver: DnsResolver) -> None:
    outcome = await check_spf(resolver, GOOD_IP, "", "good.example")
    assert (outcome.identity, outcome.domain, outcome.result) == ("helo", "good.example", "pass")
    assert outcome.sender == "postmaster@good.example"


async def test_dns_failure_is_temperror(dead_server: str) -> None:
    resolver = DnsResolver([dead_server], timeout=0.3)
    outcome = await check_spf(resolver, GOOD_IP, "a@good.example", None)
    assert outcome.result == "temperror" and "failed" in outcome.reason


@pytest.mark.parametrize(
    "record",
    [
        "v=spf1 all:x",
        "v=spf1 include",
        "v=spf1 ip4:1.2.3.4/33",
        "v=spf1 ip6:1.2.3.4",
        "v=spf1 a/040",
        "v=spf1 redirect=a.example redirect=b.example",
        "v=spf1 exists:%{z}.example",
        "v=spf1 exists:%{c}.example",
        "v=spf1 include:50%.example",
        "v=spf1 foo",
        "v=spf1 ptr/24",
    ],
)
def test_syntax_errors(record: str) -> None:
    with pytest.raises(SpfError) as info:
        parse_record(record)
    assert info.value.result == "permerror"


@pytest.mark.parametrize(
    ("record", "term"),
    [
        ("v=spf1 ip4:192.0.2.5\n include:x.example ~all", "ip4:192.0.2.5\n"),
        ("v=spf1 a:ctrl.example\rptr -all", "a:ctrl.example\rptr"),
        ("v=spf1 a:\ufeffgarbage.example -all", "a:\ufeffgarbage.example"),
        ("v=spf1 a:example.-com", "a:example.-com"),
        ("v=spf1 mx:example.com- -all", "mx:example.com-"),
        ("v=spf1 include:example.123", "include:example.123"),
        ("v=spf1 a:%{d}.example.-com", "a:%{d}.example.-com"),
        ("v=spf1 redirect=-all ?all", "redirect=-all"),
        ("v=spf1 redirect=foo", "redirect=foo"),
        ("v=spf1 -all exp=-all", "exp=-all"),
        ("v=spf1 -all exp=%{c}.example.com", "exp=%{c}.example.com"),
        ("v=spf1 -all exp=%{r}.example.com", "exp=%{r}.example.com"),
        ("v=spf1 exists:%{t}.example.com", "exists:%{t}.example.com"),
        ("v=spf1 exists:%{d0}.example.com", "exists:%{d0}.example.com"),
    ],
)
def test_syntax_errors_name_the_broken_term(record: str, term: str) -> None:
    with pytest.raises(SpfError) as info:
        parse_record(record)
    assert info.value.result == "permerror"
    assert repr(term) in info.value.reason


@pytest.mark.parametrize(
    "record",
    [
        "v=spf1 a:%{d}",  # ends in a macro
        "v=spf1 a:example.com.",  # a trailing dot after the top label
        "v=spf1 a:mail.1-2",  # digits and a hyphen make a top label
        "v=spf1 a:x.a1",
        "v=spf1 redirect=%{d}.d.spf.example.com.",
        "v=spf1 -all exp=%{ir}.%{D2}",
        "v=spf1 -all exp=explain.example.com",
        "v=spf1 a -all ",  # trailing space
    ],
)
def test_valid_records(record: str) -> None:
    parse_record(record)


def test_exp_is_parsed() -> None:
    assert parse_record("v=spf1 -all exp=why.%{d}").explanation == "why.%{d}"


def test_unknown_modifier_is_ignored() -> None:
    parsed = parse_record("v=spf1 foo=bar.example -all")
    assert [t.mechanism for t in parsed.terms] == ["all"]


@pytest.mark.parametrize(
    ("spec", "expanded"),
    [
        ("%{s}", "strong-bad@email.example.com"),
        ("%{o}", "email.example.com"),
        ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"),
        ("%{d3}", "email.example.com"),
        ("%{d2}", "example.com"),
        ("%{d1}", "com"),
        ("%{dr}", "com.example.email"),
        ("%{d2r}", "example.email"),
        ("%{l}", "strong-bad"),
        ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"),
        ("%{lr-}", "bad.strong"),
        ("%{l1r-}", "strong"),
        ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
        ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
        ("%{S}", "strong-bad%40email.example.com"),
        ("a%%b%_c%-d", "a%b c%20d"),
    ],
)
async def test_macro_examples_of_rfc7208(resolver: DnsResolver, spec: str, expanded: str) -> None:
    run = _Evaluation(
        resolver, ipaddress.ip_address("192.0.2.3"), "strong-bad@email.example.com", None
    )
    assert await run.expand(spec, "email.example.com") == expanded


async def test_ipv6_macro(resolver: DnsResolver) -> None:
    """RFC 7208's example, a DNS name, so compared without case: the nibbles are written in
    upper case, as the OpenSPF suites' explanations expect."""
    run = _Evaluation(resolver, ipaddress.ip_address("2001:db8::cb01"), "a@b.example", None)
    expected = "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.b.example"
    expanded = await run.expand("%{ir}.%{v}._spf.%{d}", "b.example")
    assert expanded.lower() == expected
    assert expanded.startswith("1.0.B.C.")
