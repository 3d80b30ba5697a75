"""Open connections per client address, shared by every connection of one server."""

from __future__ import annotations

from collections import Counter


class AddressLimiter:
    """Admit at most ``per_address`` connections from one address at once (0: no limit).

    ``acquire`` when a connection opens (False: refuse it), ``release`` once when it ends.
    Single-threaded: call it from the event loop that serves the connections.
    """

    def __init__(self, per_address: int) -> None:
        self.per_address = per_address
        self._open: Counter[str] = Counter()

    def acquire(self, address: str) -> bool:
        if self.per_address and self._open[address] >= self.per_address:
            return False
        self._open[address] += 1
        return True

    def release(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def open_from(self, address: str) -> int:
        return self._open.get(address, 0)
