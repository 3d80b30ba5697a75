"""The shared cache: in memory by default, Redis when distributed."""

from __future__ import annotations

import asyncio
import uuid

from mailqa.net.cache import MemoryCache, RedisCache, cache_url_for


async def test_memory_cache_expires_and_stays_bounded() -> None:
    cache = MemoryCache(max_entries=2)
    await cache.set("a", b"1", ttl=0.05)
    await cache.set("b", b"2", ttl=60)
    assert await cache.get("a") == b"1"
    await cache.set("c", b"3", ttl=60)  # evicts the least recently used ("b")
    assert await cache.get("b") is None and len(cache) == 2
    await asyncio.sleep(0.06)
    assert await cache.get("a") is None
    assert await cache.get("c") == b"3"


async def test_redis_cache_is_shared_between_clients(redis_url: str) -> None:
    prefix = f"mailqa:test:{uuid.uuid4().hex[:8]}:"
    one, two = RedisCache(redis_url, prefix=prefix), RedisCache(redis_url, prefix=prefix)
    try:
        await one.set("dns:example.com:A", b'["93.184.216.34"]', ttl=0.3)
        assert await two.get("dns:example.com:A") == b'["93.184.216.34"]'
        await asyncio.sleep(0.4)
        assert await two.get("dns:example.com:A") is None  # Redis expired it
    finally:
        await one.close()
        await two.close()


async def test_redis_down_is_a_miss_not_an_error() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0", timeout=0.2)
    await cache.set("k", b"v", ttl=10)
    assert await cache.get("k") is None
    await cache.close()


def test_which_cache_is_used() -> None:
    redis = "redis://127.0.0.1:6379/0"
    assert cache_url_for(None, "inline", redis) is None
    assert cache_url_for(None, "celery", redis) == redis
    assert cache_url_for(None, "celery", "amqp://guest@localhost//") is None
    assert cache_url_for("memory", "celery", redis) is None
    assert cache_url_for("redis://cache:6379/2", "inline", redis) == "redis://cache:6379/2"
