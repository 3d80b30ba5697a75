"""A limit on failed SMTP AUTH attempts per client address, with a growing back-off.

After ``max_failures`` failed attempts from one address within ``window`` seconds, AUTH from
that address is refused for a back-off of ``backoff`` seconds. After it, each further failure
starts a back-off twice as long as the one before, up to ``backoff_max``. A successful AUTH
clears the address; so does a ``window`` without failure once its back-off is over. At most
``max_addresses`` are remembered (the least recently failed go first), so memory stays bounded
whatever the number of clients.

The attempts of one address are checked one at a time (:meth:`AuthFailureLimiter.turn`), so
many connections guessing at once cannot get more than ``max_failures`` guesses checked before
the back-off starts, while an application's parallel connections with the right password all
get in. IPv6 clients are grouped by /64, the block a single host usually holds.

Nothing here sleeps: a client in back-off is answered at once, and the event loop is never held.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

MAX_ADDRESSES = 10_000
_MAX_LEVEL = 64  # 2**64 times any back-off is far past any cap


def client_key(ip: str | None) -> str:
    """The address attempts are counted under: the IPv4 address, or the IPv6 /64."""
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass
class _Entry:
    failures: deque[float] = field(default_factory=deque)
    level: int = 0
    blocked_until: float = 0.0
    last_failure: float = 0.0


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class AuthFailureLimiter:
    def __init__(
        self,
        max_failures: int,
        window: float,
        backoff: float,
        backoff_max: float,
        *,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.backoff = backoff
        self.backoff_max = max(backoff_max, backoff)
        self.max_addresses = max_addresses
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._turns: dict[str, _Turn] = {}  # only addresses with an attempt under way

    @property
    def enabled(self) -> bool:
        return self.max_failures > 0

    def __len__(self) -> int:
        return len(self._entries)

    def retry_after(self, ip: str | None) -> float:
        """Seconds the address must still wait before AUTH is checked again (0: it may try)."""
        if not self.enabled:
            return 0.0
        entry = self._entries.get(client_key(ip))
        if entry is None:
            return 0.0
        return max(0.0, entry.blocked_until - self.clock())

    @asynccontextmanager
    async def turn(self, ip: str | None) -> AsyncIterator[None]:
        """Hold the address's turn while checking one attempt of it (wait for the others)."""
        if not self.enabled:
            yield
            return
        key = client_key(ip)
        turn = self._turns.get(key)
        if turn is None:
            turn = self._turns[key] = _Turn()
        turn.users += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[key]

    def failed(self, ip: str | None) -> None:
        """Count a failed attempt; at the limit, or after a back-off, start the next one."""
        if not self.enabled:
            return
        now = self.clock()
        self._forget_expired(now)
        key = client_key(ip)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        self._entries.move_to_end(key)
        while entry.failures and entry.failures[0] <= now - self.window:
            entry.failures.popleft()
        entry.failures.append(now)
        entry.last_failure = now
        if entry.level or len(entry.failures) >= self.max_failures:
            while len(entry.failures) > self.max_failures:
                entry.failures.popleft()
            delay = min(self.backoff * 2.0**entry.level, self.backoff_max)
            entry.blocked_until = now + delay
            entry.level = min(entry.level + 1, _MAX_LEVEL)
        while len(self._entries) > self.max_addresses:
            self._entries.popitem(last=False)

    def succeeded(self, ip: str | None) -> None:
        """The attempt's credentials were right: forget the address's failures and back-off."""
        self._entries.pop(client_key(ip), None)

    def _forget_expired(self, now: float) -> None:
        # Least recently failed first: stop at the first entry still worth keeping.
        while self._entries:
            entry = next(iter(self._entries.values()))
            if max(entry.last_failure, entry.blocked_until) + self.window > now:
                return
            self._entries.popitem(last=False)


def refusal(retry_after: float) -> str:
    """The reply to an AUTH refused during a back-off."""
    seconds = max(1, math.ceil(retry_after))
    return (
        f"454 4.7.0 Too many failed authentication attempts from your address; "
        f"try again in {seconds} s"
    )
