"""A cap on all the connections of each server, on top of the per-address one (issue 14,
item 5): many client addresses together cannot hold more than MAILQA_HTTP_MAX_CONNECTIONS
HTTP connections or MAILQA_SMTP_MAX_CONNECTIONS SMTP sessions open. Past it a new one is
refused like one over its address's cap (HTTP 503, SMTP 421) and closed at once; closed
ones free their slots. Real clients on loopback, each from its own 127.0.6.x address."""

from __future__ import annotations

import asyncio
import json
import smtplib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from tests.support.servers import serving_stack
from tests.support.stack import base_settings

from mailqa.api.server import GuardedHttpToolsProtocol, http_config
from mailqa.net.connections import ConnectionLimiter, Refusal

TOTAL = 8
PER_ADDRESS = 3

pytestmark = pytest.mark.timeout(120)

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class Ports:
    http: int
    smtp: int
    http_limiter: ConnectionLimiter

    async def http_idle(self) -> None:
        """Until the HTTP server has seen every connection close."""
        for _ in range(500):
            if not self.http_limiter.open:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.http_limiter.open} HTTP connections still counted")


@pytest_asyncio.fixture(scope="module")
async def ports(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Ports]:
    settings = base_settings(
        tmp_path_factory.mktemp("caps"),
        http_max_connections=TOTAL,
        http_max_connections_per_address=PER_ADDRESS,
        smtp_max_connections=TOTAL,
        smtp_max_connections_per_address=PER_ADDRESS,
    )
    configs: list[uvicorn.Config] = []

    def guarded(app: FastAPI) -> uvicorn.Config:
        config = http_config(app, settings, host="127.0.0.1", port=0, log_level="warning")
        configs.append(config)
        return config

    async with serving_stack(settings, http=guarded) as served:
        protocol = configs[0].http
        assert isinstance(protocol, type) and issubclass(protocol, GuardedHttpToolsProtocol)
        yield Ports(served.http_port, served.smtp_port, protocol.limiter)


def address(n: int) -> str:
    return f"127.0.6.{n}"


async def connect(port: int, source: str) -> Connection:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def everything_until_closed(reader: asyncio.StreamReader, within: float = 5) -> bytes:
    received = b""
    async with asyncio.timeout(within):
        while chunk := await reader.read(65536):
            received += chunk
    return received


