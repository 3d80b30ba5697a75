"""An SSRF-safe HTTP fetcher for link validation.

Links in mail are attacker-controlled: a link checker that fetches whatever it is given can be
pointed at the cloud metadata service, at admin consoles on the loopback interface, or at the
private network. This fetcher:

- resolves each host itself and refuses loopback, private, link-local (169.254.169.254),
  multicast, reserved and otherwise non-global addresses unless an ``AddressPolicy``
  allow-lists the host name or the address range;
- dials the very address it vetted (a custom network backend under httpx), so a second DNS
  answer cannot swap the target (no DNS rebinding); the Host header, TLS SNI and certificate
  check still use the host name of the URL;
- never lets httpx follow redirects: every hop is a new request, vetted again;
- reads numeric host spellings the way browsers and ``inet_aton`` do (``127.1``,
  ``2130706433``, ``0x7f.1``) and ``localhost`` names as loopback, before any resolver;
- sends HEAD first and falls back to a streamed GET when HEAD is refused, with a body cap
  that holds while decoding too: gzip/deflate (any number of layers) is inflated
  incrementally and stops at the cap, so a small compressed body cannot expand in memory;
- bounds each request (``timeout``) and each link's whole redirect chain (``total_timeout``);
- limits concurrency globally and per host, rate-limits each host, and names itself in the
  User-Agent;
- keeps a TTL cache of results (with in-flight de-duplication) shared by the messages of one
  scope (a project: one project's mail never learns what another's linked to); a cache
  shared between processes is keyed by the address policy too, and its hits are vetted again
  before use.

Errors never escape ``LinkFetcher.fetch``: they come back in ``FetchResult.error`` with a
short ``error_kind`` (refused, dns, timeout, tls, connect, protocol, invalid-url,
redirect-loop, too-many-redirects).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import socket
import ssl
import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import certifi
import httpcore
import httpx
from pydantic import BaseModel, Field

from mailqa import __version__
from mailqa.core.errors import ConfigError
from mailqa.settings import Settings

if TYPE_CHECKING:
    from mailqa.net.cache import SharedCache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolve = Callable[[str], Awaitable[Sequence[str]]]
"""Host name -> its addresses (strings). Raise ``ResolveError`` (or ``OSError``) on failure."""

USER_AGENT = f"mailqa/{__version__} link checker (+https://github.com/mailqa/mailqa)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# HEAD answers that do not tell us whether GET works: retry those with GET. Many servers and
# CDNs answer HEAD with 404 (or 400, 403, 405, 501...) for pages GET serves.
HEAD_UNRELIABLE_STATUSES = frozenset({400, 401, 403, 404, 405, 406, 409, 500, 501, 502, 503})
_METADATA_NET = ipaddress.ip_network("169.254.0.0/16")
_NAT64_NET = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE_NET = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible ::a.b.c.d
_LOCALHOST = ("127.0.0.1",)  # what localhost names are dialled as, whatever DNS says


class FetchError(Exception):
    """A fetch failed for a reason worth reporting as is."""

    kind = "error"


class AddressRefused(FetchError):
    """The SSRF policy refused the address a host resolves to."""

    kind = "refused"


class ResolveError(FetchError):
    """The host name does not resolve."""

    kind = "dns"


class ChainTimeout(FetchError):
    """The link's requests (every redirect hop, HEAD and GET) took longer than the total."""

    kind = "timeout"


# --- address policy -------------------------------------------------------------------------


def _embedded_ipv4(addr: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64), if any."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return addr.ipv4_mapped
        if addr.sixtofour is not None:
            return addr.sixtofour
        if addr in _NAT64_NET or (addr in _COMPATIBLE_NET and int(addr) > 1):
            return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def _ipv4_number(part: str) -> int | None:
    """One dot-separated part of a numeric IPv4 host: decimal, ``0x`` hex or ``0`` octal."""
    if part.startswith("0x"):
        digits, base = part[2:], 16
        if not digits:
            return 0  # "0x" alone is 0 for browsers
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not digits or any(c not in "0123456789abcdef"[:base] for c in digits):
        return None
    return int(digits, base)


