"""The shared resolver against a real NSD: answers, statuses, cache, concurrency, failures."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.dnscheck.conftest import DnsLab
from tests.dnscheck.delay_proxy import DelayProxy

from mailqa.core.errors import ConfigError
from mailqa.net.dns import DnsResolver, dkim_dnsfunc, parse_server, ptr_name, reverse_ip_name


def test_parse_server_forms() -> None:
    assert parse_server("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_server("10.0.0.1") == ("10.0.0.1", 53)
    assert parse_server("[::1]:5300") == ("::1", 5300)
    assert parse_server("::1") == ("::1", 53)
    for bad in ("localhost:53", "127.0.0.1:0", "127.0.0.1:x", "[::1"):
        with pytest.raises(ConfigError):
            parse_server(bad)


def test_reverse_names() -> None:
    assert reverse_ip_name("1.2.3.4") == "4.3.2.1"
    assert ptr_name("1.2.3.4") == "4.3.2.1.in-addr.arpa"
    nibbles = reverse_ip_name("2001:db8::1")
    assert nibbles.startswith("1.0.0.0.") and nibbles.endswith(".8.b.d.0.1.0.0.2")
    assert len(nibbles.split(".")) == 32
    assert reverse_ip_name("::ffff:127.0.0.2") == "2.0.0.127"


async def test_statuses(resolver: DnsResolver) -> None:
    txt = await resolver.txt("good.example")
    assert txt.ok and txt.records[0].startswith("v=spf1 ip4:11.22.33.0/24")
    mx = await resolver.query("good.example", "MX")
    assert mx.records == ("10 mail.good.example",)
    missing = await resolver.query("nothing-here.example", "A")
    assert missing.status == "nxdomain" and missing.void and not missing.failed
    nodata = await resolver.query("good.example", "AAAA")
    assert nodata.status == "nodata" and nodata.void
    ptr = await resolver.query(ptr_name("11.22.33.44"), "PTR")
    assert ptr.records == ("mail.good.example",)
    bad = await resolver.query("x" * 70 + ".example", "A")
    assert bad.status == "invalid"


async def test_long_dkim_key_is_joined(resolver: DnsResolver, dns_lab: DnsLab) -> None:
    answer = await resolver.txt("sel._domainkey.good.example")
    assert answer.records == (f"v=DKIM1; k=rsa; p={dns_lab.keys.good_public_b64}",)
    lookup = dkim_dnsfunc(await resolver.prefetch_txt(["sel._domainkey.good.example"]))
    assert lookup(b"sel._domainkey.good.example.") == answer.records[0].encode()
    assert lookup(b"other._domainkey.good.example.") is None


async def test_cache_hits_and_ttl(dns_lab: DnsLab) -> None:
    resolver = dns_lab.resolver(max_ttl=100.0, negative_ttl=50.0)
    first = await resolver.txt("good.example")
    again = await resolver.txt("GOOD.example.")
    assert not first.cached and again.cached and again.records == first.records
    await resolver.query("nothing-here.example", "A")
    assert (await resolver.query("nothing-here.example", "A")).cached
    assert resolver.stats.hits == 2 and resolver.stats.misses == 2
    assert resolver.stats.hit_rate == 0.5
    # positive answers live for min(TTL 300, cap 100); negative ones for the SOA minimum, capped
    assert 99 < resolver.remaining_ttl("good.example", "TXT") <= 100
    assert 49 < resolver.remaining_ttl("nothing-here.example", "A") <= 50
    short = dns_lab.resolver(max_ttl=0.2)
    await short.txt("good.example")
    remaining = short.remaining_ttl("good.example", "TXT")
    assert 0 < remaining <= 0.2
    await asyncio.sleep(remaining + 0.02)  # the expiry itself is under test
    assert not (await short.txt("good.example")).cached


async def test_concurrent_askers_share_one_lookup(resolver: DnsResolver) -> None:
    answers = await asyncio.gather(*(resolver.txt("monitor.example") for _ in range(30)))
    assert {a.records for a in answers} == {("v=spf1 ip4:11.22.33.44 ~all",)}
    assert resolver.stats.misses == 1 and resolver.stats.shared == 29


async def test_lookups_run_together(dns_lab: DnsLab) -> None:
    """20 lookups through a distant server are all in flight at once, not one after another:
    the proxy answers none of them before it has been asked all 20 questions."""
    host, port = dns_lab.nsd.address.split(":")
    async with DelayProxy((host, int(port)), delay=0.1, hold_until=20) as proxy:
        resolver = DnsResolver([proxy.address], timeout=3.0)
        names = [(f"i{n}.example", "TXT") for n in range(1, 12)] + [
            (f"n{n}.void.example", "A") for n in range(9)
        ]
        answers = await resolver.query_many(names)
    assert len(answers) == 20 and len(proxy.questions) == 20
    assert all(not a.failed for a in answers), [a.error for a in answers if a.failed]


async def test_concurrency_bound(dns_lab: DnsLab) -> None:
    host, port = dns_lab.nsd.address.split(":")
    async with DelayProxy((host, int(port)), delay=0.1) as proxy:
        resolver = DnsResolver([proxy.address], timeout=3.0, concurrency=2)
        start = time.perf_counter()
        await resolver.query_many((f"i{n}.example", "TXT") for n in range(1, 7))
        elapsed = time.perf_counter() - start
    assert elapsed >= 0.29, "6 lookups two at a time need three round trips"


async def test_dead_server_is_an_error_not_cached(dead_server: str) -> None:
    resolver = DnsResolver([dead_server], timeout=0.3)
    start = time.perf_counter()
    answer = await resolver.txt("good.example")
    assert answer.failed and answer.error
    assert time.perf_counter() - start < 2.0
    assert not (await resolver.txt("good.example")).cached
    assert resolver.stats.errors == 2
