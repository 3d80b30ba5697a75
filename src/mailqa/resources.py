"""Build the analyzer every runner shares: its checks, the long-lived clients they use
(closed at the end) and the retry policy.

The server, its analysis processes, the Celery worker, the CLI and the audit runners each
open one analyzer for their life and run every message through it.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from mailqa.checks import build_checks
from mailqa.core.analyzer import Analyzer, RetryPolicy
from mailqa.core.check import CheckContext
from mailqa.core.errors import ConfigError
from mailqa.core.pipeline import Pipeline
from mailqa.net.cache import SharedCache, cache_url_for, make_cache
from mailqa.settings import Settings

if TYPE_CHECKING:
    from mailqa.net.dns import DnsResolver

# The clients (DNS, HTTP, spamd) are imported when a check that needs one is opened: a run
# of the offline checks loads none of their libraries.


def rules_version() -> str | None:
    """The version of the bundled client-support data, when present."""
    try:
        module = importlib.import_module("mailqa.checks.html")
    except ImportError:
        return None
    version = getattr(module, "RULES_VERSION", None)
    return None if version is None else str(version)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        retries=settings.celery_max_retries, base_delay=settings.celery_retry_backoff
    )


@asynccontextmanager
async def open_analyzer(
    settings: Settings,
    checks: Sequence[str] | None = None,
    *,
    offline: bool | None = None,
    with_spamd: bool | None = None,
) -> AsyncIterator[Analyzer]:
    """The analyzer for ``checks`` (the configured ones when None): the pipeline, the clients
    those checks need, the retry policy and the rules version, closed on exit."""
    pipeline = Pipeline(
        build_checks(settings.checks if checks is None else checks),
        timeout=settings.check_timeout,
        cpu_seconds=settings.check_cpu_seconds,
        rules_version=rules_version(),
    )
    async with open_check_context(
        settings, offline=offline, checks=list(pipeline.checks), with_spamd=with_spamd
    ) as ctx:
        yield Analyzer(pipeline, ctx, retry_policy(settings), build=build_checks)


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
            from mailqa.net.spamd.provision import open_spamd

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
            from mailqa.net.http.fetcher import LinkFetcher, fetcher_config

            ctx.http = await stack.enter_async_context(
                LinkFetcher(fetcher_config(settings), resolve=resolve, shared=shared)
            )
        yield ctx


def resolver_from_settings(settings: Settings, shared: SharedCache | None = None) -> DnsResolver:
    """The shared DNS resolver (it holds no sockets between lookups: nothing to close)."""
    from mailqa.net.dns import DnsResolver

    return DnsResolver(
        settings.dns_servers,
        timeout=settings.dns_timeout,
        concurrency=settings.dns_concurrency,
        cache_size=settings.dns_cache_size,
        max_ttl=settings.dns_cache_max_ttl,
        negative_ttl=settings.dns_negative_ttl,
        shared=shared,
    )
