"""One long-lived async spamd client.

``SpamdClient`` wraps a single ``aiospamc`` client built once (the library's convenience
functions build SSL contexts on every call and halve throughput), bounds how many scans run at
once and how long each may take, and turns every failure into ``SpamdUnavailable`` (a
``TransientCheckError``: worth retrying) or ``MessageTooLarge`` (not).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiospamc.client import Client
from aiospamc.connections import ConnectionManagerBuilder, Timeout
from aiospamc.exceptions import (
    AIOSpamcConnectionFailed,
    BadResponse,
    ClientException,
    TimeoutException,
)
from aiospamc.requests import Request
from aiospamc.responses import ResponseException
from loguru import logger as _loguru

from mailqa.core.clients import SpamdReport, SpamRule
from mailqa.core.errors import CheckError, ConfigError, TransientCheckError

# aiospamc logs every request through loguru; mailqa logs with the standard library.
_loguru.disable("aiospamc")

DEFAULT_PORT = 783

_RULE_LINE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Za-z0-9_]+)(?:\s+(.*))?$")
_TABLE_RULER = re.compile(r"^-{3,}\s+-{3,}")
_CONTINUATION_INDENT = 10
_CHECKER_VERSION = re.compile(r"^X-Spam-Checker-Version:\s*SpamAssassin\s+(\S+)", re.M | re.I)
# The smallest message spamd accepts; used to ask a spamd for its version.
_PROBE_MESSAGE = b"Subject: mailqa version probe\r\n\r\nversion probe\r\n"


class SpamdUnavailable(TransientCheckError):
    """spamd could not be reached, timed out, refused the message or answered garbage."""


class MessageTooLarge(CheckError):
    """The message is over the size limit configured for spamd."""

    def __init__(self, size: int, max_size: int) -> None:
        super().__init__(
            f"message is {size} bytes, over the spamd size limit of {max_size} bytes "
            "(MAILQA_SPAMD_MAX_SIZE)"
        )
        self.size = size
        self.max_size = max_size


def parse_report_rules(text: str) -> list[SpamRule]:
    """Read the rule table of a REPORT body.

    The table is fixed-width (``pts rule name description``) below a ruler of dashes; long
    descriptions continue on lines indented by at least 10 spaces, which are joined back.
    Points may be negative or integral (``1000``).
    """
    rules: list[SpamRule] = []
    in_table = False
    name = ""
    score = 0.0
    description: list[str] = []

    def flush() -> None:
        if name:
            rules.append(SpamRule(name=name, score=score, description=" ".join(description)))

    for line in text.splitlines():
        if not in_table:
            in_table = bool(_TABLE_RULER.match(line))
            continue
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" \t"))
        if indent >= _CONTINUATION_INDENT and name:
            description.append(line.strip())
            continue
        match = _RULE_LINE.match(line)
        if match is None:
            # Anything else after the table (a custom template's footer) ends it.
            break
        flush()
        score = float(match.group(1))
        name = match.group(2)
        description = [match.group(3).strip()] if match.group(3) else []
    flush()
    return rules


@dataclass(frozen=True)
class SpamdAddress:
    """Where spamd listens: ``tcp://host[:port]`` or ``unix:///path``."""

    url: str
    host: str | None = None
    port: int | None = None
    path: Path | None = None

    @classmethod
    def parse(cls, url: str) -> SpamdAddress:
        parts = urlsplit(url.strip())
        if parts.scheme == "unix":
            path = parts.path or parts.netloc
            if not path:
                raise ConfigError(f"spamd URL {url!r} has no socket path (unix:///path)")
            return cls(url=url, path=Path(path))
        if parts.scheme == "tcp":
            if not parts.hostname:
                raise ConfigError(f"spamd URL {url!r} has no host (tcp://host:port)")
            try:
                port = parts.port or DEFAULT_PORT
            except ValueError as exc:
                raise ConfigError(f"spamd URL {url!r} has a bad port") from exc
            return cls(url=url, host=parts.hostname, port=port)
        raise ConfigError(f"spamd URL {url!r}: expected tcp://host:port or unix:///path")


