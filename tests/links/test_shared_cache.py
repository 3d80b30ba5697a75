"""Fetchers in different processes share link results through Redis."""

from __future__ import annotations

import uuid

from tests.scaleout.conftest import redis_url  # noqa: F401  (fixture)

from mailqa.net.cache import RedisCache
from mailqa.net.http import AddressPolicy, FetcherConfig, LinkFetcher

from .conftest import NAMES, resolver


async def test_second_worker_reuses_the_result_without_a_request(server, redis_url) -> None:  # noqa: F811
    prefix = f"mailqa:test:{uuid.uuid4().hex[:8]}:"
    config = FetcherConfig(policy=AddressPolicy.from_entries(["127.0.0.1/32"]), timeout=2.0)
    caches = [RedisCache(redis_url, prefix=prefix) for _ in range(2)]
    fetchers = [LinkFetcher(config, resolve=resolver(NAMES), shared=c) for c in caches]
    try:
        url = server.url("/page/shared-cache")
        first = await fetchers[0].fetch(url)
        assert first.ok and not first.from_cache
        second = await fetchers[1].fetch(url)
        assert second.from_cache and second.status_code == first.status_code
        assert server.count("/page/shared-cache") == 1  # one request for both workers
        assert fetchers[1].stats.distributed_hits == 1 and fetchers[1].stats.requests == 0
        broken = await fetchers[0].fetch(server.url("/404"))
        assert not broken.ok
        again = await fetchers[1].fetch(server.url("/404"))
        assert again.status_code == 404 and again.from_cache
    finally:
        for fetcher in fetchers:
            await fetcher.aclose()
        for cache in caches:
            await cache.close()
