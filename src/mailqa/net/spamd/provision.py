"""Which spamd a process uses: an external one (``MAILQA_SPAMD_URL``), a managed child, or
none (and why)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Literal, Protocol

from mailqa.core.errors import ConfigError
from mailqa.net.dns import parse_server
from mailqa.net.spamd.client import SpamdClient
from mailqa.net.spamd.process import ManagedSpamd, SpamdStartError, find_spamd

log = logging.getLogger(__name__)


class SpamdSettings(Protocol):
    """The settings ``open_spamd`` reads (``Settings`` has them)."""

    @property
    def spamd_url(self) -> str | None: ...
    @property
    def spamd_managed(self) -> Literal["auto", "on", "off"]: ...
    @property
    def spamd_binary(self) -> str: ...
    @property
    def spamd_children(self) -> int: ...
    @property
    def spamd_timeout(self) -> float: ...
    @property
    def spamd_concurrency(self) -> int: ...
    @property
    def spamd_max_size(self) -> int: ...
    @property
    def spamd_network_rules(self) -> bool: ...
    @property
    def spamd_dns_server(self) -> str | None: ...
    @property
    def dns_servers(self) -> Sequence[str]: ...


def spamd_dns_server(settings: SpamdSettings) -> str | None:
    """The DNS server a managed spamd's network rules query: ``spamd_dns_server``, else the
    first of ``dns_servers`` (in SpamAssassin's ``dns_server`` form, IPv6 in brackets), else
    none (the system resolver)."""
    if settings.spamd_dns_server:
        return settings.spamd_dns_server
    if not settings.dns_servers:
        return None
    host, port = parse_server(settings.dns_servers[0])
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def open_spamd(
    settings: SpamdSettings, stack: AsyncExitStack, *, offline: bool = False
) -> tuple[SpamdClient | None, str | None]:
    """The spamd client a process uses, and why there is none when there is none.

    An external spamd (``spamd_url``) is used as is. Otherwise a managed spamd is started
    (``spamd_managed`` auto/on) and stopped when ``stack`` closes. Offline, its network rules
    stay off whatever the settings say.
    """

    def client_for(url: str) -> SpamdClient:
        return SpamdClient(
            url,
            timeout=settings.spamd_timeout,
            concurrency=settings.spamd_concurrency,
            max_size=settings.spamd_max_size,
        )

    if settings.spamd_url:
        return client_for(settings.spamd_url), None
    if settings.spamd_managed == "off":
        return None, "no spamd: MAILQA_SPAMD_URL is unset and the managed spamd is off"
    if find_spamd(settings.spamd_binary) is None:
        reason = (
            f"no spamd: MAILQA_SPAMD_URL is unset and {settings.spamd_binary!r} is not installed "
            "(Debian: apt-get install spamassassin spamc spamd)"
        )
        if settings.spamd_managed == "on":
            raise ConfigError(reason)
        return None, reason
    managed = ManagedSpamd(
        settings.spamd_binary,
        children=settings.spamd_children,
        network_rules=settings.spamd_network_rules and not offline,
        dns_server=spamd_dns_server(settings),
    )
    try:
        await stack.enter_async_context(managed)
    except SpamdStartError as exc:
        if settings.spamd_managed == "on":
            raise ConfigError(f"the managed spamd did not start: {exc}") from exc
        log.warning("the managed spamd did not start: %s", exc)
        return None, f"the managed spamd did not start: {str(exc).splitlines()[0]}"
    client = client_for(managed.url)
    client.set_server_version(managed.version)
    return client, None
