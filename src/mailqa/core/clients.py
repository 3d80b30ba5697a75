"""What the checks use of the shared long-lived clients, and the plain values they answer.

``CheckContext`` types its clients with these protocols, so the core names no class of
``mailqa.net``: ``DnsResolver``, ``LinkFetcher``, ``SpamdClient`` and the caches satisfy them
structurally (mypy checks it where ``resources`` puts them into the context), and tests may
pass any object that does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

# DNS ------------------------------------------------------------------------------------------

AnswerStatus = Literal["ok", "nxdomain", "nodata", "error", "invalid"]


@dataclass(frozen=True)
class DnsAnswer:
    """The outcome of one lookup. ``records`` are text: TXT strings joined, names without the
    final dot, MX as ``"preference host"``."""

    name: str
    rdtype: str
    status: AnswerStatus
    records: tuple[str, ...] = ()
    ttl: float = 0.0
    error: str | None = None
    elapsed_ms: float = 0.0
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def failed(self) -> bool:
        """The lookup did not complete (timeout, SERVFAIL, refused...): the answer is unknown."""
        return self.status == "error"

    @property
    def void(self) -> bool:
        """No such name, or no records of the type (an RFC 7208 "void lookup")."""
        return self.status in ("nxdomain", "nodata")


class Resolver(Protocol):
    """DNS lookups that never raise for DNS reasons (see ``DnsAnswer.status``)."""

    async def query(self, name: str, rdtype: str) -> DnsAnswer: ...
    async def query_many(self, lookups: Iterable[tuple[str, str]]) -> list[DnsAnswer]: ...
    async def txt(self, name: str) -> DnsAnswer: ...
    async def prefetch_txt(self, names: Iterable[str]) -> dict[str, DnsAnswer]: ...


# HTTP -----------------------------------------------------------------------------------------


class RedirectHop(BaseModel):
    """One answer in a redirect chain: the URL asked and the status it gave."""

    url: str
    status_code: int
    location: str | None = None


class FetchResult(BaseModel):
    """What fetching one URL found, redirects followed."""

    url: str
    final_url: str | None = None
    status_code: int | None = None
    ok: bool = False
    redirects: list[RedirectHop] = Field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None
    method: Literal["HEAD", "GET"] | None = None
    content_type: str | None = None
    size: int | None = Field(
        default=None, description="Body size: Content-Length, or bytes read for images."
    )
    size_at_least: bool = Field(
        default=False, description="The body was larger than the cap; size is a lower bound."
    )
    duration_ms: float = 0.0
    from_cache: bool = False


class FetchedText(BaseModel):
    """A resource read for its content (a linked stylesheet)."""

    url: str
    final_url: str | None = None
    status_code: int | None = None
    text: str | None = None
    truncated: bool = False
    error: str | None = None
    duration_ms: float = 0.0


class Fetcher(Protocol):
    """HTTP(S) requests that may only reach addresses the policy allows (SSRF-safe)."""

    async def fetch(self, url: str, *, image: bool = False, scope: str = "") -> FetchResult:
        """Check ``url`` (redirects followed); results are cached per ``scope``."""
        ...

    async def fetch_text(self, url: str, *, max_bytes: int = 512 * 1024) -> FetchedText: ...


# spamd ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpamRule:
    """One SpamAssassin rule that fired, as REPORT lists it."""

    name: str
    score: float
    description: str


@dataclass(frozen=True)
class SpamdReport:
    """spamd's verdict on one message."""

    score: float
    threshold: float
    is_spam: bool
    rules: tuple[SpamRule, ...]
    protocol_version: str
    response_code: int
    response_message: str
    elapsed_ms: float


class SpamScanner(Protocol):
    """A spamd to score messages with."""

    @property
    def url(self) -> str:
        """Where it listens (analysis processes connect to the same one)."""
        ...

    @property
    def max_size(self) -> int:
        """The largest message it is sent, in bytes."""
        ...

    async def report(self, raw: bytes) -> SpamdReport: ...
    async def server_version(self) -> str | None: ...


# Cache ----------------------------------------------------------------------------------------


@runtime_checkable
class SharedCache(Protocol):
    """Byte values under string keys, each with a time to live."""

    distributed: bool
    """True when other processes (other machines) read and write the same entries."""

    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl: float) -> None: ...
    async def close(self) -> None: ...
