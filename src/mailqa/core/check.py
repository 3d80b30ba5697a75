"""The Check protocol and the context every check receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult
from mailqa.settings import Settings

if TYPE_CHECKING:
    from mailqa.net.cache import SharedCache
    from mailqa.net.dns import DnsResolver
    from mailqa.net.http.fetcher import LinkFetcher
    from mailqa.net.spamd.client import SpamdClient


@dataclass
class CheckContext:
    """What a check may use besides the message: settings and shared long-lived clients.

    Clients are injected (tests pass ones pointed at real local servers). A check that needs
    a client that is absent reports ``skipped`` with the reason.
    """

    settings: Settings
    offline: bool = False
    resolver: DnsResolver | None = None
    http: LinkFetcher | None = None
    spamd: SpamdClient | None = None
    cache: SharedCache | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    scope: str = ""
    """Whose mail this is (``project:ID``; empty outside the server). Caches whose hits
    would tell one owner what another's mail contained (link results) are kept per scope."""

    @property
    def no_resolver_reason(self) -> str:
        """Why ``resolver`` is None, for the ``skipped`` result of a DNS check."""
        return str(self.extras.get("resolver_unavailable") or "no DNS resolver configured")


@runtime_checkable
class Check(Protocol):
    """A small class with one async method. Raising is allowed: the pipeline reports it."""

    name: ClassVar[str]
    needs_network: ClassVar[bool]
    default_enabled: ClassVar[bool]

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult: ...
