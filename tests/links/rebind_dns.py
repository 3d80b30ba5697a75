"""A real DNS server on loopback (UDP) that changes its answer: a DNS-rebinding attacker.

``RebindingDns({"rebind.links.test": ["127.0.0.2", "127.0.0.1"]})`` answers the first A query
for the name with 127.0.0.2, every later one with 127.0.0.1, always with TTL 0 so that no
cache keeps the first answer. AAAA queries get an empty answer. ``queries`` counts A queries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class RebindingDns(asyncio.DatagramProtocol):
    def __init__(self, answers: dict[str, Sequence[str]]) -> None:
        self.answers = {name.rstrip(".").lower(): list(ips) for name, ips in answers.items()}
        self.queries: dict[str, int] = {}
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0)
        )
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        assert self._transport is not None
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        if name not in self.answers:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A:
            asked = self.queries.get(name, 0)
            self.queries[name] = asked + 1
            ips = self.answers[name]
            ip = ips[min(asked, len(ips) - 1)]
            response.answer.append(dns.rrset.from_text(question.name, 0, "IN", "A", ip))
        self._transport.sendto(response.to_wire(), addr)
