"""One async DNS resolver for every check: configurable servers, bounded, cached.

``DnsResolver`` wraps dnspython's async resolver and adds what the checks need:

* servers given as ``host[:port]`` (``[v6]:port``), or the system resolver when none;
* a timeout per lookup and a bound on lookups in flight;
* a TTL-respecting cache shared across messages (positive answers for their TTL, NXDOMAIN and
  empty answers for the zone's negative TTL, both capped), with hit-rate statistics;
* one lookup in flight per (name, type): concurrent askers share it;
* answers as plain values (``DnsAnswer``) whose ``status`` separates "no such name" and "no
  records" from "the lookup failed" — SPF, DMARC and DNSBLs all treat those differently.

Failures are never cached, so a DNS server that comes back is used at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from mailqa.core.clients import DnsAnswer as DnsAnswer
from mailqa.core.errors import ConfigError

if TYPE_CHECKING:
    from mailqa.net.cache import SharedCache

DEFAULT_PORT = 53


def parse_server(text: str) -> tuple[str, int]:
    """``"127.0.0.1:5353"``, ``"[::1]:53"``, ``"::1"`` or ``"10.0.0.1"`` -> (address, port)."""
    value = text.strip()
    host, port = value, DEFAULT_PORT
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ConfigError(f"bad DNS server {text!r}: missing ']'")
        host, rest = value[1:end], value[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ConfigError(f"bad DNS server {text!r}")
            port = _port(rest[1:], text)
    elif value.count(":") == 1:
        host, port_text = value.split(":")
        port = _port(port_text, text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"bad DNS server {text!r}: not an IP address") from None
    return host, port


def _port(text: str, whole: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ConfigError(f"bad DNS server {whole!r}: bad port") from None
    if not 0 < port < 65536:
        raise ConfigError(f"bad DNS server {whole!r}: port out of range")
    return port


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    shared: int = 0  # joined a lookup already in flight
    distributed_hits: int = 0  # answered by the cache shared between processes (Redis)
    errors: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses + self.shared
        return (self.hits + self.shared) / total if total else 0.0

    @property
    def network_lookups(self) -> int:
        return self.misses - self.distributed_hits

    def as_dict(self) -> dict[str, float]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "shared": self.shared,
            "distributed_hits": self.distributed_hits,
            "errors": self.errors,
            "hit_rate": round(self.hit_rate, 4),
        }


class DnsResolver:
    """Shared async resolver with a cache. Create once per process; safe for concurrent use."""

    def __init__(
        self,
        servers: Iterable[str] = (),
        *,
        timeout: float = 3.0,
        concurrency: int = 50,
        cache_size: int = 50_000,
        max_ttl: float = 3600.0,
        negative_ttl: float = 300.0,
        shared: SharedCache | None = None,
    ) -> None:
        """``shared``: a cache other processes read too (Redis), consulted after this
        process's own cache misses, so workers on several machines look a name up once."""
        parsed = [parse_server(s) for s in servers]
        if parsed:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(host, port) for host, port in parsed
            ]
        else:
            try:
                resolver = dns.asyncresolver.Resolver()
            except dns.resolver.NoResolverConfiguration as exc:
                raise ConfigError(f"no system DNS resolver configured: {exc}") from exc
        resolver.timeout = timeout
        resolver.lifetime = timeout
        self._resolver = resolver
        self.servers = [f"{h}:{p}" for h, p in parsed] or ["system"]
        self.timeout = timeout
        self._limit = asyncio.Semaphore(concurrency)
        self._cache: OrderedDict[tuple[str, str], tuple[float, DnsAnswer]] = OrderedDict()
        self._cache_size = cache_size
        self._max_ttl = max_ttl
        self._negative_ttl = negative_ttl
        self._inflight: dict[tuple[str, str], asyncio.Future[DnsAnswer]] = {}
        self._shared = shared
        self._shared_prefix = "dns:" + ",".join(self.servers) + ":"
        self.stats = CacheStats()

    def clear_cache(self) -> None:
        self._cache.clear()

    def remaining_ttl(self, name: str, rdtype: str) -> float:
        """Seconds the cached answer for (name, type) stays fresh; 0 when not cached."""
        entry = self._cache.get((_normalize(name), rdtype.upper()))
        return max(0.0, entry[0] - time.monotonic()) if entry else 0.0

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        """Look ``name`` up (cached). Never raises for DNS reasons: see ``DnsAnswer.status``."""
        key = (_normalize(name), rdtype.upper())
        now = time.monotonic()
        entry = self._cache.get(key)
        if entry is not None:
            expires, answer = entry
            if expires > now:
                self._cache.move_to_end(key)
                self.stats.hits += 1
                return replace(answer, cached=True, elapsed_ms=0.0)
            del self._cache[key]
        pending = self._inflight.get(key)
        if pending is not None:
            self.stats.shared += 1
            return replace(await asyncio.shield(pending), cached=True)
        self.stats.misses += 1
        future: asyncio.Future[DnsAnswer] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            from_shared = await self._shared_get(key)
            if from_shared is None:
                answer = await self._lookup(*key)
                await self._shared_set(key, answer)
            else:
                answer = from_shared
            future.set_result(answer)
        except BaseException as exc:  # cancelled: let the waiters retry on their own
            future.set_exception(exc)
            future.exception()  # mark retrieved
            raise
        finally:
            del self._inflight[key]
        if answer.failed or answer.status == "invalid":
            self.stats.errors += 1
        else:
            self._store(key, answer)
        return answer

    async def connect_addresses(self, host: str) -> list[str]:
        """A and AAAA records of ``host``, for connecting; raises ``LookupError`` when the
        name has none or the lookups failed (the message says which)."""
        answers = await self.query_many([(host, "A"), (host, "AAAA")])
        found = [record for answer in answers if answer.ok for record in answer.records]
        if found:
            return found
        failed = [a for a in answers if a.failed]
        if failed:
            raise LookupError(f"cannot resolve {host}: {failed[0].error or 'DNS error'}")
        raise LookupError(f"cannot resolve {host}: no such name or no address records")

    async def query_many(self, lookups: Iterable[tuple[str, str]]) -> list[DnsAnswer]:
        """Several lookups at once (concurrently), answers in the same order."""
        return list(await asyncio.gather(*(self.query(n, t) for n, t in lookups)))

    async def _shared_get(self, key: tuple[str, str]) -> DnsAnswer | None:
        if self._shared is None:
            return None
        raw = await self._shared.get(f"{self._shared_prefix}{key[1]}:{key[0]}")
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            ttl = float(data["expires"]) - time.time()
            answer = DnsAnswer(
                key[0],
                key[1],
                data["status"],
                tuple(data["records"]),
                ttl=ttl,
                error=data.get("error"),
                cached=True,
            )
        except (ValueError, KeyError, TypeError):
            return None
        if ttl <= 0:
            return None
        self.stats.distributed_hits += 1
        return answer

    async def _shared_set(self, key: tuple[str, str], answer: DnsAnswer) -> None:
        if self._shared is None or answer.failed or answer.status == "invalid":
            return
        ttl = min(answer.ttl, self._max_ttl if answer.ok else self._negative_ttl)
        if ttl <= 0:
            return
        value = {
            "status": answer.status,
            "records": list(answer.records),
            "error": answer.error,
            "expires": time.time() + ttl,
        }
        await self._shared.set(
            f"{self._shared_prefix}{key[1]}:{key[0]}", json.dumps(value).encode(), ttl
        )

    def _store(self, key: tuple[str, str], answer: DnsAnswer) -> None:
        ttl = min(answer.ttl, self._max_ttl if answer.ok else self._negative_ttl)
        if ttl <= 0:
            return
        self._cache[key] = (time.monotonic() + ttl, answer)
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _lookup(self, name: str, rdtype: str) -> DnsAnswer:
        try:
            qname = dns.name.from_text(name)
            qtype = dns.rdatatype.from_text(rdtype)
        except (dns.exception.DNSException, ValueError) as exc:
            return DnsAnswer(name, rdtype, "invalid", error=f"invalid query: {exc}")
        start = time.perf_counter()
        async with self._limit:
            try:
                result = await asyncio.wait_for(
                    self._resolver.resolve(qname, qtype, search=False, raise_on_no_answer=False),
                    self.timeout + 1.0,
                )
            except dns.resolver.NXDOMAIN as exc:
                return DnsAnswer(
                    name,
                    rdtype,
                    "nxdomain",
                    ttl=_negative_ttl(exc.responses().values(), self._negative_ttl),  # type: ignore[no-untyped-call]
                    elapsed_ms=_ms(start),
                )
            except (dns.exception.Timeout, TimeoutError):
                return DnsAnswer(name, rdtype, "error", error="DNS timeout", elapsed_ms=_ms(start))
            except dns.resolver.NoNameservers as exc:
                return DnsAnswer(
                    name, rdtype, "error", error=f"DNS server failure: {exc}", elapsed_ms=_ms(start)
                )
            except dns.exception.DNSException as exc:
                return DnsAnswer(
                    name, rdtype, "error", error=f"DNS error: {exc}", elapsed_ms=_ms(start)
                )
            except OSError as exc:
                return DnsAnswer(
                    name, rdtype, "error", error=f"DNS network error: {exc}", elapsed_ms=_ms(start)
                )
        elapsed = _ms(start)
        if result.rrset is None:
            ttl = _negative_ttl([result.response], self._negative_ttl)
            return DnsAnswer(name, rdtype, "nodata", ttl=ttl, elapsed_ms=elapsed)
        records = tuple(_rdata_text(rdata, qtype) for rdata in result.rrset)
        return DnsAnswer(name, rdtype, "ok", records, float(result.rrset.ttl), elapsed_ms=elapsed)

    # --- conveniences -------------------------------------------------------------------

    async def txt(self, name: str) -> DnsAnswer:
        return await self.query(name, "TXT")

    async def addresses(self, name: str, ipv6: bool = False) -> DnsAnswer:
        return await self.query(name, "AAAA" if ipv6 else "A")

    async def prefetch_txt(self, names: Iterable[str]) -> dict[str, DnsAnswer]:
        """TXT answers for ``names`` fetched concurrently, keyed by normalized name."""
        unique = list(dict.fromkeys(_normalize(n) for n in names))
        answers = await self.query_many((n, "TXT") for n in unique)
        return dict(zip(unique, answers, strict=True))


