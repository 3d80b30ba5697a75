"""Fixtures for the link tests: real HTTP and HTTPS servers on loopback, and name resolvers.

The plain HTTP ``server`` is in tests/conftest.py (the gate tests use it too)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest

from mailqa.net.http.errors import ResolveError
from mailqa.net.http.fetcher import FetcherConfig, LinkFetcher
from mailqa.net.http.policy import AddressPolicy

from .local_http import LocalHttpServer, self_signed_cert

TLS_NAME = "secure.links.test"


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"), [TLS_NAME, "127.0.0.1"])


@pytest.fixture(scope="session")
async def tls_server(tls_cert: tuple[Path, Path]) -> AsyncIterator[LocalHttpServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_cert)
    srv = LocalHttpServer(tls=context)
    await srv.start()
    yield srv
    await srv.stop()


def resolver(names: dict[str, Sequence[str]]) -> Callable[[str], Awaitable[Sequence[str]]]:
    """A resolve function answering from ``names``; other names do not exist."""

    async def resolve(host: str) -> Sequence[str]:
        if host in names:
            return names[host]
        raise ResolveError(f"cannot resolve {host}: no such name")

    return resolve


# Names the tests point at the loopback server. Only "site.links.test" is allow-listed by name.
NAMES: dict[str, Sequence[str]] = {
    "site.links.test": ["127.0.0.1"],
    "public.links.test": ["127.0.0.1"],
    TLS_NAME: ["127.0.0.1"],
    "other.links.test": ["127.0.0.1"],
    "internal.links.test": ["10.0.0.1"],
    "mixed.links.test": ["93.184.215.14", "10.0.0.1"],
}


class MakeFetcher(Protocol):
    """The ``make_fetcher`` fixture: a fetcher on the test names, closed after the test."""

    def __call__(
        self,
        allow: Sequence[str] = ...,
        names: dict[str, Sequence[str]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        **options: Any,
    ) -> LinkFetcher: ...


@pytest.fixture
async def make_fetcher() -> AsyncIterator[MakeFetcher]:
    """Build fetchers with test-sized timeouts; all are closed at the end of the test."""
    made: list[LinkFetcher] = []

    def make(
        allow: Sequence[str] = ("127.0.0.1/32", "site.links.test", TLS_NAME, "other.links.test"),
        names: dict[str, Sequence[str]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        **options: Any,
    ) -> LinkFetcher:
        options = {"connect_timeout": 2.0, "timeout": 2.0, **options}
        config = FetcherConfig(policy=AddressPolicy.from_entries(allow), **options)
        fetcher = LinkFetcher(config, resolve=resolver(names or NAMES), ssl_context=ssl_context)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.aclose()
