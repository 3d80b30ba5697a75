"""Fetchers in different processes share link results through Redis."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from mailqa.net.cache import RedisCache
from mailqa.net.http.fetcher import FetcherConfig, LinkFetcher
from mailqa.net.http.policy import AddressPolicy

from .conftest import NAMES, resolver
from .local_http import LocalHttpServer


async def test_second_worker_reuses_the_result_without_a_request(
    server: LocalHttpServer, redis_url: str
) -> None:
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


async def test_narrower_allow_list_does_not_reuse_a_wider_result(
    server: LocalHttpServer, redis_url: str
) -> None:
    """A worker allowed to reach 127.0.0.1 checks an internal URL; a worker whose allow-list
    does not include it must refuse the URL, not report the other worker's answer."""
    prefix = f"mailqa:test:{uuid.uuid4().hex[:8]}:"
    caches = [RedisCache(redis_url, prefix=prefix) for _ in range(2)]
    wide = FetcherConfig(policy=AddressPolicy.from_entries(["127.0.0.1/32"]), timeout=2.0)
    narrow = FetcherConfig(policy=AddressPolicy(), timeout=2.0)
    fetchers = [
        LinkFetcher(config, resolve=resolver(NAMES), shared=cache)
        for config, cache in zip((wide, narrow), caches, strict=True)
    ]
    try:
        url = server.url("/page/shared-internal")
        first = await fetchers[0].fetch(url)
        assert first.ok
        second = await fetchers[1].fetch(url)
        assert second.error_kind == "refused" and not second.ok and not second.from_cache
        assert second.status_code is None and "loopback" in (second.error or "")
        assert fetchers[1].stats.distributed_hits == 0
        assert server.count("/page/shared-internal") == 1
    finally:
        for fetcher in fetchers:
            await fetcher.aclose()
        for cache in caches:
            await cache.close()


async def test_shared_hit_is_vetted_again(server: LocalHttpServer, redis_url: str) -> None:
    """Same allow-list, but the second worker's DNS now answers a private address for a host
    of the cached chain: the shared result is not used and the host is refused."""
    prefix = f"mailqa:test:{uuid.uuid4().hex[:8]}:"
    caches = [RedisCache(redis_url, prefix=prefix) for _ in range(2)]
    config = FetcherConfig(
        policy=AddressPolicy.from_entries(["127.0.0.1/32", "site.links.test"]), timeout=2.0
    )
    before = {**NAMES, "moving.links.test": ["127.0.0.1"]}
    after = {**NAMES, "moving.links.test": ["10.0.0.1"]}
    fetchers = [
        LinkFetcher(config, resolve=resolver(names), shared=cache)
        for names, cache in zip((before, after), caches, strict=True)
    ]
    try:
        target = server.url("/page/moving", host="moving.links.test")
        url = server.url(f"/redirect?to={quote(target, safe='')}", host="site.links.test")
        first = await fetchers[0].fetch(url)
        assert first.ok and first.final_url == target
        second = await fetchers[1].fetch(url)
        assert second.error_kind == "refused" and not second.from_cache
        assert "moving.links.test resolves to 10.0.0.1" in (second.error or "")
        assert fetchers[1].stats.distributed_hits == 0
        assert server.count("/page/moving") == 1  # only the first worker's request
        # Same DNS and policy: the shared result is still used.
        third = LinkFetcher(config, resolve=resolver(before), shared=caches[1])
        try:
            again = await third.fetch(url)
            assert again.ok and again.from_cache and third.stats.distributed_hits == 1
        finally:
            await third.aclose()
    finally:
        for fetcher in fetchers:
            await fetcher.aclose()
        for cache in caches:
            await cache.close()
