"""Renders in Debian's Chromium: one ``Renderer`` (one browser) for the whole session."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest_asyncio
from PIL import Image

from mailqa.core.message import ParsedMessage
from mailqa.render import RenderConfig, Renderer


@pytest_asyncio.fixture(scope="session")
async def renderer() -> AsyncIterator[Renderer]:
    async with Renderer(RenderConfig(pool_size=2, timeout=30)) as r:
        yield r


def html_message(html: str, *, parts: Sequence[tuple[str, str, bytes]] = ()) -> ParsedMessage:
    """A message whose HTML part is ``html``; ``parts``: (content id, type, bytes) inline."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "sender@example.com"
    msg["To"] = "user@example.com"
    msg["Subject"] = "render test"
    msg.set_content("plain text")
    msg.add_alternative(html, subtype="html")
    if parts:
        related = msg.get_payload()[1]  # type: ignore[index]
        assert isinstance(related, EmailMessage)
        for cid, ctype, data in parts:
            maintype, subtype = ctype.split("/")
            related.add_related(data, maintype=maintype, subtype=subtype, cid=f"<{cid}>")
    return ParsedMessage(msg.as_bytes())


def pixels(png: bytes | None) -> Image.Image:
    assert png is not None
    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB")


def differs(a: bytes | None, b: bytes | None) -> bool:
    first, second = pixels(a), pixels(b)
    if first.size != second.size:
        return True
    from PIL import ImageChops

    return ImageChops.difference(first, second).getbbox() is not None


@dataclass
class CountingServer:
    """A plain HTTP server on loopback that answers anything and counts the requests."""

    port: int = 0
    hits: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            self.hits.append(request.split(b"\r\n", 1)[0].decode())
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            self.hits.append("(connection)")
        finally:
            writer.close()


@pytest_asyncio.fixture
async def counting_server() -> AsyncIterator[CountingServer]:
    server = CountingServer()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.handle(reader, writer)

    listener = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server
