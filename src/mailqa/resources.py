"""Build the analyzer every runner shares: its checks, the long-lived clients they use
(closed at the end) and the retry policy.

The server, its analysis processes, the Celery worker, the CLI and the audit runners each
open one analyzer for their life and run every message through it.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

from mailqa.checks import build_checks
from mailqa.core.analyzer import Analyzer, RetryPolicy
from mailqa.core.check import CheckContext
from mailqa.core.clients import Fetcher, Resolver, SpamScanner
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


_CONFIG_FIELDS: dict[str, Callable[[Settings], dict[str, Any]]] = {
    "mailqa.checks.auth.config.AuthConfig": lambda s: {
        "receiver": s.smtp_hostname,
        "serv_id": s.auth_serv_id or s.smtp_hostname,
    },
    "mailqa.checks.blacklist.BlacklistConfig": lambda s: {
        "dnsbl_file": s.dnsbl_file,
        "max_domains": s.dnsbl_max_domains,
    },
    "mailqa.checks.html.HtmlConfig": lambda s: {
        "targets": tuple(s.html_targets),
        "strict": s.html_strict,
        "min_share": s.html_min_share,
        "impact": dict(s.html_impact),
        "fetch_stylesheets": s.html_fetch_stylesheets,
        "fail_below": s.html_fail_below,
    },
    "mailqa.checks.links.check.LinksConfig": lambda s: {
        "check_http": s.link_check,
        "max_urls": s.link_max_urls,
        "image_max_bytes": s.link_image_max_bytes,
        "check_timeout": s.check_timeout,
    },
    "mailqa.checks.spam.SpamConfig": lambda s: {"receiver_hostname": s.smtp_hostname},
}
"""Each configurable check's configuration class (by its dotted path) and its fields from
the settings: checks read these, never ``Settings``. A new configurable check adds its line
here."""


class CheckConfigs(Mapping[type[Any], object]):
    """The configuration objects of the checks, built from the settings when a check first
    asks for its own: naming the classes by path keeps a run from importing checks it does
    not run."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._built: dict[type[Any], object] = {}

    def __getitem__(self, kind: type[Any]) -> object:
        if kind not in self._built:
            fields = _CONFIG_FIELDS.get(f"{kind.__module__}.{kind.__qualname__}")
            if fields is None:
                raise KeyError(kind)
            self._built[kind] = kind(**fields(self._settings))
        return self._built[kind]

    def __iter__(self) -> Iterator[type[Any]]:
        for path in _CONFIG_FIELDS:
            module, _, name = path.rpartition(".")
            yield getattr(importlib.import_module(module), name)

    def __len__(self) -> int:
        return len(_CONFIG_FIELDS)


def check_configs(settings: Settings) -> CheckConfigs:
    """Each configurable check's own configuration object, from the settings."""
    return CheckConfigs(settings)


def check_context(
    settings: Settings,
    *,
    offline: bool = False,
    resolver: Resolver | None = None,
    http: Fetcher | None = None,
    spamd: SpamScanner | None = None,
    extras: dict[str, Any] | None = None,
) -> CheckContext:
    """A check context configured from ``settings`` (offline when either says so), with
    the clients given; ``open_check_context`` opens the clients too."""
    return CheckContext(
        offline=offline or settings.offline,
        configs=check_configs(settings),
        resolver=resolver,
        http=http,
        spamd=spamd,
        extras=dict(extras or {}),
    )


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

    The context is offline when ``offline`` or the settings say so: then no DNS resolver or
    link fetcher is opened. ``with_spamd`` overrides whether a (possibly managed) spamd is
    opened.
    """
    ctx = check_context(settings, offline=bool(offline))
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
        resolver: DnsResolver | None = None
        if not ctx.offline and (checks is None or {"auth", "blacklist"} & set(checks)):
            try:
                ctx.resolver = resolver = resolver_from_settings(settings, shared=shared)
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
                resolve = (resolver or resolver_from_settings(settings, shared)).connect_addresses
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
