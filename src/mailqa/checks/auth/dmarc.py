"""DMARC two ways. RFC 7489 (the result reported): the policy record at the From domain or at
its organizational domain, found with the Public Suffix List. DMARCbis (``tree_walk``): the
From domain and then its parents, the organizational domain read from where records are and
from their psd= tags. Both are reported, and where they differ."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from mailqa.checks.auth.details import (
    DkimSignature,
    DmarcDetails,
    DmarcRecordProblem,
    DmarcTreeWalk,
    SpfDetails,
)
from mailqa.checks.auth.dmarc_record import (
    WEAKER,
    DmarcRecord,
    looks_like_dmarc,
    misplaced_version,
    parse_dmarc_record,
)
from mailqa.core.address import organizational_domain
from mailqa.core.clients import Resolver

MAX_WALK_QUERIES = 8
"""DMARCbis section 4.10: a tree walk makes at most eight queries."""

PolicyTag = Literal["p", "sp", "np"]


@dataclass
class _Lookup:
    """What ``_dmarc.<domain>`` holds: the DMARC records, and strings that hold v=DMARC1
    but not first (discarded by receivers)."""

    domain: str
    records: list[str] = field(default_factory=list)
    misplaced: list[str] = field(default_factory=list)
    error: str | None = None

    def problems(self, dmarcbis: bool) -> list[DmarcRecordProblem]:
        out = [
            DmarcRecordProblem(
                domain=self.domain,
                record=text,
                tag="v",
                problem="a TXT record holds v=DMARC1 but not as its first tag, so it is not "
                "a DMARC record",
                effect="record-ignored",
            )
            for text in self.misplaced
        ]
        if len(self.records) > 1:
            rule = (
                "DMARCbis section 4.10: the walk goes on up the tree"
                if dmarcbis
                else "RFC 7489 section 6.6.3 step 5: policy discovery stops"
            )
            out.append(
                DmarcRecordProblem(
                    domain=self.domain,
                    problem=f"{len(self.records)} DMARC records at one name ({rule})",
                    effect="record-ignored",
                    specification="dmarcbis" if dmarcbis else "rfc7489",
                )
            )
        return out


def _read_lookup(domain: str, status: str, records: tuple[str, ...], error: str | None) -> _Lookup:
    if status == "error":
        return _Lookup(domain, error=f"DMARC lookup of _dmarc.{domain} failed: {error}")
    texts = list(records) if status == "ok" else []
    return _Lookup(
        domain,
        records=[t for t in texts if looks_like_dmarc(t)],
        misplaced=[t for t in texts if misplaced_version(t)],
    )


async def _lookup(resolver: Resolver, domain: str) -> _Lookup:
    answer = await resolver.txt(f"_dmarc.{domain}")
    return _read_lookup(domain, answer.status, answer.records, answer.error)


def _aligned(domain: str | None, from_domain: str, mode: str) -> bool:
    if not domain:
        return False
    if mode == "s":
        return domain.lower() == from_domain
    return organizational_domain(domain) == organizational_domain(from_domain)


def _add_problems(details: DmarcDetails, problems: list[DmarcRecordProblem]) -> None:
    seen = {(p.domain, p.tag, p.problem) for p in details.problems}
    for problem in problems:
        if (problem.domain, problem.tag, problem.problem) not in seen:
            details.problems.append(problem)
            seen.add((problem.domain, problem.tag, problem.problem))


async def find_dmarc_record(
    resolver: Resolver, from_domain: str
) -> tuple[DmarcDetails, str | None]:
    """Find the policy record (RFC 7489) and walk the tree (DMARCbis); returns the details
    (result unset) and an error if DNS failed."""
    org = organizational_domain(from_domain)
    details = DmarcDetails(result="none", from_domain=from_domain, organizational_domain=org)
    error, walk = await asyncio.gather(
        _find_by_psl(resolver, details, from_domain, org), tree_walk(resolver, from_domain)
    )
    discovery = details.tree_walk = walk.discovery(from_domain)
    _add_problems(details, walk.problems)
    if discovery.record_domain:
        record = walk.found[discovery.record_domain]
        _add_problems(details, [p for p in record.problems if p.specification != "rfc7489"])
        subdomain = discovery.record_domain != from_domain
        if subdomain and record.nonexistent_policy and details.from_domain_exists is None:
            details.from_domain_exists = await _domain_exists(resolver, from_domain)
    return details, error


async def _find_by_psl(
    resolver: Resolver, details: DmarcDetails, from_domain: str, org: str
) -> str | None:
    """RFC 7489 section 6.6.3: the From domain's record, else the organizational domain's;
    several records at a name, or a broken one, end the search with no policy."""
    for domain in dict.fromkeys([from_domain, org]):
        found = await _lookup(resolver, domain)
        if found.error:
            return found.error
        details.problems += found.problems(dmarcbis=False)
        if len(found.records) > 1:
            details.record_domain = domain
            details.reason = f"_dmarc.{domain} holds {len(found.records)} DMARC records (ignored)"
            return None
        if not found.records:
            continue
        record = parse_dmarc_record(domain, found.records[0])
        details.record_domain = domain
        details.problems += [p for p in record.problems if p.specification != "dmarcbis"]
        policies = record.policies(dmarcbis=False)
        if policies is None:
            [why, *_] = [p.problem for p in record.problems if p.effect == "record-ignored"]
            details.reason = f"_dmarc.{domain} holds a broken DMARC record, not used: {why}"
            return None
        details.record = record.text
        details.policy, details.subdomain_policy, details.nonexistent_policy = policies
        details.psd, details.testing = record.psd, record.testing
        details.adkim, details.aspf = record.adkim, record.aspf
        details.percent, details.rua = record.percent, record.rua
        if details.nonexistent_policy and domain != from_domain:
            details.from_domain_exists = await _domain_exists(resolver, from_domain)
        return None
    details.reason = f"no DMARC record at _dmarc.{from_domain}" + (
        f" or _dmarc.{org}" if org != from_domain else ""
    )
    return None


async def _domain_exists(resolver: Resolver, domain: str) -> bool | None:
    """RFC 9091: a domain "does not exist" when A, AAAA and MX all find nothing.
    None when a lookup failed and none found records (unknown)."""
    answers = await resolver.query_many((domain, t) for t in ("A", "AAAA", "MX"))
    if any(a.ok for a in answers):
        return True
    if any(a.failed or a.status == "invalid" for a in answers):
        return None
    return False


# --- DMARCbis: the DNS tree walk ----------------------------------------------------------


def walk_targets(domain: str) -> list[str]:
    """The names a DMARCbis tree walk queries, in order (section 4.10): the domain itself,
    then its parent, or its last 7 labels when it has 8 or more, then one label less at a
    time down to the top-level domain. At most eight names."""
    labels = domain.lower().rstrip(".").split(".")
    rest = labels[-(MAX_WALK_QUERIES - 1) :] if len(labels) >= MAX_WALK_QUERIES else labels[1:]
    out = [".".join(labels)]
    while rest:
        out.append(".".join(rest))
        rest = rest[1:]
    return out


@dataclass
class TreeWalk:
    """The records one DMARCbis tree walk found, longest name first."""

    start: str
    queried: list[str] = field(default_factory=list)
    found: dict[str, DmarcRecord] = field(default_factory=dict)
    problems: list[DmarcRecordProblem] = field(default_factory=list)
    error: str | None = None

    @property
    def organizational_domain(self) -> str:
        """DMARCbis section 4.10.2: the first record with psd=n; the name one label below
        the first record with psd=y (not at the start); else the shortest name with a
        record; else the starting domain."""
        for domain, record in self.found.items():
            if record.psd == "n":
                return domain
            if record.psd == "y" and domain != self.start:
                size = domain.count(".") + 2
                return ".".join(self.start.split(".")[-size:])
        if self.found:
            return min(self.found, key=lambda d: d.count("."))
        return self.start

    def discovery(self, from_domain: str) -> DmarcTreeWalk:
        """Policy discovery (section 4.10.1): the From domain's record, else its
        organizational domain's, else the public suffix domain's (psd=y)."""
        out = DmarcTreeWalk(
            queried=[f"_dmarc.{d}" for d in self.queried],
            found=list(self.found),
            complete=self.error is None,
        )
        if self.error:
            out.reason = self.error
            return out
        org = self.organizational_domain
        out.organizational_domain = org
        source: Literal["author", "organizational", "psd"] | None = None
        if from_domain in self.found:
            source, domain = "author", from_domain
        elif org in self.found:
            source, domain = "organizational", org
        else:
            psd = [d for d, r in self.found.items() if r.psd == "y"]
            source, domain = ("psd", psd[-1]) if psd else (None, "")
        if source is None:
            out.reason = f"the tree walk from {from_domain} found no DMARC record"
            return out
        record = self.found[domain]
        out.policy_source, out.record_domain = source, domain
        policies = record.policies(dmarcbis=True)
        if policies is None:
            [why, *_] = [p.problem for p in record.problems if p.effect == "record-ignored"]
            out.reason = f"_dmarc.{domain} holds a broken DMARC record, not used: {why}"
            return out
        out.record, out.policy = record.text, policies[0]
        return out


async def tree_walk(resolver: Resolver, start: str) -> TreeWalk:
    """Walk from ``start`` up to its top-level domain (DMARCbis section 4.10), stopping at
    a record with psd=y or psd=n. Several records at one name are discarded and the walk
    goes on. The (at most eight) names are looked up at once, then read in order."""
    start = start.lower().rstrip(".")
    walk = TreeWalk(start)
    targets = walk_targets(start)
    answers = await resolver.query_many((f"_dmarc.{t}", "TXT") for t in targets)
    for target, answer in zip(targets, answers, strict=True):
        walk.queried.append(target)
        found = _read_lookup(target, answer.status, answer.records, answer.error)
        if found.error:
            walk.error = found.error
            break
        walk.problems += found.problems(dmarcbis=True)
        if len(found.records) != 1:
            continue
        record = parse_dmarc_record(target, found.records[0])
        walk.found[target] = record
        if record.psd in ("y", "n"):
            break
    return walk


# --- evaluation ----------------------------------------------------------------------------


def _policy_for(
    policies: tuple[str, str | None, str | None],
    record_domain: str | None,
    from_domain: str,
    from_domain_exists: bool | None,
) -> tuple[PolicyTag, str]:
    """Which tag applies: p= at the record's own domain; for a subdomain np= when it does not
    exist, else sp=, else p=."""
    p, sp, np = policies
    if record_domain != from_domain:
        if np and from_domain_exists is False:
            return "np", np
        if sp:
            return "sp", sp
    return "p", p


def evaluate_dmarc(details: DmarcDetails, spf: SpfDetails, sigs: list[DkimSignature]) -> None:
    """RFC 7489: alignment through the Public Suffix List, the policy, pct= sampling."""
    from_domain = details.from_domain or ""
    details.spf_aligned = spf.result == "pass" and _aligned(spf.domain, from_domain, details.aspf)
    for sig in sigs:
        sig.aligned = _aligned(sig.domain, from_domain, details.adkim)
    details.dkim_aligned = any(s.result == "pass" and s.aligned for s in sigs)
    if details.record is None or details.policy is None:
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
    policies = (details.policy, details.subdomain_policy, details.nonexistent_policy)
    tag, policy = _policy_for(
        policies, details.record_domain, from_domain, details.from_domain_exists
    )
    details.applied_policy, details.applied_tag = policy, tag
    details.reason = "neither SPF nor DKIM passed aligned with the From domain"
    if tag == "np":
        details.reason += f" ({from_domain} does not exist: np={policy} applies)"
    if details.percent < 100 and policy != "none":
        # RFC 7489 section 6.6.4: mail not sampled gets the next-weaker policy.
        details.sampled_out_policy = WEAKER[policy]
        if details.percent == 0:
            details.applied_policy = WEAKER[policy]
            details.reason += (
                f" (pct=0: {tag}={policy} applies to no failing mail; receivers apply "
                f"{WEAKER[policy]} instead)"
            )
        else:
            details.reason += (
                f" ({policy} for {details.percent}% of failing mail, "
                f"{WEAKER[policy]} for the rest: pct={details.percent})"
            )
    if details.testing and policy != "none":
        details.reason += " (t=y: the owner is testing this policy)"


async def evaluate_tree_walk(
    resolver: Resolver, details: DmarcDetails, spf: SpfDetails, sigs: list[DkimSignature]
) -> None:
    """DMARCbis: alignment through the organizational domains the tree walk finds (one walk
    per authenticated domain), the policy of the tree walk's record, t=y."""
    walk = details.tree_walk
    from_domain = details.from_domain or ""
    if walk is None or not walk.complete or walk.record is None or walk.record_domain is None:
        return
    record = parse_dmarc_record(walk.record_domain, walk.record)
    orgs = {from_domain: walk.organizational_domain}

    async def aligned(domain: str | None, mode: str) -> bool | None:
        name = (domain or "").lower().rstrip(".")
        if not name or mode == "s" or name == from_domain:
            return name == from_domain
        if name not in orgs:
            other = await tree_walk(resolver, name)
            if other.error:
                return None
            orgs[name] = other.organizational_domain
        return orgs[name] == orgs[from_domain]

    spf_ok = spf.result == "pass" and await aligned(spf.domain, record.aspf)
    dkim = [s.result == "pass" and await aligned(s.domain, record.adkim) for s in sigs]
    if spf_ok is None or None in dkim:
        walk.complete = False
        walk.reason = "a tree walk for an authenticated domain failed (DNS)"
        return
    walk.spf_aligned, walk.dkim_aligned = bool(spf_ok), any(dkim)
    if walk.spf_aligned or walk.dkim_aligned:
        walk.result, walk.applied_policy = "pass", "none"
        return
    if not spf.evaluated:
        walk.result, walk.reason = "none", "not decided: SPF could not be evaluated"
        return
    policies = record.policies(dmarcbis=True)
    assert policies is not None
    exists = details.from_domain_exists
    walk.result = "fail"
    walk.applied_tag, policy = _policy_for(policies, walk.record_domain, from_domain, exists)
    walk.applied_policy = WEAKER[policy] if record.testing else policy
    walk.reason = "neither SPF nor DKIM passed aligned (tree-walk organizational domains)"
    if record.testing and policy != "none":
        walk.reason += f" (t=y: {policy} lowered to {walk.applied_policy})"
