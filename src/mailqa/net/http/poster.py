"""``VettedPoster``: POSTs (webhook deliveries) over the vetting transport. The same address
policy as link checks: loopback, private and other non-public targets only when
allow-listed; redirects are never followed (a 3xx answer is an answer, not a hop); every
request is bounded in time, and only the first bytes of the answer are read."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from mailqa import __version__
from mailqa.net.http.fetcher import _error_text
from mailqa.net.http.policy import AddressPolicy
from mailqa.net.http.transport import Resolve, VettedTransport, system_resolve

POSTER_AGENT = f"mailqa/{__version__} webhooks (+https://github.com/mailqa/mailqa)"
EXCERPT_BYTES = 1024


@dataclass(frozen=True)
class PostResult:
    """One POST: the status (None when no answer came), its latency, the first bytes of the
    answer, or why it failed (``error_kind``: refused, dns, timeout, tls, connect, ...)."""

    status_code: int | None
    latency_ms: float
    excerpt: str | None = None
    error: str | None = None
    error_kind: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class VettedPoster:
    def __init__(
        self,
        policy: AddressPolicy,
        *,
        connect_timeout: float = 5.0,
        timeout: float = 10.0,
        concurrency: int = 10,
        resolve: Resolve | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = timeout
        self.transport = VettedTransport(
            policy,
            resolve or system_resolve,
            ssl_context=ssl_context,
            resolve_timeout=connect_timeout,
            max_connections=max(concurrency, 1),
        )
        self._client = httpx.AsyncClient(
            transport=self.transport,
            follow_redirects=False,
            trust_env=False,  # an environment proxy would bypass the vetting
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers={"User-Agent": POSTER_AGENT},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostResult:
        """Never raises for the target's faults: they come back in the result."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                request = self._client.build_request("POST", url, content=body, headers=headers)
                response = await self._client.send(request, stream=True)
                try:
                    excerpt = b""
                    async for chunk in response.aiter_raw():
                        excerpt += chunk
                        if len(excerpt) >= EXCERPT_BYTES:
                            break
                finally:
                    await response.aclose()
        except Exception as exc:
            kind, reason = _error_text(exc, self.timeout)
            return PostResult(None, _ms(started), error=reason, error_kind=kind)
        text = excerpt[:EXCERPT_BYTES].decode("utf-8", "replace")
        return PostResult(response.status_code, _ms(started), excerpt=text)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
