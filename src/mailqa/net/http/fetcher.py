"""``LinkFetcher``: checks URLs over the vetting transport (HEAD, then GET), follows and vets
every redirect hop, bounds each request and each link's chain, limits concurrency and rate
per host, and caches results per scope (and in a cache shared between processes)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import httpx

from mailqa import __version__
from mailqa.core.clients import FetchedText, FetchResult, RedirectHop
from mailqa.net.http.body import ACCEPT_ENCODING, BoundedBody, read_bounded
from mailqa.net.http.errors import ChainTimeout, FetchError
from mailqa.net.http.policy import AddressPolicy
from mailqa.net.http.transport import Resolve, VettedTransport, system_resolve

if TYPE_CHECKING:
    from mailqa.net.cache import SharedCache

USER_AGENT = f"mailqa/{__version__} link checker (+https://github.com/mailqa/mailqa)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# HEAD answers that do not tell us whether GET works: retry those with GET. Many servers and
# CDNs answer HEAD with 404 (or 400, 403, 405, 501...) for pages GET serves.
HEAD_UNRELIABLE_STATUSES = frozenset({400, 401, 403, 404, 405, 406, 409, 500, 501, 502, 503})


@dataclass
class FetchStats:
    head_requests: int = 0
    get_requests: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    distributed_hits: int = 0
    """Misses of this process's cache answered by the cache shared between processes."""
    refused: int = 0

    @property
    def requests(self) -> int:
        return self.head_requests + self.get_requests


@dataclass
class FetcherConfig:
    policy: AddressPolicy = field(default_factory=AddressPolicy)
    connect_timeout: float = 5.0
    timeout: float = 10.0
    total_timeout: float = 20.0
    """Seconds all requests of one link may take together (redirect hops, HEAD and GET);
    waiting for a concurrency slot or the rate limit does not count."""
    max_redirects: int = 10
    max_body_bytes: int = 5 * 1024 * 1024
    concurrency: int = 20
    per_host_concurrency: int = 4
    per_host_rate: float = 10.0
    cache_ttl: float = 3600.0
    error_cache_ttl: float = 300.0
    cache_size: int = 10_000
    user_agent: str = USER_AGENT


class LinkSettings(Protocol):
    """The ``MAILQA_LINK_*`` settings ``fetcher_config`` reads (``Settings`` has them)."""

    @property
    def link_allow(self) -> Sequence[str]: ...
    @property
    def link_connect_timeout(self) -> float: ...
    @property
    def link_timeout(self) -> float: ...
    @property
    def link_total_timeout(self) -> float: ...
    @property
    def link_max_redirects(self) -> int: ...
    @property
    def link_max_body_bytes(self) -> int: ...
    @property
    def link_concurrency(self) -> int: ...
    @property
    def link_per_host_concurrency(self) -> int: ...
    @property
    def link_per_host_rate(self) -> float: ...
    @property
    def link_cache_ttl(self) -> float: ...


def fetcher_config(settings: LinkSettings) -> FetcherConfig:
    """The fetcher configuration the ``MAILQA_LINK_*`` settings describe."""
    return FetcherConfig(
        policy=AddressPolicy.from_entries(settings.link_allow),
        connect_timeout=settings.link_connect_timeout,
        timeout=settings.link_timeout,
        total_timeout=settings.link_total_timeout,
        max_redirects=settings.link_max_redirects,
        max_body_bytes=settings.link_max_body_bytes,
        concurrency=settings.link_concurrency,
        per_host_concurrency=settings.link_per_host_concurrency,
        per_host_rate=settings.link_per_host_rate,
        cache_ttl=settings.link_cache_ttl,
        error_cache_ttl=min(settings.link_cache_ttl, 300.0),
    )


class _HostGates:
    """Per-host concurrency slots and a per-host request rate, reserved in arrival order."""

    def __init__(self, per_host: int, rate: float) -> None:
        self._per_host = per_host
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}
        self._next_start: dict[str, float] = {}

    @asynccontextmanager
    async def enter(self, host: str) -> AsyncIterator[None]:
        sem, users = self._slots.setdefault(host, (asyncio.Semaphore(self._per_host), [0]))
        users[0] += 1
        try:
            async with sem:
                if self._interval:
                    now = time.monotonic()
                    start = max(now, self._next_start.get(host, now))
                    self._next_start[host] = start + self._interval
                    if start > now:
                        await asyncio.sleep(start - now)
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._slots[host]
                if len(self._next_start) > 1024:
                    now = time.monotonic()
                    for name in [h for h, t in self._next_start.items() if t <= now]:
                        del self._next_start[name]


CacheKey = tuple[str, str, bool]  # scope, URL, image


