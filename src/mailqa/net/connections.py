"""Open connections of one server, per client address and in all."""

from __future__ import annotations

import enum
from collections import Counter


class Refusal(enum.Enum):
    """Why a connection was not admitted."""

    ADDRESS_FULL = "too many connections from the client's address"
    SERVER_FULL = "too many connections to the server"


class ConnectionLimiter:
    """Admit at most ``per_address`` connections from one address and ``total`` in all at
    once (0: no limit).

    ``acquire`` when a connection opens (a ``Refusal``: refuse it), ``release`` once when an
    admitted one ends. Single-threaded: call it from the event loop that serves the
    connections.
    """

    def __init__(self, per_address: int, total: int = 0) -> None:
        self.per_address = per_address
        self.total = total
        self._open: Counter[str] = Counter()
        self._count = 0

    def acquire(self, address: str) -> Refusal | None:
        if self.total and self._count >= self.total:
            return Refusal.SERVER_FULL
        if self.per_address and self._open[address] >= self.per_address:
            return Refusal.ADDRESS_FULL
        self._open[address] += 1
        self._count += 1
        return None

    def release(self, address: str) -> None:
        self._count -= 1
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def open_from(self, address: str) -> int:
        return self._open.get(address, 0)

    @property
    def open(self) -> int:
        return self._count
