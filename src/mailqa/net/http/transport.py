"""The httpx transport that vets every connection: each host is resolved and vetted against
the ``AddressPolicy`` at the moment of connecting, and the vetted address is what is dialled
(no DNS rebinding)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

import certifi
import httpcore
import httpx

from mailqa.net.http.errors import AddressRefused, FetchError, ResolveError
from mailqa.net.http.policy import AddressPolicy, IPAddress, is_localhost_name, parse_ip_host

Resolve = Callable[[str], Awaitable[Sequence[str]]]
"""Host name -> its addresses (strings). Raise ``ResolveError`` (or ``OSError``) on failure."""

_LOCALHOST = ("127.0.0.1",)  # what localhost names are dialled as, whatever DNS says


async def system_resolve(host: str) -> list[str]:
    """The operating system's resolver (getaddrinfo), without blocking the event loop."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ResolveError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


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
