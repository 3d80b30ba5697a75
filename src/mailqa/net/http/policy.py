"""Which addresses the fetcher may reach: public internet addresses, and the non-public ones
an ``AddressPolicy`` allow-lists. Numeric host spellings are read the way browsers read them,
so they cannot pass for names."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass

from mailqa.core.errors import ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_METADATA_NET = ipaddress.ip_network("169.254.0.0/16")
_NAT64_NET = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE_NET = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible ::a.b.c.d


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
