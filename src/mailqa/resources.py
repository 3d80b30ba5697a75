"""Build the shared long-lived clients the checks use, and close them at the end.

The server, the worker, the CLI and the audit runner all open one context for their life
and pass it to every pipeline run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import AsyncExitStack, asynccontextmanager

from mailqa.core.check import CheckContext
from mailqa.core.errors import ConfigError
from mailqa.net.cache import SharedCache, cache_url_for, make_cache
from mailqa.net.dns import DnsResolver
from mailqa.net.http.fetcher import LinkFetcher, fetcher_config
from mailqa.net.spamd.provision import open_spamd
from mailqa.settings import Settings


@asynccontextmanager
async def open_check_context(
    settings: Settings,
    *,
    offline: bool | None = None,
    checks: Collection[str] | None = None,
    with_spamd: bool | None = None,
) -> AsyncIterator[CheckContext]:
    """Open the clients the named ``checks`` need (all of them when ``checks`` is None).

    ``with_spamd`` overrides whether a (possibly managed) spamd is opened.
    """
    ctx = CheckContext(settings=settings, offline=settings.offline if offline is None else offline)
    if with_spamd is None:
        with_spamd = checks is None or "spam" in checks
    async with AsyncExitStack() as stack:
        _ = stack  # each shared client registers its cleanup here
        ctx.cache = make_cache(
            cache_url_for(settings.cache_url, settings.executor, settings.broker_url)
        )
        stack.push_async_callback(ctx.cache.close)
        # The DNS resolver and the link fetcher keep their own in-process caches; a
        # distributed cache is a second level shared with the other workers.
        shared = ctx.cache if ctx.cache.distributed else None
        if with_spamd:
            ctx.spamd, reason = await open_spamd(settings, stack, offline=ctx.offline)
            if reason:
                ctx.extras["spamd_unavailable"] = reason
        if not ctx.offline and (checks is None or {"auth", "blacklist"} & set(checks)):
            try:
                ctx.resolver = resolver_from_settings(settings, shared=shared)
            except ConfigError as exc:
                if settings.dns_servers:  # a bad MAILQA_DNS_SERVERS is the user's to fix
                    raise
                ctx.extras["resolver_unavailable"] = str(exc)
        wants_http = (settings.link_check and (checks is None or "links" in checks)) or (
            settings.html_fetch_stylesheets and (checks is None or "html" in checks)
        )
        if wants_http and not ctx.offline:
            # With MAILQA_DNS_SERVERS set, link hosts resolve through the same servers as the
            # DNS checks; otherwise through the system resolver (which knows /etc/hosts).
            resolve = None
            if settings.dns_servers:
                resolve = (
                    ctx.resolver or resolver_from_settings(settings, shared)
                ).connect_addresses
            ctx.http = await stack.enter_async_context(
                LinkFetcher(fetcher_config(settings), resolve=resolve, shared=shared)
            )
        yield ctx


def resolver_from_settings(settings: Settings, shared: SharedCache | None = None) -> DnsResolver:
    """The shared DNS resolver (it holds no sockets between lookups: nothing to close)."""
    return DnsResolver(
        settings.dns_servers,
        timeout=settings.dns_timeout,
        concurrency=settings.dns_concurrency,
        cache_size=settings.dns_cache_size,
        max_ttl=settings.dns_cache_max_ttl,
        negative_ttl=settings.dns_negative_ttl,
        shared=shared,
    )
