"""SSRF protection: non-public destinations are refused by default, with a clear reason.

The loopback server is really listening in these tests, so a refusal that did not hold would
show up as a request in ``server.requests``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import quote

import pytest
from tests.dnscheck.conftest import DnsLab

from mailqa.core.errors import ConfigError
from mailqa.net.dns import DnsResolver
from mailqa.net.http.fetcher import FetcherConfig, LinkFetcher
from mailqa.net.http.policy import AddressPolicy, address_class

from .conftest import MakeFetcher
from .local_http import LocalHttpServer
from .rebind_dns import RebindingDns


def _requests_to(server: LocalHttpServer, path: str) -> int:
    return server.count(path)


async def test_loopback_literal_refused_by_default(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    result = await make_fetcher(allow=()).fetch(server.url("/page/ssrf-loopback"))
    assert result.error_kind == "refused" and not result.ok
    assert "127.0.0.1" in (result.error or "") and "loopback" in (result.error or "")
    assert "MAILQA_LINK_ALLOW" in (result.error or "")
    assert _requests_to(server, "/page/ssrf-loopback") == 0


async def test_cloud_metadata_refused(make_fetcher: MakeFetcher) -> None:
    result = await make_fetcher(allow=()).fetch("http://169.254.169.254/latest/meta-data/")
    assert result.error_kind == "refused"
    assert "link-local" in (result.error or "") and "metadata" in (result.error or "")


async def test_name_resolving_to_private_ip_refused(make_fetcher: MakeFetcher) -> None:
    result = await make_fetcher(allow=()).fetch("http://internal.links.test/admin")
    assert result.error_kind == "refused"
    assert "internal.links.test resolves to 10.0.0.1" in (result.error or "")
    assert "private" in (result.error or "")


async def test_name_with_one_private_answer_refused(make_fetcher: MakeFetcher) -> None:
    result = await make_fetcher(allow=()).fetch("http://mixed.links.test/")
    assert result.error_kind == "refused" and "10.0.0.1" in (result.error or "")


async def test_public_looking_redirect_to_private_ip_refused(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    # public.links.test is allowed by name (it stands for a public site); it redirects to the
    # loopback address itself, which is not allowed: the second hop must be refused.
    fetcher = make_fetcher(allow=("public.links.test",))
    target = server.url("/page/ssrf-secret")
    start = server.url(f"/redirect?to={quote(target, safe='')}", host="public.links.test")
    result = await fetcher.fetch(start)
    assert result.error_kind == "refused" and not result.ok
    assert [h.status_code for h in result.redirects] == [302]
    assert result.final_url == target
    assert "loopback" in (result.error or "")
    assert _requests_to(server, "/page/ssrf-secret") == 0


async def test_redirect_to_metadata_refused(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    fetcher = make_fetcher(allow=("public.links.test",))
    start = server.url(
        "/redirect?to=http%3A%2F%2F169.254.169.254%2Flatest", host="public.links.test"
    )
    result = await fetcher.fetch(start)
    assert result.error_kind == "refused" and "metadata" in (result.error or "")


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://100.64.0.1/",
        "http://192.168.1.1/",
    ],
)
async def test_other_non_public_literals_refused(make_fetcher: MakeFetcher, url: str) -> None:
    result = await make_fetcher(allow=()).fetch(url)
    assert result.error_kind == "refused", result.error


# Host spellings that browsers and inet_aton read as a loopback (or the unspecified) address.
# The test resolver knows none of these names: a refusal must come from reading the host itself.
OBFUSCATED = [
    ("2130706433", "127.0.0.1", "loopback"),
    ("127.1", "127.0.0.1", "loopback"),
    ("0x7f000001", "127.0.0.1", "loopback"),
    ("017700000001", "127.0.0.1", "loopback"),
    ("0x7f.1", "127.0.0.1", "loopback"),
    ("[::127.0.0.1]", "::7f00:1", "loopback"),
    ("[::ffff:7f00:1]", "::ffff:7f00:1", "loopback"),
    ("localhost", "127.0.0.1", "loopback"),
    ("0", "0.0.0.0", "unspecified"),
]


@pytest.mark.parametrize(("host", "address", "kind"), OBFUSCATED)
async def test_obfuscated_loopback_hosts_refused(
    server: LocalHttpServer, make_fetcher: MakeFetcher, host: str, address: str, kind: str
) -> None:
    path = f"/page/ssrf-obfuscated-{quote(host, safe='')}"
    result = await make_fetcher(allow=()).fetch(f"http://{host}:{server.port}{path}")
    assert result.error_kind == "refused" and not result.ok, result.error
    assert result.error is not None
    assert address in (result.error or "") and kind in (result.error or "")
    assert "MAILQA_LINK_ALLOW" in (result.error or "")
    assert _requests_to(server, path) == 0


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f.0.0.1", "localhost"])
async def test_obfuscated_host_dials_the_address_it_denotes(
    server: LocalHttpServer, make_fetcher: MakeFetcher, host: str
) -> None:
    # Allowed by range, the numeric spellings reach 127.0.0.1 without asking any resolver.
    result = await make_fetcher(allow=("127.0.0.0/8",)).fetch(f"http://{host}:{server.port}/ok")
    assert result.ok, result.error


async def test_real_dns_answer_with_loopback_address_refused(
    server: LocalHttpServer, dns_lab: DnsLab
) -> None:
    # NSD serves web.good.example IN A 127.0.0.1 (tests/dnscheck/conftest.py).
    resolver = dns_lab.resolver()
    url = f"http://web.good.example:{server.port}/page/ssrf-nsd"
    for allow, refused in (((), True), (("web.good.example",), False)):
        config = FetcherConfig(
            policy=AddressPolicy.from_entries(allow), timeout=2.0, connect_timeout=2.0
        )
        async with LinkFetcher(config, resolve=resolver.connect_addresses) as fetcher:
            result = await fetcher.fetch(url)
        if refused:
            assert result.error_kind == "refused", result.error
            assert "web.good.example resolves to 127.0.0.1" in (result.error or "")
            assert _requests_to(server, "/page/ssrf-nsd") == 0
        else:
            assert result.ok, result.error
            seen = [r for r in server.requests if r.path == "/page/ssrf-nsd"]
            # Dialled the vetted address; the Host header still names the host.
            assert [r.host for r in seen] == [f"web.good.example:{server.port}"]


async def test_dns_rebinding_never_reaches_the_private_address() -> None:
    """A real DNS server answers 127.0.0.2 (allowed: it stands for a public site) and then
    127.0.0.1 (refused) for one name, and the reverse for another, with TTL 0. Both addresses
    have an HTTP server on the same port: whichever gets the request shows where the
    fetcher connected."""
    internal = LocalHttpServer(bind="127.0.0.1")
    await internal.start()
    public = LocalHttpServer(bind="127.0.0.2", port=internal.port)
    await public.start()
    dns_server = RebindingDns(
        {
            "rebind.links.test": ["127.0.0.2", "127.0.0.1"],
            "flip.links.test": ["127.0.0.1", "127.0.0.2"],
        }
    )
    await dns_server.start()
    config = FetcherConfig(
        policy=AddressPolicy.from_entries(["127.0.0.2/32"]), timeout=2.0, connect_timeout=2.0
    )
    resolver = DnsResolver([dns_server.address], timeout=2.0)
    port = internal.port
    try:
        results = []
        for url in (
            f"http://rebind.links.test:{port}/page/first",  # answer 1: public
            f"http://rebind.links.test:{port}/page/second",  # answer 2: private
            f"http://flip.links.test:{port}/page/third",  # answer 1: private
            f"http://flip.links.test:{port}/page/fourth",  # answer 2: public
        ):
            # A fresh fetcher each time, so no pooled connection skips the lookup.
            async with LinkFetcher(config, resolve=resolver.connect_addresses) as fetcher:
                results.append(await fetcher.fetch(url))
        first, second, third, fourth = results
        assert first.ok and fourth.ok, (first.error, fourth.error)
        assert second.error_kind == "refused" and third.error_kind == "refused"
        assert "resolves to 127.0.0.1" in (second.error or "")
        assert internal.requests == []  # never connected to the private address
        assert [r.path for r in public.requests] == ["/page/first", "/page/fourth"]
        # One lookup per connection: the address vetted is the address dialled.
        assert dns_server.queries == {"rebind.links.test": 2, "flip.links.test": 2}
    finally:
        dns_server.stop()
        await public.stop()
        await internal.stop()


async def test_allow_list_by_cidr_opens_the_range(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    result = await make_fetcher(allow=("127.0.0.0/8",)).fetch(server.url("/ok"))
    assert result.ok


async def test_refusals_are_not_cached(server: LocalHttpServer, make_fetcher: MakeFetcher) -> None:
    fetcher = make_fetcher(allow=())
    await fetcher.fetch(server.url("/ok"))
    assert fetcher.cache_entries == 0 and fetcher.stats.refused == 1


def test_address_classes() -> None:
    cases = {
        "127.0.0.1": "loopback",
        "10.1.2.3": "private",
        "169.254.169.254": "link-local (cloud metadata range)",
        "224.0.0.1": "multicast",
        "ff02::1": "multicast",
        "::": "unspecified",
        "8.8.8.8": None,
        "2606:4700::1111": None,
    }
    for ip, expected in cases.items():
        assert address_class(ipaddress.ip_address(ip)) == expected, ip
    mapped = address_class(ipaddress.ip_address("::ffff:10.0.0.1"))
    assert mapped is not None and "private" in mapped
    six_to_four = address_class(ipaddress.ip_address("2002:7f00:1::"))
    assert six_to_four is not None and "loopback" in six_to_four


def test_policy_parsing() -> None:
    policy = AddressPolicy.from_entries(
        ["staging.acme.com", " .corp.acme.com", "*.lab.acme.com", "10.0.0.0/8", "fd00::/8", ""]
    )
    private = ipaddress.ip_address("10.9.9.9")
    other_private = ipaddress.ip_address("192.168.0.1")
    assert policy.refusal("x.example", private) is None  # range allowed
    assert policy.refusal("x.example", other_private) == "private"
    assert policy.refusal("staging.acme.com", other_private) is None  # name allowed
    assert policy.refusal("a.corp.acme.com", other_private) is None
    assert policy.refusal("a.lab.acme.com", other_private) is None
    assert policy.refusal("evilcorp.acme.com", other_private) == "private"
    assert policy.refusal("x", ipaddress.ip_address("fd12::1")) is None


@pytest.mark.parametrize("bad", ["http://host/", "a b", "user@host", "..com"])
def test_policy_rejects_junk(bad: str) -> None:
    with pytest.raises(ConfigError):
        AddressPolicy.from_entries([bad])