class _TtlCache:
    """A bounded mapping whose entries expire; oldest entries go first when full."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[CacheKey, tuple[float, FetchResult]] = OrderedDict()

    def get(self, key: CacheKey) -> FetchResult | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, result = item
        if expires < time.monotonic():
            del self._items[key]
            return None
        return result

    def put(self, key: CacheKey, result: FetchResult, ttl: float) -> None:
        if ttl <= 0:
            return
        self._items[key] = (time.monotonic() + ttl, result)
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def _error_text(exc: BaseException, timeout: float) -> tuple[str, str]:
    """(kind, reason) for an exception from one fetch."""
    if isinstance(exc, FetchError):
        return exc.kind, str(exc)
    if isinstance(exc, TimeoutError):
        return "timeout", f"no complete answer within {timeout:g} s"
    if isinstance(exc, httpx.ConnectTimeout):
        return "timeout", "connect timeout"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", f"no answer within {timeout:g} s (read timeout)"
    if isinstance(exc, httpx.ConnectError):
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ssl.SSLCertVerificationError):
                return "tls", f"TLS certificate not valid: {cause.verify_message}"
            if isinstance(cause, ssl.SSLError):
                return "tls", f"TLS error: {cause.reason or cause}"
            cause = cause.__cause__ or cause.__context__
        return "connect", f"connection failed: {exc}" if str(exc) else "connection failed"
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return "invalid-url", f"invalid URL: {exc}"
    if isinstance(exc, httpx.HTTPError):
        return "protocol", f"{type(exc).__name__}: {exc}"
    return "error", f"{type(exc).__name__}: {exc}"


@dataclass
class _Clock:
    """Time one link's requests have taken so far, against its total (``total_timeout``)."""

    total: float
    spent: float = 0.0


