"""A small shared cache: byte values under string keys, each with a time to live.

In one process (the default) it is a bounded in-memory dict; with Celery workers on several
machines it is Redis, so a DNS answer or a link result found by one worker is reused by all.
Values are bytes: callers serialise (JSON, a pydantic model dump) and pick the key.

Redis errors never break a check: a failed ``get`` is a miss and a failed ``set`` is
dropped (the answer is simply looked up again).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from mailqa.core.clients import SharedCache as SharedCache

log = logging.getLogger(__name__)


class MemoryCache:
    """An LRU dict with per-entry expiry, for one process."""

    distributed = False

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max(1, max_entries)
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        if ttl <= 0:
            return
        self._entries[key] = (time.monotonic() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()


class RedisCache:
    """Entries in Redis under ``prefix``, expired by Redis itself (``SET ... PX``)."""

    distributed = True

    def __init__(self, url: str, prefix: str = "mailqa:cache:", timeout: float = 1.0) -> None:
        import redis.asyncio as aioredis

        self.url = url
        self.prefix = prefix
        self._redis = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(self.prefix + key)
        except Exception as exc:  # a cache that is down is a miss, not a failed check
            log.warning("shared cache get failed: %s", exc)
            return None
        if isinstance(value, str):  # only with decode_responses, which we never set
            return value.encode()
        return None if value is None else bytes(value)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        milliseconds = int(ttl * 1000)
        if milliseconds <= 0:
            return
        try:
            await self._redis.set(self.prefix + key, value, px=milliseconds)
        except Exception as exc:
            log.warning("shared cache set failed: %s", exc)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def cache_url_for(cache_url: str | None, executor: str, broker_url: str) -> str | None:
    """The Redis URL to share caches through, or None for an in-memory cache.

    An explicit URL wins; with the Celery executor and a Redis broker, the broker's Redis is
    used (workers on other machines share it anyway).
    """
    if cache_url:
        return None if cache_url == "memory" else cache_url
    if executor == "celery" and broker_url.startswith(("redis://", "rediss://")):
        return broker_url
    return None


def make_cache(redis_url: str | None, max_entries: int = 50_000) -> SharedCache:
    if redis_url:
        return RedisCache(redis_url)
    return MemoryCache(max_entries)