def failure_reason(exc: BaseException) -> str:
    """Why a connection failed, in words: the system's text for the error number found in
    ``exc`` or its causes ("connection refused", "no such file or directory"), a resolver's
    message ("name or service not known"), "timed out", else the first non-empty message
    (aiospamc's own errors have none), else the error's type."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError):
            return "timed out"
        if isinstance(seen, OSError):
            # asyncio puts "Connect call failed (address)" where the system's text goes.
            if isinstance(seen.errno, int) and seen.errno > 0:
                return _lower_first(os.strerror(seen.errno))
            if seen.strerror:  # a resolver error: a negative number and its own text
                return _lower_first(seen.strerror)
        seen = seen.__cause__ or seen.__context__
    seen = exc
    while seen is not None:
        if str(seen):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


class SpamdClient:
    """One long-lived connection factory to one spamd, shared by every scan of a process."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 20.0,
        concurrency: int = 2,
        max_size: int = 500 * 1024,
    ) -> None:
        if timeout <= 0:
            raise ConfigError("spamd timeout must be positive")
        if concurrency < 1:
            raise ConfigError("spamd concurrency must be at least 1")
        self.address = SpamdAddress.parse(url)
        self.timeout = timeout
        self.concurrency = concurrency
        self.max_size = max_size
        self._client = Client(self._connection_manager(timeout))
        self._slots = asyncio.Semaphore(concurrency)
        self._version: str | None = None
        self._version_lock = asyncio.Lock()

    @property
    def url(self) -> str:
        return self.address.url

    def _connection_manager(self, timeout: float) -> Any:
        builder = ConnectionManagerBuilder()
        if self.address.path is not None:
            builder = builder.with_unix_socket(self.address.path)
        else:
            assert self.address.host is not None and self.address.port is not None
            builder = builder.with_tcp(self.address.host, self.address.port)
        limits = Timeout(total=timeout, connection=min(timeout, 5.0), response=timeout)
        return builder.set_timeout(limits).build()

    async def _request(self, verb: str, body: bytes) -> Any:
        """Send one request within the concurrency bound; map every failure to one error."""
        async with self._slots:
            try:
                return await self._client.request(Request(verb, body=body))
            except AIOSpamcConnectionFailed as exc:
                raise SpamdUnavailable(
                    f"spamd at {self.url} is unreachable: {failure_reason(exc)}"
                ) from exc
            except (TimeoutError, TimeoutException) as exc:
                raise SpamdUnavailable(
                    f"spamd at {self.url} did not answer within {self.timeout:g} s"
                ) from exc
            except ResponseException as exc:
                raise SpamdUnavailable(
                    f"spamd at {self.url} refused the message: {exc.code} {exc}"
                ) from exc
            except BadResponse as exc:
                raise SpamdUnavailable(
                    f"spamd at {self.url} sent no valid answer (it may have died mid-scan)"
                ) from exc
            except (ClientException, OSError) as exc:
                raise SpamdUnavailable(
                    f"spamd at {self.url} failed: {failure_reason(exc)}"
                ) from exc

    async def ping(self) -> None:
        """Raise ``SpamdUnavailable`` unless spamd answers PING."""
        await self._request("PING", b"")

    async def report(self, raw: bytes) -> SpamdReport:
        """Scan ``raw`` with REPORT: score, spamd's own threshold and the rules that fired."""
        if len(raw) > self.max_size:
            raise MessageTooLarge(len(raw), self.max_size)
        started = time.perf_counter()
        response = await self._request("REPORT", raw)
        elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
        spam = response.headers.get("Spam")
        if spam is None:
            raise SpamdUnavailable(f"spamd at {self.url} answered REPORT without a Spam header")
        body = response.body.decode("utf-8", errors="replace")
        return SpamdReport(
            score=float(spam.score),
            threshold=float(spam.threshold),
            is_spam=bool(spam.value),
            rules=tuple(parse_report_rules(body)),
            protocol_version=str(response.version),
            response_code=int(response.status_code),
            response_message=str(response.message),
            elapsed_ms=elapsed_ms,
        )

    async def server_version(self) -> str | None:
        """SpamAssassin's version, asked once (HEADERS of a tiny message) and cached.

        ``None`` when spamd does not say (a custom header config) or cannot be reached now.
        """
        if self._version is not None:
            return self._version
        async with self._version_lock:
            if self._version is None:
                try:
                    response = await self._request("HEADERS", _PROBE_MESSAGE)
                except SpamdUnavailable:
                    return None
                match = _CHECKER_VERSION.search(response.body.decode("utf-8", errors="replace"))
                self._version = match.group(1) if match else ""
        return self._version or None

    def set_server_version(self, version: str | None) -> None:
        """Record a version known another way (a managed spamd logs it at start-up)."""
        self._version = version or None
