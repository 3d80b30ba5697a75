"""The sending domain's DNS posture: the From domain's MX and the sending IP's reverse DNS
(iprev, forward-confirmed)."""

from __future__ import annotations

import ipaddress

from mailqa.checks.auth.details import PostureDetails
from mailqa.core.clients import Resolver
from mailqa.net.dns import ptr_name


async def read_posture(
    resolver: Resolver, ip: str | None, from_domain: str | None
) -> PostureDetails:
    """``ip``: the public sending IP; None (no reverse DNS check) when none is known."""
    posture = PostureDetails()
    mx_task = resolver.query(from_domain, "MX") if from_domain else None
    ptr_task = resolver.query(ptr_name(ip), "PTR") if ip else None
    if mx_task is not None:
        mx = await mx_task
        posture.from_domain_mx = list(mx.records) if mx.ok else []
        if mx.failed:
            posture.from_domain_mx = ["(lookup failed)"]
    if ptr_task is not None and ip is not None:
        ptr = await ptr_task
        if ptr.failed:
            posture.iprev = "temperror"
        elif not ptr.ok:
            posture.iprev, posture.fcrdns = "fail", False
        else:
            posture.ptr_names = list(ptr.records)
            version = ipaddress.ip_address(ip).version
            forward = await resolver.query_many(
                (n, "A" if version == 4 else "AAAA") for n in ptr.records[:10]
            )
            normal = str(ipaddress.ip_address(ip))
            posture.fcrdns = any(a.ok and normal in a.records for a in forward)
            if any(a.failed for a in forward) and not posture.fcrdns:
                posture.iprev = "temperror"
            else:
                posture.iprev = "pass" if posture.fcrdns else "fail"
    return posture