def parse_ip_host(host: str) -> IPAddress | None:
    """The address a URL host denotes, or None for a host name.

    Besides the usual literals (``127.0.0.1``, ``[::1]``) this reads the numeric IPv4 forms
    browsers (the WHATWG URL standard) and ``inet_aton`` accept, so they cannot pass for
    names: one to four parts, each decimal, ``0x`` hex or ``0``-prefixed octal, the last
    filling the remaining bytes (``127.1``, ``2130706433``, ``0x7f000001``,
    ``017700000001``, ``0x7f.1``).
    """
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    parts = name.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing dot, as in a fully qualified name
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    *head, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def is_localhost_name(host: str) -> bool:
    """``localhost`` and its subdomains: always this machine (RFC 6761), whatever DNS says."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def address_class(addr: IPAddress) -> str | None:
    """Why ``addr`` is not a public internet address, or None when it is one."""
    inner = _embedded_ipv4(addr)
    if inner is not None:
        reason = address_class(inner)
        if reason is not None:
            return f"{reason} (embedded in {addr})"
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        if addr in _METADATA_NET:
            return "link-local (cloud metadata range)"
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_private:
        return "private"
    if addr.is_reserved:
        return "reserved"
    if not addr.is_global:
        return "not globally routable"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which non-public destinations are nevertheless allowed.

    Entries are host names (``staging.example.com``; ``.example.com`` or ``*.example.com``
    for every subdomain), IP addresses or CIDR ranges. A host name entry allows whatever
    that name resolves to; a range allows those addresses for any name.
    """

    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> AddressPolicy:
        hosts: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith("*."):
                entry = entry[1:]
            name = entry.lstrip(".")
            if not name or any(c in name for c in "/:@ ") or ".." in entry:
                raise ConfigError(f"link allow-list: {raw!r} is neither a host name nor a CIDR")
            if entry.startswith("."):
                suffixes.append(entry)
            else:
                hosts.add(entry)
        return cls(frozenset(hosts), tuple(suffixes), tuple(networks))

    def digest(self) -> str:
        """A short fingerprint of the policy: results found under one policy are keyed by it
        in caches shared with processes that may run another."""
        entries = [
            sorted(self.hosts),
            sorted(self.suffixes),
            sorted(str(n) for n in self.networks),
        ]
        return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]

    def host_allowed(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        return name in self.hosts or any(name.endswith(s) for s in self.suffixes)

    def refusal(self, host: str, addr: IPAddress) -> str | None:
        """Why connecting to ``addr`` (for ``host``) is refused, or None when allowed."""
        reason = address_class(addr)
        if reason is None or self.host_allowed(host):
            return None
        if any(addr.version == net.version and addr in net for net in self.networks):
            return None
        return reason


async def system_resolve(host: str) -> list[str]:
    """The operating system's resolver (getaddrinfo), without blocking the event loop."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ResolveError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# --- the vetting network backend and transport ----------------------------------------------


class _VettedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and vets every host at the moment of connecting, then dials the vetted IP.

    httpcore still passes the URL's host name to TLS (SNI and certificate verification), and
    httpx writes it in the Host header, so only the socket address changes.
    """

    def __init__(self, policy: AddressPolicy, resolve: Resolve, resolve_timeout: float) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._policy = policy
        self._resolve = resolve
        self._resolve_timeout = resolve_timeout
        self.connections = 0

    async def vetted_addresses(self, host: str) -> list[str]:
        """The addresses to dial for ``host``, all vetted; raises ``AddressRefused`` (or
        ``ResolveError``). The caller dials these, never the name."""
        literal = parse_ip_host(host)
        if literal is not None:
            candidates: list[IPAddress] = [literal]
        elif is_localhost_name(host):
            candidates = [ipaddress.ip_address(a) for a in _LOCALHOST]
        else:
            try:
                async with asyncio.timeout(self._resolve_timeout):
                    answers = await self._resolve(host)
            except TimeoutError:
                raise ResolveError(f"cannot resolve {host}: DNS timed out") from None
            except ResolveError:
                raise
            except (OSError, LookupError) as exc:
                raise ResolveError(
                    str(exc) if isinstance(exc, LookupError) else f"cannot resolve {host}: {exc}"
                ) from exc
            candidates = []
            for answer in answers:
                try:
                    candidates.append(ipaddress.ip_address(answer))
                except ValueError:
                    continue
            if not candidates:
                raise ResolveError(f"cannot resolve {host}: no address")
        # One refused address refuses the host: a name mixing public and private answers is
        # either misconfigured or an attempt to reach the private one.
        for addr in candidates:
            reason = self._policy.refusal(host, addr)
            if reason is not None:
                if literal is None:
                    what = f"{host} resolves to {addr}, which"
                elif host.strip("[]").lower() == str(addr):
                    what = str(addr)
                else:
                    what = f"{host} ({addr})"
                article = "an" if reason[0] in "aeiou" else "a"
                raise AddressRefused(
                    f"refused: {what} is {article} {reason} address "
                    "(SSRF protection; allow it with MAILQA_LINK_ALLOW)"
                )
        return [str(a) for a in candidates]

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.vetted_addresses(host)
        last_error: Exception | None = None
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                last_error = exc
                continue
            self.connections += 1
            return stream
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("refused: unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# Most specific first: the first match wins.
_HTTPCORE_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _as_httpx_error(exc: Exception) -> Exception:
    for core_type, httpx_type in _HTTPCORE_ERRORS:
        if isinstance(exc, core_type):
            mapped = httpx_type(str(exc))
            mapped.__cause__ = exc
            return mapped
    return exc


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterator[bytes] | Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except Exception as exc:
            raise _as_httpx_error(exc) from exc

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()


class VettedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an httpcore pool whose every connection is vetted."""

    def __init__(
        self,
        policy: AddressPolicy,
        resolve: Resolve,
        *,
        ssl_context: ssl.SSLContext | None = None,
        resolve_timeout: float = 5.0,
        max_connections: int = 100,
    ) -> None:
        self.backend = _VettedBackend(policy, resolve, resolve_timeout)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or ssl.create_default_context(cafile=certifi.where()),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=self.backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await self._pool.handle_async_request(core_request)
        except FetchError:
            raise
        except Exception as exc:
            raise _as_httpx_error(exc) from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


# --- results ---------------------------------------------------------------------------------


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


def fetcher_config(settings: Settings) -> FetcherConfig:
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


# --- bounded body reading -------------------------------------------------------------------

_INFLATE_STEP = 64 * 1024  # most bytes one decompression step may produce
# What the fetcher can decode incrementally (and so asks for).
ACCEPT_ENCODING = "gzip, deflate"


class _Inflater:
    """One gzip or deflate layer, inflated a bounded step at a time: each chunk ``feed``
    yields is at most ``_INFLATE_STEP`` bytes, whatever the compression ratio."""

    def __init__(self, encoding: str) -> None:
        self.gzip = encoding in ("gzip", "x-gzip")
        self._fresh = True  # deflate: nothing decoded yet (zlib or raw framing undecided)
        self._inflate = self._new()

    def _new(self) -> Any:
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self.gzip else zlib.MAX_WBITS)

    def _step(self, data: bytes) -> bytes:
        try:
            out: bytes = self._inflate.decompress(data, _INFLATE_STEP)
        except zlib.error:
            if self.gzip or not self._fresh:
                raise
            # "deflate" is often sent as a raw deflate stream, without the zlib wrapper.
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflate.decompress(data, _INFLATE_STEP)
        self._fresh = False
        return out

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            out = self._step(data)
            if out:
                yield out
            if self._inflate.eof:
                rest: bytes = self._inflate.unused_data
                if not self.gzip or not rest.strip(b"\x00"):
                    return  # the end (trailing padding ignored)
                self._inflate = self._new()  # gzip: another member follows
                data = rest
                continue
            data = self._inflate.unconsumed_tail
            if not data and len(out) < _INFLATE_STEP:
                return


def _decoders(content_encoding: str | None) -> list[_Inflater]:
    """The layers to undo, outermost (last applied) first."""
    layers = []
    for token in (content_encoding or "").split(","):
        encoding = token.strip().lower()
        if encoding in ("", "identity"):
            continue
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise FetchError(f"unsupported Content-Encoding: {encoding}")
        layers.append(_Inflater(encoding))
    return layers[::-1]


def _decoded(chunk: bytes, layers: Sequence[_Inflater]) -> Iterator[bytes]:
    if not layers:
        yield chunk
        return
    first, rest = layers[0], layers[1:]
    for piece in first.feed(chunk):
        yield from _decoded(piece, rest)


@dataclass
class BoundedBody:
    """What was read of a body: ``data`` (when kept), its ``size`` and whether the cap cut it."""

    data: bytes
    size: int
    truncated: bool


async def read_bounded(
    response: httpx.Response, max_bytes: int, *, decode: bool, keep: bool
) -> BoundedBody:
    """Read a streamed response's body up to ``max_bytes``, counting the raw bytes and (with
    ``decode``) the bytes its Content-Encoding inflates to, and stop as soon as either goes
    over: memory stays about ``max_bytes`` plus one step, however the body is compressed."""
    layers = _decoders(response.headers.get("content-encoding")) if decode else []
    body = bytearray()
    raw = size = 0
    try:
        async for chunk in response.aiter_raw():
            raw += len(chunk)
            for piece in _decoded(chunk, layers):
                if keep:
                    body += piece[: max_bytes - size + 1]
                size += len(piece)
                if size > max_bytes:
                    break
            if size > max_bytes or raw > max_bytes:
                del body[max_bytes:]
                return BoundedBody(bytes(body), size, True)
    except zlib.error as exc:
        raise FetchError(
            f"the body is not valid {response.headers['content-encoding']}: {exc}"
        ) from exc
    return BoundedBody(bytes(body), size, False)


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
        started = time.perf_counter()
        current, seen = url, {url}
        result = FetchedText(url=url)
        clock = _Clock(self.config.total_timeout)
        try:
            while True:
                parsed = httpx.URL(current)
                if parsed.scheme not in ("http", "https") or not parsed.host:
                    raise FetchError(f"not an http(s) URL: {current}")
                status, location, body, truncated, charset = await self._get_body(
                    current, parsed.host, max_bytes, clock
                )
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
                    result.text = body.decode(charset or "utf-8", errors="replace")
                    result.truncated = truncated
                break
        except Exception as exc:
            result.error = _error_text(exc, self.config.timeout)[1]
            if result.final_url is None:
                result.final_url = current
        result.duration_ms = round((time.perf_counter() - started) * 1000, 2)
        return result

    async def _get_body(
        self, url: str, host: str, max_bytes: int, clock: _Clock
    ) -> tuple[int, str | None, bytes, bool, str | None]:
        async with self._hosts.enter(host), self._global:
            self.stats.get_requests += 1
            async with self._timed(clock), self._client.stream("GET", url) as response:
                read = BoundedBody(b"", 0, False)
                if response.status_code < 300:
                    read = await read_bounded(response, max_bytes, decode=True, keep=True)
                return (
                    response.status_code,
                    response.headers.get("location"),
                    read.data,
                    read.truncated,
                    response.charset_encoding,
                )


def _content_length(headers: httpx.Headers) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        length = int(value.strip())
    except ValueError:
        return None
    return length if length >= 0 else None