class LinkFetcher:
    """Check URLs over HTTP safely. One instance per process; share it across messages."""

    def __init__(
        self,
        config: FetcherConfig | None = None,
        *,
        resolve: Resolve | None = None,
        ssl_context: ssl.SSLContext | None = None,
        shared: SharedCache | None = None,
    ) -> None:
        """``shared``: a cache other processes read too (Redis), consulted after this
        process's own cache misses, so an audit fanned out to workers checks a URL once."""
        self.config = config or FetcherConfig()
        self._shared = shared
        # Keyed by the address policy too: a process with a narrower MAILQA_LINK_ALLOW must not
        # report what a process allowed to reach an internal host found there.
        self._shared_prefix = f"link:{self.config.policy.digest()}:"
        self.stats = FetchStats()
        self.transport = VettedTransport(
            self.config.policy,
            resolve or system_resolve,
            ssl_context=ssl_context,
            resolve_timeout=self.config.connect_timeout,
            max_connections=max(self.config.concurrency, 1),
        )
        self._client = httpx.AsyncClient(
            transport=self.transport,
            follow_redirects=False,
            trust_env=False,  # an environment proxy would bypass the vetting
            timeout=httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout),
            headers={
                "User-Agent": self.config.user_agent,
                "Accept": "*/*",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
        )
        self._global = asyncio.Semaphore(max(self.config.concurrency, 1))
        self._hosts = _HostGates(
            max(self.config.per_host_concurrency, 1), self.config.per_host_rate
        )
        self._cache = _TtlCache(self.config.cache_size)
        self._inflight: dict[CacheKey, asyncio.Task[FetchResult]] = {}

    async def __aenter__(self) -> LinkFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        await self._client.aclose()

    @property
    def cache_entries(self) -> int:
        return len(self._cache)

    async def fetch(self, url: str, *, image: bool = False, scope: str = "") -> FetchResult:
        """Check ``url``: a cached result when fresh, else one (shared) trip to the network.

        ``image=True`` reads the body (up to the cap) when the server gives no size, and
        retries with GET when HEAD gives no Content-Type. Results are cached and shared per
        ``scope`` (whose mail asks, e.g. a project): another scope never sees them.
        """
        key = (scope, url, image)
        cached = self._cache.get(key)
        if cached is not None:
            self.stats.cache_hits += 1
            return cached.model_copy(update={"from_cache": True})
        task = self._inflight.get(key)
        if task is not None:
            self.stats.cache_hits += 1
            result = await asyncio.shield(task)
            return result.model_copy(update={"from_cache": True})
        self.stats.cache_misses += 1
        task = asyncio.create_task(self._fetch_and_cache(key))
        self._inflight[key] = task
        task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        # Shielded: a caller giving up does not cancel the fetch others may be waiting on.
        return await asyncio.shield(task)

    async def _fetch_and_cache(self, key: CacheKey) -> FetchResult:
        scope, url, image = key
        url_digest = hashlib.sha256(url.encode()).hexdigest()
        scope_digest = hashlib.sha256(scope.encode()).hexdigest()[:16]
        shared_key = f"{self._shared_prefix}{scope_digest}:{int(image)}:{url_digest}"
        if self._shared is not None:
            found = await self._shared_get(shared_key)
            if found is not None and await self._hosts_still_allowed(found[0]):
                result, ttl = found
                self.stats.distributed_hits += 1
                self._cache.put(key, result, ttl)
                return result.model_copy(update={"from_cache": True})
        result = await self._fetch_chain(url, image)
        ttl = self.config.cache_ttl if result.error is None else self.config.error_cache_ttl
        if result.error_kind != "refused":  # policy answers are cheap and the policy may change
            self._cache.put(key, result, ttl)
            if self._shared is not None:
                value = {"expires": time.time() + ttl, "result": result.model_dump(mode="json")}
                await self._shared.set(shared_key, json.dumps(value).encode(), ttl)
        return result

    async def _shared_get(self, shared_key: str) -> tuple[FetchResult, float] | None:
        assert self._shared is not None
        raw = await self._shared.get(shared_key)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            ttl = float(data["expires"]) - time.time()
            result = FetchResult.model_validate(data["result"])
        except (ValueError, KeyError, TypeError):
            return None
        return (result, ttl) if ttl > 0 else None

    async def _hosts_still_allowed(self, result: FetchResult) -> bool:
        """Vet every host of a result another process found, as this process would before
        connecting (its policy, its DNS answers now). Any refusal or failure: not used."""
        urls = [result.url, *(hop.url for hop in result.redirects), result.final_url]
        hosts: set[str] = set()
        try:
            for url in urls:
                if url:
                    hosts.add(httpx.URL(url).host)
            for host in hosts:
                await self.transport.backend.vetted_addresses(host)
        except (FetchError, httpx.InvalidURL):
            return False
        return True

    @asynccontextmanager
    async def _timed(self, clock: _Clock) -> AsyncIterator[None]:
        """One request: at most ``timeout``, and at most what is left of the link's total."""
        left = clock.total - clock.spent
        if left <= 0:
            raise ChainTimeout(self._total_text())
        limit = min(self.config.timeout, left)
        started = time.monotonic()
        try:
            async with asyncio.timeout(limit):
                yield
        except TimeoutError:
            if limit < self.config.timeout:
                raise ChainTimeout(self._total_text()) from None
            raise
        finally:
            clock.spent += time.monotonic() - started

    def _total_text(self) -> str:
        return (
            f"no complete answer within {self.config.total_timeout:g} s in all "
            "(every request of the link, redirects included)"
        )

    async def _fetch_chain(self, url: str, image: bool) -> FetchResult:
        started = time.perf_counter()
        result = FetchResult(url=url)
        current = url
        seen: set[str] = set()
        clock = _Clock(self.config.total_timeout)
        try:
            while True:
                seen.add(current)
                response = await self._fetch_one(current, image, clock)
                status, headers, method, size, size_at_least = response
                location = headers.get("location")
                if status in REDIRECT_STATUSES and location:
                    next_url = str(httpx.URL(current).join(location.strip()))
                    result.redirects.append(
                        RedirectHop(url=current, status_code=status, location=location)
                    )
                    if httpx.URL(next_url).scheme not in ("http", "https"):
                        raise FetchError(f"redirect to an unsupported URL: {next_url}")
                    if next_url in seen:
                        result.error_kind = "redirect-loop"
                        result.error = f"redirect loop back to {next_url}"
                        result.final_url = next_url
                        result.status_code = status
                        break
                    if len(result.redirects) >= self.config.max_redirects:
                        result.error_kind = "too-many-redirects"
                        result.error = f"more than {self.config.max_redirects} redirects"
                        result.final_url = next_url
                        result.status_code = status
                        break
                    current = next_url
                    continue
                result.final_url = current
                result.status_code = status
                result.method = method
                result.content_type = headers.get("content-type")
                result.size = size
                result.size_at_least = size_at_least
                result.ok = status < 400
                break
        except Exception as exc:
            result.error_kind, result.error = _error_text(exc, self.config.timeout)
            result.final_url = current
            if result.error_kind == "refused":
                self.stats.refused += 1
        result.duration_ms = round((time.perf_counter() - started) * 1000, 2)
        return result

    async def _fetch_one(
        self, url: str, image: bool, clock: _Clock
    ) -> tuple[int, httpx.Headers, Literal["HEAD", "GET"], int | None, bool]:
        """One URL, no redirects: HEAD, then GET when HEAD is refused or says too little."""
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise FetchError(f"not an http(s) URL: {url}")
        host = parsed.host
        try:
            status, headers = await self._head(url, host, clock)
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.TimeoutException | httpx.ConnectError):
                raise
            status, headers = 0, httpx.Headers()  # HEAD broke the connection: try GET
        needs_get = status == 0 or status in HEAD_UNRELIABLE_STATUSES
        if image and status < 300 and not headers.get("content-type"):
            needs_get = True
        if not needs_get:
            return status, headers, "HEAD", _content_length(headers), False
        return await self._get(url, host, clock, read_body=image)

    async def _head(self, url: str, host: str, clock: _Clock) -> tuple[int, httpx.Headers]:
        async with self._hosts.enter(host), self._global:
            self.stats.head_requests += 1
            async with self._timed(clock):
                response = await self._client.request("HEAD", url)
                await response.aclose()
            return response.status_code, response.headers

    async def _get(
        self, url: str, host: str, clock: _Clock, *, read_body: bool
    ) -> tuple[int, httpx.Headers, Literal["HEAD", "GET"], int | None, bool]:
        async with self._hosts.enter(host), self._global:
            self.stats.get_requests += 1
            async with self._timed(clock), self._client.stream("GET", url) as response:
                size = _content_length(response.headers)
                at_least = False
                if read_body and size is None and response.status_code < 300:
                    # The transfer size, as Content-Length would have said: not decoded.
                    read = await read_bounded(
                        response, self.config.max_body_bytes, decode=False, keep=False
                    )
                    size, at_least = read.size, read.truncated
                return response.status_code, response.headers, "GET", size, at_least

    async def fetch_text(self, url: str, *, max_bytes: int = 512 * 1024) -> FetchedText:
        """GET ``url`` and return its body as text (at most ``max_bytes``), for resources the
        checks read (linked stylesheets). Redirects are followed, each hop vetted again;
        never raises: failures come back in ``FetchedText.error``."""
        got = await self.fetch_bytes(url, max_bytes=max_bytes)
        result = FetchedText(
            url=url,
            final_url=got.final_url,
            status_code=got.status_code,
            error=got.error,
            truncated=got.truncated,
            duration_ms=got.duration_ms,
        )
        if got.error is None and got.data is not None:
            result.text = got.data.decode(got.charset or "utf-8", errors="replace")
        return result

    async def fetch_bytes(self, url: str, *, max_bytes: int = 512 * 1024) -> FetchedBytes:
        """GET ``url`` and return its body (at most ``max_bytes``, decoded from gzip/deflate)
        and Content-Type, for resources read for their content (stylesheets, the images of a
        render). Redirects are followed, each hop vetted again; never raises: failures come
        back in ``FetchedBytes.error``."""
        started = time.perf_counter()
        current, seen = url, {url}
        result = FetchedBytes(url=url)
        clock = _Clock(self.config.total_timeout)
        try:
            while True:
                parsed = httpx.URL(current)
                if parsed.scheme not in ("http", "https") or not parsed.host:
                    raise FetchError(f"not an http(s) URL: {current}")
                status, headers, body, truncated, charset = await self._get_body(
                    current, parsed.host, max_bytes, clock
                )
                location = headers.get("location")
                if status in REDIRECT_STATUSES and location:
                    current = str(parsed.join(location.strip()))
                    if current in seen or len(seen) > self.config.max_redirects:
                        raise FetchError(f"redirect loop or too many redirects at {current}")
                    seen.add(current)
                    continue
                result.final_url, result.status_code = current, status
                if status >= 400:
                    result.error = f"HTTP {status}"
                else:
                    result.data, result.truncated, result.charset = body, truncated, charset
                    result.content_type = headers.get("content-type")
                break
        except Exception as exc:
            result.error = _error_text(exc, self.config.timeout)[1]
            if result.final_url is None:
                result.final_url = current
        result.duration_ms = round((time.perf_counter() - started) * 1000, 2)
        return result

    async def _get_body(
        self, url: str, host: str, max_bytes: int, clock: _Clock
    ) -> tuple[int, httpx.Headers, bytes, bool, str | None]:
        async with self._hosts.enter(host), self._global:
            self.stats.get_requests += 1
            async with self._timed(clock), self._client.stream("GET", url) as response:
                read = BoundedBody(b"", 0, False)
                if response.status_code < 300:
                    read = await read_bounded(response, max_bytes, decode=True, keep=True)
                return (
                    response.status_code,
                    response.headers,
                    read.data,
                    read.truncated,
                    response.charset_encoding,
                )


@dataclass
class FetchedBytes:
    """A resource read for its content: its (bounded) body and what the server said of it."""

    url: str
    final_url: str | None = None
    status_code: int | None = None
    data: bytes | None = None
    content_type: str | None = None
    charset: str | None = None
    truncated: bool = False
    error: str | None = None
    duration_ms: float = 0.0


def _content_length(headers: httpx.Headers) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        length = int(value.strip())
    except ValueError:
        return None
    return length if length >= 0 else None
