"""Resolvers in different processes share answers through Redis (the Celery deployment)."""

from __future__ import annotations

import uuid

from mailqa.net.cache import RedisCache
from mailqa.net.dns import DnsResolver

from .conftest import DnsLab


async def test_second_worker_gets_answers_from_redis(dns_lab: DnsLab, redis_url: str) -> None:
    prefix = f"mailqa:test:{uuid.uuid4().hex[:8]}:"
    one_cache, two_cache = (
        RedisCache(redis_url, prefix=prefix),
        RedisCache(redis_url, prefix=prefix),
    )
    try:
        one = DnsResolver([dns_lab.nsd.address], timeout=2.0, shared=one_cache)
        two = DnsResolver([dns_lab.nsd.address], timeout=2.0, shared=two_cache)
        first = await one.txt("good.example")
        missing = await one.query("nothing-here.example", "A")
        assert first.ok and missing.status == "nxdomain"
        assert one.stats.network_lookups == 2 and one.stats.distributed_hits == 0

        again = await two.txt("good.example")
        assert again.records == first.records and again.cached
        assert (await two.query("nothing-here.example", "A")).status == "nxdomain"
        assert two.stats.network_lookups == 0 and two.stats.distributed_hits == 2
        assert 0 < two.remaining_ttl("good.example", "TXT") <= first.ttl

        # Failures are never shared: a dead server's timeout is not an answer.
        dead = DnsResolver(["127.0.0.1:9"], timeout=0.3, shared=one_cache)
        assert (await dead.txt("good.example")).failed
        assert await one_cache.get("dns:127.0.0.1:9:TXT:good.example") is None
    finally:
        await one_cache.close()
        await two_cache.close()


async def test_link_hosts_resolve_through_the_configured_dns_servers(dns_lab: DnsLab) -> None:
    from mailqa.resources import open_check_context

    # web.good.example exists only in the test zone (127.0.0.1): the system resolver
    # cannot know it, so an answer proves the fetcher asked MAILQA_DNS_SERVERS.
    settings = dns_lab.settings(offline=False, link_check=True)
    async with open_check_context(settings, checks=["links"]) as ctx:
        assert ctx.http is not None
        refused = await ctx.http.fetch("http://web.good.example:9/")
        assert refused.error_kind == "refused" and "127.0.0.1" in (refused.error or "")
        missing = await ctx.http.fetch("http://nothing-here.example/")
        assert missing.error_kind == "dns" and "no such name" in (missing.error or "")
