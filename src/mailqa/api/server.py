"""The uvicorn configuration ``mailqa serve`` runs the API with, and its connection guard.

uvicorn closes idle kept-alive connections (``timeout_keep_alive``) but gives a client all
the time it wants to send a request's headers, any number of header bytes (with httptools)
and any number of connections. The guard, a subclass of uvicorn's httptools protocol:

- closes a connection whose request headers are not complete ``MAILQA_HTTP_HEADER_TIMEOUT``
  seconds after it opened (first request) or after the request's first byte (later ones);
- answers 431 and closes when the request line and headers pass
  ``MAILQA_HTTP_MAX_HEADER_BYTES``;
- answers 503 and closes a connection over ``MAILQA_HTTP_MAX_CONNECTIONS_PER_ADDRESS`` from
  one client address, or over ``MAILQA_HTTP_MAX_CONNECTIONS`` open in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import threading
from collections.abc import Generator
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mailqa.net.connections import ConnectionLimiter, Refusal
from mailqa.settings import Settings

log = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _response(status: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": code, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


_REFUSED = {
    Refusal.ADDRESS_FULL: "too many connections from your address; try again later",
    Refusal.SERVER_FULL: "the server has too many connections open; try again later",
}


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Set by ``guarded_protocol``: the limiter shared by every connection, and the limits."""

    limiter: ConnectionLimiter = ConnectionLimiter(0)
    header_timeout: float = 15.0
    max_header_bytes: int = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counted: str | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._in_headers = False
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else ""
        refusal = self.limiter.acquire(address)
        if refusal is not None:
            log.warning("refused an HTTP connection from %s: %s", address, refusal.value)
            transport.write(
                _response("503 Service Unavailable", "too_many_connections", _REFUSED[refusal])
            )
            transport.close()
            return
        self._counted = address
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        if self._counted is not None:
            self.limiter.release(self._counted)
            self._counted = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_headers and not self.transport.is_closing():
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._cancel_header_timer()
                self.transport.write(
                    _response(
                        "431 Request Header Fields Too Large",
                        "headers_too_large",
                        f"the request headers are over {self.max_header_bytes} bytes",
                    )
                )
                self.transport.close()

    # httptools parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_bytes = 0
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._cancel_header_timer()
        super().on_headers_complete()

    # the header timer
    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.info("closed an HTTP connection from %s: no complete request headers", self.client)
            self.transport.close()


def guarded_protocol(settings: Settings) -> type[GuardedHttpToolsProtocol]:
    """A protocol class bound to the settings, with one connection limiter for its server."""
    return type(
        "MailqaHttpProtocol",
        (GuardedHttpToolsProtocol,),
        {
            "limiter": ConnectionLimiter(
                settings.http_max_connections_per_address, settings.http_max_connections
            ),
            "header_timeout": settings.http_header_timeout,
            "max_header_bytes": settings.http_max_header_bytes,
        },
    )


def http_config(app: Any, settings: Settings, **kwargs: Any) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` with the settings' limits; ``kwargs`` (host, port,
    log_level, ssl files, ...) pass through."""
    kwargs.setdefault("host", settings.host)
    kwargs.setdefault("port", settings.http_port)
    return uvicorn.Config(
        app,
        http=guarded_protocol(settings),
        timeout_keep_alive=settings.http_keep_alive_timeout,  # type: ignore[arg-type]
        **kwargs,
    )


class ServeUntilSignal(uvicorn.Server):
    """uvicorn's server, except that the signal which stopped it is not raised again once it
    has stopped. uvicorn raises it so that the caller "handles" it; under ``asyncio.run`` that
    cancels the serving task while ``mailqa serve`` is still closing the SMTP listener, the
    analysis processes and the store, which then end half-closed (pending tasks, processes
    restarted during shutdown). ``stopped_by`` says which signal it was, if one."""

    stopped_by: int | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self._captured_signals:
            self.stopped_by = self._captured_signals[0]