def dkim_dnsfunc(answers: Mapping[str, DnsAnswer]) -> Callable[..., bytes | None]:
    """A synchronous ``dnsfunc`` for dkimpy backed by TXT answers fetched beforehand.

    dkimpy calls ``dnsfunc(name: bytes, timeout=...)`` and wants the record as bytes, or None.
    A failed lookup raises dkimpy's ``DnsTimeoutError`` so it is not mistaken for "no key".
    """
    import dkim

    def lookup(name: bytes | str, timeout: float = 5.0) -> bytes | None:
        key = _normalize(name.decode("ascii", "replace") if isinstance(name, bytes) else name)
        answer = answers.get(key)
        if answer is None or not answer.ok:
            if answer is not None and answer.failed:
                raise dkim.DnsTimeoutError(answer.error or "DNS failure")
            return None
        return answer.records[0].encode("utf-8", "surrogateescape")

    return lookup


def _normalize(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def _negative_ttl(responses: Iterable[Any], cap: float) -> float:
    """The negative-caching TTL of RFC 2308: the SOA's minimum (and TTL), else ``cap``."""
    for response in responses:
        for rrset in getattr(response, "authority", []):
            if rrset.rdtype == dns.rdatatype.SOA:
                for soa in rrset:
                    return float(min(rrset.ttl, soa.minimum, cap))
    return cap


def _rdata_text(rdata: Any, qtype: dns.rdatatype.RdataType) -> str:
    if qtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "surrogateescape")
    if qtype == dns.rdatatype.MX:
        return f"{rdata.preference} {_normalize(rdata.exchange.to_text())}"
    if qtype in (dns.rdatatype.PTR, dns.rdatatype.CNAME, dns.rdatatype.NS):
        return _normalize(rdata.target.to_text())
    return str(rdata.to_text())


def reverse_ip_name(ip: str) -> str:
    """The reverse label sequence of an address: ``4.3.2.1`` or the 32 IPv6 nibbles."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if isinstance(addr, ipaddress.IPv4Address):
        return ".".join(reversed(str(addr).split(".")))
    return ".".join(reversed(addr.exploded.replace(":", "")))


def ptr_name(ip: str) -> str:
    """The PTR query name of an address (``in-addr.arpa`` or ``ip6.arpa``)."""
    reverse = reverse_ip_name(ip)
    return f"{reverse}.{'in-addr.arpa' if reverse.count('.') == 3 else 'ip6.arpa'}"
