"""The Check protocol and the context every check receives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from mailqa.core.clients import Fetcher, Resolver, SharedCache, SpamScanner
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult

ConfigT = TypeVar("ConfigT")


@dataclass
class CheckContext:
    """What a check may use besides the message: its configuration and the shared
    long-lived clients.

    A check that is configurable declares a small frozen dataclass of what it reads (its
    ``...Config``) and asks for it with ``ctx.config(HtmlConfig)``; ``configs`` holds one per
    class, built from the settings by ``mailqa.resources.check_configs``. Clients are
    injected (tests pass ones pointed at real local servers). A check that needs a client
    that is absent reports ``skipped`` with the reason.
    """

    offline: bool = False
    """The network checks are skipped, and no check touches the network."""
    configs: Mapping[type[Any], object] = field(default_factory=dict)
    resolver: Resolver | None = None
    http: Fetcher | None = None
    spamd: SpamScanner | None = None
    cache: SharedCache | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    scope: str = ""
    """Whose mail this is (``project:ID``; empty outside the server). Caches whose hits
    would tell one owner what another's mail contained (link results) are kept per scope."""

    def config(self, kind: type[ConfigT]) -> ConfigT:
        """The configuration object of class ``kind``; ``LookupError`` when there is none."""
        found = self.configs.get(kind)
        if not isinstance(found, kind):
            raise LookupError(f"the check context holds no {kind.__name__}")
        return found

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
