"""An aiosmtpd ``SMTP`` that bounds what each session costs.

- DATA is written, dot-unstuffed, to a ``SpooledTemporaryFile`` (on disk past
  ``spool_bytes``) instead of aiosmtpd's list of one object per line (about three times the
  message in memory): a message up to 1 MiB in one block, a larger one line by line as it
  arrives; the message is read back once, when the handler stores it. Spooled
  messages are loaded and stored at most ``large_captures`` at a time, so parallel large
  messages cost about that many copies, not one per session. The handler still answers
  before the ``250``: a message is committed before it is acknowledged.
- The idle timeout (aiosmtpd's ``timeout``) also covers DATA: a session is closed when no
  byte arrived for that long, however long the whole transfer takes while it progresses;
  time the server spends storing the message (or waiting to) does not count.
- ``limiter`` caps the sessions one client address holds open, and all sessions together:
  the next one is answered ``421`` and closed.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import tempfile
from contextlib import AsyncExitStack
from typing import IO, Any

from aiosmtpd.smtp import MISSING, SMTP

from mailqa.net.connections import ConnectionLimiter, Refusal

log = logging.getLogger(__name__)

FLUSH_BYTES = 256 * 1024
REFUSED = {
    Refusal.ADDRESS_FULL: b"421 4.7.0 Too many connections from your address; try again later\r\n",
    Refusal.SERVER_FULL: b"421 4.3.2 Too many connections; try again later\r\n",
}


class _Data(enum.Enum):
    NOMINAL = enum.auto()
    TOO_LONG = enum.auto()
    TOO_MUCH = enum.auto()


TERMINATOR = b"\r\n.\r\n"


class _Blocks:
    """DATA taken as a block of whole lines: unstuffed, its size and line lengths checked
    (the same answers as aiosmtpd's line-by-line reading)."""

    def __init__(self, size_limit: int | None, line_limit: int) -> None:
        self.size_limit = size_limit
        self.line_limit = line_limit
        self.state = _Data.NOMINAL
        self.received = 0
        self.kept = 0

    def take(self, lines: bytes) -> bytes:
        """``lines`` (whole lines, the first at a line start) unstuffed, or b"" if refused."""
        self.received += len(lines)
        if self.state is not _Data.NOMINAL:
            return b""
        if self.size_limit and self.received > self.size_limit:
            self.state = _Data.TOO_MUCH
            return b""
        if len(lines) > self.line_limit and (
            max(map(len, lines.split(b"\r\n"))) + 2 > self.line_limit
        ):
            self.state = _Data.TOO_LONG
            return b""
        if lines.startswith(b"."):
            lines = lines[1:]
        unstuffed = lines.replace(b"\r\n.", b"\r\n")
        self.kept += len(unstuffed)
        return unstuffed


class SpoolingSMTP(SMTP):
    def __init__(
        self,
        handler: Any,
        *,
        spool_bytes: int = 1024 * 1024,
        large_captures: asyncio.Semaphore | None = None,
        limiter: ConnectionLimiter | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self.spool_bytes = spool_bytes
        self.large_captures = large_captures
        self.limiter = limiter
        self._counted: str | None = None  # the address this session counts against
        self._refused = False
        self._last_data = 0.0
        self._busy = False  # the server, not the client, is the one working (storing)

    # Connections ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None and self.limiter is not None:  # not the STARTTLS re-entry
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            refusal = self.limiter.acquire(address)
            if refusal is not None:
                log.warning("refused an SMTP connection from %s: %s", address, refusal.value)
                self._refused = True
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(REFUSED[refusal])
                transport.close()
                return
            self._counted = address
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self._counted is not None and self.limiter is not None:
            self.limiter.release(self._counted)
            self._counted = None
        super().connection_lost(error)

    def _timeout_cb(self) -> None:
        if self._busy:  # waiting for a capture slot or storing: not the client's idleness
            self._reset_timeout()
            return
        idle = self.loop.time() - self._last_data
        if idle < self._timeout_duration:  # DATA is still arriving: wait from its last bytes
            self._reset_timeout(self._timeout_duration - idle)
            return
        super()._timeout_cb()  # type: ignore[no-untyped-call]

    # DATA -------------------------------------------------------------------------------

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        with tempfile.SpooledTemporaryFile(max_size=self.spool_bytes) as spool:
            state, size = await self._receive(spool)
            if self.transport is None:  # the client went away before the final dot
                return
            if state is _Data.TOO_LONG:
                await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
                self._set_post_data_state()  # type: ignore[no-untyped-call]
                return
            if state is _Data.TOO_MUCH:
                await self.push("552 Error: Too much mail data")
                self._set_post_data_state()  # type: ignore[no-untyped-call]
                return
            self._busy = True
            try:
                async with AsyncExitStack() as stack:
                    if size > self.spool_bytes and self.large_captures is not None:
                        await stack.enter_async_context(self.large_captures)
                    spool.seek(0)
                    content = (
                        await asyncio.to_thread(spool.read)
                        if size > self.spool_bytes
                        else spool.read()
                    )
                    spool.close()
                    self.envelope.content = content
                    self.envelope.original_content = content
                    del content
                    status = await self._call_handler_hook("DATA")
                    # Drop the message before the next one may be loaded.
                    self.envelope.content = self.envelope.original_content = None
            finally:
                self._busy = False
                self._last_data = self.loop.time()
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    def data_received(self, data: bytes) -> None:
        self._last_data = self.loop.time()  # bytes arrive: the client is not idle
        super().data_received(data)

    async def _receive(self, spool: IO[bytes]) -> tuple[_Data, int]:
        """Read DATA up to the lone dot into ``spool``, unstuffed. Returns how it went and
        the size of the message kept (aiosmtpd's checks: line length, size limit).

        A message up to the stream's limit (1 MiB) is read in one block up to the
        terminator (``CRLF . CRLF``), not line by line. A larger one, or one that starts
        with a dot or an empty line (where the terminator could be its first line), is read
        line by line as it arrives (bounded memory, whatever its size)."""
        reader = self._reader
        try:
            first = await reader.readexactly(1)
        except asyncio.CancelledError:
            log.info("Connection lost during DATA")
            self._writer.close()
            raise
        if first in (b".", b"\r"):
            return await self._receive_lines(spool, first)
        try:
            block = await reader.readuntil(TERMINATOR)
        except asyncio.CancelledError:
            log.info("Connection lost during DATA")
            self._writer.close()
            raise
        except asyncio.LimitOverrunError:  # over 1 MiB: line by line, as it arrives
            return await self._receive_lines(spool, first)
        receiving = _Blocks(self.data_size_limit, self.line_length_limit)
        chunk = receiving.take((first + block)[: -len(TERMINATOR) + 2])  # last CRLF kept
        if chunk:
            await self._spool_write(spool, chunk, 0)
        return receiving.state, receiving.kept

    async def _receive_lines(self, spool: IO[bytes], prefix: bytes) -> tuple[_Data, int]:
        """``_receive`` line by line; ``prefix``: the start of the first line, read already."""
        state = _Data.NOMINAL
        limit = self.data_size_limit
        received = kept = 0
        fragments: list[bytes] = []
        pending = bytearray()
        loop = self.loop
        try:
            # A prefix that ends in CR may end its line with the next byte: a CRLF split
            # across the prefix would hide the line's end from readuntil.
            while prefix.endswith(b"\r"):
                prefix += await self._reader.readexactly(1)
                if prefix.endswith(b"\r\n"):
                    break
        except asyncio.CancelledError:
            log.info("Connection lost during DATA")
            self._writer.close()
            raise
        while self.transport is not None:
            if prefix.endswith(b"\r\n"):
                line, prefix = prefix, b""
            else:
                try:
                    line = await self._reader.readuntil(b"\r\n")
                except asyncio.CancelledError:
                    log.info("Connection lost during DATA")
                    self._writer.close()
                    raise
                except asyncio.LimitOverrunError as exc:
                    if state is _Data.NOMINAL:
                        state = _Data.TOO_LONG
                    line = await self._reader.read(exc.consumed)
                if prefix:
                    line, prefix = prefix + line, b""
            self._last_data = loop.time()
            if not fragments and line == b".\r\n":
                break
            received += len(line)
            if state is _Data.NOMINAL and limit and received > limit:
                state = _Data.TOO_MUCH
            fragments.append(line)
            if not line.endswith(b"\r\n"):
                continue
            if state is _Data.NOMINAL:
                whole = fragments[0] if len(fragments) == 1 else b"".join(fragments)
                if len(whole) > self.line_length_limit:
                    state = _Data.TOO_LONG
                else:
                    pending += whole[1:] if whole.startswith(b".") else whole
                    if len(pending) >= FLUSH_BYTES:
                        await self._spool_write(spool, pending, kept)
                        kept += len(pending)
                        pending.clear()
            fragments.clear()
        if state is _Data.NOMINAL:
            await self._spool_write(spool, pending, kept)
            kept += len(pending)
        return state, kept

    async def _spool_write(self, spool: IO[bytes], chunk: bytes | bytearray, kept: int) -> None:
        """Append to the spool; once it is a file on disk, in a thread (a busy disk must not
        stall the event loop)."""
        if kept + len(chunk) <= self.spool_bytes:
            spool.write(chunk)
        else:
            await asyncio.to_thread(spool.write, bytes(chunk))
