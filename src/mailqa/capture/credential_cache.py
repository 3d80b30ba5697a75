"""Credentials found valid a moment ago, so that a burst does not look them up each time.

A sender that opens many connections with the same login, or sends many messages on one
session (each MAIL FROM and DATA checks the session's credentials again), would otherwise
resolve the same token or inbox password in the database for each of them. Only successes
are kept, for ``ttl`` seconds (1 s): a revoked token or a reset password stops working within
that window; a failure is never remembered as anything, so it always goes through the full
check (and the failure limiter). A change this process makes to the credentials (the
store's ``credentials_version``: a token deleted, a password reset) voids every entry at
once; the window bounds only changes made by another process. At most ``max_entries``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

ValueT = TypeVar("ValueT")


class RecentlyValid(Generic[ValueT]):
    """``key`` → what a successful check answered, for ``ttl`` seconds, while ``version()``
    answers what it answered before that check started."""

    def __init__(
        self,
        version: Callable[[], int],
        ttl: float = 1.0,
        max_entries: int = 1024,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.version = version
        self.clock = clock
        self.ttl = ttl
        self.max_entries = max(1, max_entries)
        self._entries: dict[Hashable, tuple[float, int, ValueT]] = {}

    def get(self, key: Hashable) -> ValueT | None:
        """The value remembered for ``key`` within the last ``ttl`` seconds, else None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() - entry[0] >= self.ttl or entry[1] != self.version():
            del self._entries[key]
            return None
        return entry[2]

    def remember(self, key: Hashable, value: ValueT, checked_at_version: int) -> None:
        """Keep a success (never call this with a failure); ``checked_at_version``: what
        ``version()`` answered before the check began (a change meanwhile voids it)."""
        now = self.clock()
        self._entries.pop(key, None)
        if len(self._entries) >= self.max_entries:
            self._entries = {k: e for k, e in self._entries.items() if now - e[0] < self.ttl}
            while len(self._entries) >= self.max_entries:  # oldest first
                del self._entries[next(iter(self._entries))]
        self._entries[key] = (now, checked_at_version, value)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
