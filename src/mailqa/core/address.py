"""Address helpers shared by the checks: domains, organizational domains, sending IPs, and a
plain ``local@domain.tld`` shape test.

The shape test runs in linear time on any input. Patterns such as
``^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$`` backtrack quadratically: on a long domain with many dots
that fails at its end, the engine retries the part after every dot. Here the address is split
on its one ``@`` with ``str.partition`` and searched once for forbidden characters with a
one-character class, so each character is looked at a bounded number of times.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache
from typing import TYPE_CHECKING

from publicsuffixlist import PublicSuffixList

if TYPE_CHECKING:
    from mailqa.core.message import ParsedMessage


def is_plain_address(value: str, forbidden: re.Pattern[str]) -> bool:
    """``value`` is ``local@domain`` with a non-empty local part, a dot inside the domain
    (with text on both sides) and none of ``forbidden`` (a single character class, which must
    include ``@`` so the address holds exactly one)."""
    local, at, domain = value.partition("@")
    if not local or not at or "." not in domain[1:-1]:
        return False
    return forbidden.search(local) is None and forbidden.search(domain) is None


def domain_of(address: str | None) -> str | None:
    if not address:
        return None
    domain = address.strip().strip("<>").rpartition("@")[2].rstrip(".").lower()
    return domain or None


@cache
def _psl() -> PublicSuffixList:
    # accept_unknown: an unlisted TLD is a public suffix of its own (the PSL's "*" rule).
    return PublicSuffixList(accept_unknown=True)


def organizational_domain(domain: str) -> str:
    """The registered domain under the public suffix (``mail.shop.co.uk`` -> ``shop.co.uk``)."""
    name = domain.lower().rstrip(".")
    try:
        org = _psl().privatesuffix(name)
    except Exception:  # malformed labels
        org = None
    return str(org) if org else name


def is_public_ip(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return addr.is_global


def normal_ip(ip: str) -> str:
    """``ip`` in its plain form: an IPv4-mapped IPv6 address (``::ffff:11.22.33.99``, what a
    dual-stack listener reports for an IPv4 client) becomes the IPv4 address; text that is
    not an address is returned as is."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def sending_ip(msg: ParsedMessage) -> str | None:
    """The SMTP client IP when public, else the first public Received hop, else the client IP.

    Addresses are normalised (``normal_ip``): IPv4-mapped IPv6 addresses are IPv4 addresses.
    """
    client = normal_ip(msg.envelope.client_ip) if msg.envelope.client_ip else None
    if client and is_public_ip(client):
        return client
    for hop in msg.received:
        ip = normal_ip(hop.ip) if hop.ip else None
        if ip and is_public_ip(ip):
            return ip
    return client
