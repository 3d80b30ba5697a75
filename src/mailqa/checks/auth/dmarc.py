"""DMARC (RFC 7489): the policy record at the From domain or its organizational domain
(Public Suffix List, not DMARCbis' DNS tree walk) and alignment; the DMARCbis tags np=,
psd= and t= are read and reported."""

from __future__ import annotations

import re
from typing import Literal

from mailqa.checks.auth.details import DkimSignature, DmarcDetails, SpfDetails
from mailqa.checks.auth.tags import parse_tags
from mailqa.core.address import organizational_domain
from mailqa.net.dns import DnsResolver

_DMARC_VERSION = re.compile(r"^v\s*=\s*DMARC1\s*(;|$)", re.I)
_POLICIES = ("none", "quarantine", "reject")


def _aligned(domain: str | None, from_domain: str, mode: str) -> bool:
    if not domain:
        return False
    if mode == "s":
        return domain.lower() == from_domain
    return organizational_domain(domain) == organizational_domain(from_domain)


async def find_dmarc_record(
    resolver: DnsResolver, from_domain: str
) -> tuple[DmarcDetails, str | None]:
    """Find the policy record; returns the details (result unset) and an error if DNS failed."""
    org = organizational_domain(from_domain)
    details = DmarcDetails(result="none", from_domain=from_domain, organizational_domain=org)
    for domain in dict.fromkeys([from_domain, org]):
        answer = await resolver.txt(f"_dmarc.{domain}")
        if answer.failed:
            return details, f"DMARC lookup of _dmarc.{domain} failed: {answer.error}"
        records = [r for r in answer.records if _DMARC_VERSION.match(r)] if answer.ok else []
        if len(records) > 1:
            details.reason = f"_dmarc.{domain} publishes {len(records)} DMARC records (ignored)"
            return details, None
        if records:
            details.record_domain, details.record = domain, records[0]
            tags = parse_tags(records[0])
            policy = tags.get("p", "").lower()
            rua = [u.strip() for u in tags.get("rua", "").split(",") if u.strip()]
            if policy not in ("none", "quarantine", "reject"):
                if not rua:
                    details.record = None
                    details.reason = f"_dmarc.{domain} has no valid p= tag (record ignored)"
                    return details, None
                policy = "none"
            details.policy = policy
            sp = tags.get("sp", "").lower()
            details.subdomain_policy = sp if sp in _POLICIES else None
            np = tags.get("np", "").lower()
            details.nonexistent_policy = np if np in _POLICIES else None
            psd = tags.get("psd", "").lower()
            details.psd = psd if psd in ("y", "n", "u") else None  # type: ignore[assignment]
            details.testing = tags.get("t", "n").lower() == "y"
            details.adkim = "s" if tags.get("adkim", "r").lower() == "s" else "r"
            details.aspf = "s" if tags.get("aspf", "r").lower() == "s" else "r"
            pct = tags.get("pct", "100")
            details.percent = max(0, min(100, int(pct))) if pct.isdigit() else 100
            details.rua = rua
            if details.nonexistent_policy and domain != from_domain:
                details.from_domain_exists = await _domain_exists(resolver, from_domain)
            return details, None
    details.reason = f"no DMARC record at _dmarc.{from_domain}" + (
        f" or _dmarc.{org}" if org != from_domain else ""
    )
    return details, None


async def _domain_exists(resolver: DnsResolver, domain: str) -> bool | None:
    """RFC 9091: a domain "does not exist" when A, AAAA and MX all find nothing.
    None when a lookup failed and none found records (unknown)."""
    answers = await resolver.query_many((domain, t) for t in ("A", "AAAA", "MX"))
    if any(a.ok for a in answers):
        return True
    if any(a.failed or a.status == "invalid" for a in answers):
        return None
    return False


def evaluate_dmarc(details: DmarcDetails, spf: SpfDetails, sigs: list[DkimSignature]) -> None:
    from_domain = details.from_domain or ""
    details.spf_aligned = spf.result == "pass" and _aligned(spf.domain, from_domain, details.aspf)
    for sig in sigs:
        sig.aligned = _aligned(sig.domain, from_domain, details.adkim)
    details.dkim_aligned = any(s.result == "pass" and s.aligned for s in sigs)
    if details.record is None:
        return
    if details.spf_aligned or details.dkim_aligned:
        details.result, details.applied_policy = "pass", "none"
        how = [n for n, ok in (("SPF", details.spf_aligned), ("DKIM", details.dkim_aligned)) if ok]
        details.reason = f"aligned {' and '.join(how)} pass"
        return
    if not spf.evaluated:
        # Without the real sending IP, SPF (and so DMARC) is unknown: a receiver could pass
        # it on an aligned SPF pass. Reporting "fail" here would be a guess.
        details.result = "none"
        details.reason = (
            "not decided: no aligned DKIM signature passed and SPF could not be evaluated "
            f"({spf.reason})"
        )
        return
    details.result = "fail"
    on_subdomain = details.record_domain != from_domain
    tag: Literal["p", "sp", "np"] = "p"
    policy = details.policy or "none"
    if on_subdomain and details.nonexistent_policy and details.from_domain_exists is False:
        tag, policy = "np", details.nonexistent_policy
    elif on_subdomain and details.subdomain_policy:
        tag, policy = "sp", details.subdomain_policy
    details.applied_policy, details.applied_tag = policy, tag
    details.reason = "neither SPF nor DKIM passed aligned with the From domain"
    if tag == "np":
        details.reason += f" ({from_domain} does not exist: np={policy} applies)"
    if details.percent < 100 and policy != "none":
        details.reason += f" (policy applied to {details.percent}% of failing mail)"
    if details.testing and policy != "none":
        details.reason += " (t=y: the owner is testing this policy)"
