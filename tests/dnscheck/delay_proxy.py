"""A UDP DNS proxy that answers through an upstream server after a fixed delay.

It stands in for a distant resolver: with NSD behind it, every lookup costs ``delay`` seconds.
With ``hold_until`` it also holds every answer until that many distinct questions have
arrived, so lookups made one after another never get an answer: only lookups in flight
together do.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.dnscheck.nsd import free_port


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, done: asyncio.Future[bytes]) -> None:
        self.done = done

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not self.done.done():
            self.done.set_result(data)


class DelayProxy(asyncio.DatagramProtocol):
    def __init__(self, upstream: tuple[str, int], delay: float, hold_until: int = 0) -> None:
        self.upstream = upstream
        self.delay = delay
        self.hold_until = hold_until
        self.questions: set[bytes] = set()  # distinct questions asked (a retry is the same)
        self._enough_asked = asyncio.Event()
        self.port = free_port()
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.queries = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queries += 1
        self.questions.add(data[12:])  # all but the header, whose ID differs on a retry
        if len(self.questions) >= self.hold_until:
            self._enough_asked.set()
        task = asyncio.get_running_loop().create_task(self._relay(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _relay(self, data: bytes, addr: Any) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bytes] = loop.create_future()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Upstream(done), remote_addr=self.upstream
        )
        try:
            transport.sendto(data)
            answer = await asyncio.wait_for(done, 5.0)
        except TimeoutError:
            return
        finally:
            transport.close()
        await asyncio.sleep(self.delay)
        await self._enough_asked.wait()
        if self.transport is not None:
            self.transport.sendto(answer, addr)

    async def __aenter__(self) -> DelayProxy:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", self.port))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.transport is not None:
            self.transport.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