def http_refusal(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


async def hold_http(port: int, count: int) -> list[Connection]:
    """``count`` connections, at most PER_ADDRESS from each address, each with a request's
    headers pending (the header timeout is longer than any test)."""
    held = []
    for i in range(count):
        reader, writer = await connect(port, address(i // PER_ADDRESS + 1))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        held.append((reader, writer))
    return held


async def healthz_from(port: int, source: str, attempts: int = 100) -> int:
    """The status of GET /healthz from ``source``, retried while the server is still
    full (a closed connection frees its slot once the server has seen it close)."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(transport=transport, timeout=10) as c:
        for _ in range(attempts):
            try:
                r = await c.get(f"http://127.0.0.1:{port}/healthz")
                if r.status_code != 503:
                    return r.status_code
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    return 503


def close_all(held: list[Connection]) -> None:
    for _, writer in held:
        writer.close()


async def test_http_past_the_total_cap_is_refused_from_any_address(ports: Ports) -> None:
    await ports.http_idle()
    held = await hold_http(ports.http, TOTAL)  # 3 addresses, none over its own cap
    try:
        for n in (9, 10, 1):  # fresh addresses, and one of the holders'
            reader, writer = await connect(ports.http, address(n))
            status, body = http_refusal(await everything_until_closed(reader))
            writer.close()
            assert status == 503 and body["error"] == "too_many_connections", body
            assert "server" in body["message"] and "your address" not in body["message"]
        # Refused connections took no slot; one closed frees one, for any address.
        _, writer = held.pop()
        writer.close()
        assert await healthz_from(ports.http, address(11)) == 200
        reader, writer = await connect(ports.http, address(12))
        held.append((reader, writer))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")  # full again
        reader, writer = await connect(ports.http, address(13))
        status, _ = http_refusal(await everything_until_closed(reader))
        writer.close()
        assert status == 503
    finally:
        close_all(held)
    await ports.http_idle()  # everything closed: every slot is free again
    assert ports.http_limiter.open == 0
    assert await healthz_from(ports.http, address(14)) == 200


async def test_http_under_the_total_cap_the_per_address_cap_still_answers(ports: Ports) -> None:
    await ports.http_idle()
    held = await hold_http(ports.http, PER_ADDRESS)  # all from one address; total not reached
    try:
        reader, writer = await connect(ports.http, address(1))
        status, body = http_refusal(await everything_until_closed(reader))
        writer.close()
        assert status == 503 and "your address" in body["message"]
        assert await healthz_from(ports.http, address(2)) == 200
    finally:
        close_all(held)


async def hold_smtp(port: int, count: int) -> list[Connection]:
    """``count`` sessions, at most PER_ADDRESS from each address, each greeted (retried
    while the server has not yet seen sessions of an earlier test close)."""
    held = []
    for i in range(count):
        for _ in range(100):
            reader, writer = await connect(port, address(i // PER_ADDRESS + 1))
            if (await reader.readline()).startswith(b"220"):
                held.append((reader, writer))
                break
            writer.close()
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the SMTP server stayed full")
    return held


def smtp_greeting(port: int, source: str) -> tuple[int, bytes]:
    """What the real smtplib client gets on connecting from ``source``."""
    try:
        with smtplib.SMTP("127.0.0.1", port, source_address=(source, 0), timeout=10) as smtp:
            code, message = smtp.noop()
            return 220 if code == 250 else code, message
    except smtplib.SMTPConnectError as refused:
        error = refused.smtp_error
        return refused.smtp_code, error if isinstance(error, bytes) else error.encode()


async def smtp_admitted(port: int, source: str, attempts: int = 100) -> bool:
    for _ in range(attempts):
        code, _ = await asyncio.to_thread(smtp_greeting, port, source)
        if code == 220:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_smtp_past_the_total_cap_is_refused_with_421(ports: Ports) -> None:
    held = await hold_smtp(ports.smtp, TOTAL)
    try:
        for n in (9, 1):
            code, message = await asyncio.to_thread(smtp_greeting, ports.smtp, address(n))
            assert code == 421 and message.startswith(b"4.3.2"), message
            assert b"your address" not in message
        reader, writer = await connect(ports.smtp, address(10))  # the raw reply, then closed
        assert (await everything_until_closed(reader)).startswith(b"421 4.3.2 ")
        writer.close()
        _, writer = held.pop()
        writer.close()
        assert await smtp_admitted(ports.smtp, address(11))
    finally:
        close_all(held)
    held = await hold_smtp(ports.smtp, TOTAL)  # every slot free again
    close_all(held)


async def test_smtp_under_the_total_cap_the_per_address_cap_still_answers(ports: Ports) -> None:
    held = await hold_smtp(ports.smtp, PER_ADDRESS)
    try:
        code, message = await asyncio.to_thread(smtp_greeting, ports.smtp, address(1))
        assert code == 421 and b"your address" in message
        assert await smtp_admitted(ports.smtp, address(2))
    finally:
        close_all(held)


def test_the_limiter_counts_each_admitted_connection_once() -> None:
    limiter = ConnectionLimiter(per_address=2, total=3)
    assert limiter.acquire("a") is None and limiter.acquire("a") is None
    assert limiter.acquire("a") is Refusal.ADDRESS_FULL
    assert limiter.acquire("b") is None
    assert limiter.acquire("c") is Refusal.SERVER_FULL
    assert limiter.open == 3
    limiter.release("a")
    assert limiter.acquire("c") is None and limiter.open == 3
    unlimited = ConnectionLimiter(per_address=0, total=0)
    assert all(unlimited.acquire("a") is None for _ in range(1000))
