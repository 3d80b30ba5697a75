"""SPF: this message's evaluation (``mailqa.net.spf``, RFC 7208) and a static walk of the
sending domain's whole record tree (posture: lookups and errors an evaluation that matched
early never reaches). A non-public sending IP leaves SPF unevaluated."""

from __future__ import annotations

import asyncio

from mailqa.checks.auth.details import SpfDetails, SpfTreeDetails
from mailqa.core.address import domain_of, is_public_ip
from mailqa.core.clients import Resolver
from mailqa.net.spf import (
    SpfError,
    SpfOutcome,
    check_spf,
    missing_target_reason,
    parse_record,
    spf_records,
)

# Bound on the SPF records the posture walk reads (includes of includes...): enough to see
# any tree over the 10-lookup limit, small enough for a hostile tree.
MAX_SPF_WALK_RECORDS = 40


async def evaluate_spf(
    resolver: Resolver,
    ip: str | None,
    mail_from: str | None,
    helo: str | None,
    *,
    receiver: str = "unknown",
) -> SpfDetails:
    """``receiver``: this host's domain, the ``%{r}`` of an ``exp=`` explanation."""
    if not ip or not is_public_ip(ip):
        identity = "mailfrom" if mail_from else "helo"
        reason = (
            f"sending IP {ip} is not a public address (mail captured over loopback or a "
            "private network): a receiver checks SPF for the real sending IP, unknown here"
            if ip
            else "sending IP unknown (no client IP or public Received hop)"
        )
        return SpfDetails(
            result="none",
            identity=identity,
            domain=domain_of(mail_from) or helo,
            sender=mail_from,
            reason=reason,
            evaluated=False,
        )
    outcome: SpfOutcome = await check_spf(resolver, ip, mail_from, helo, receiver=receiver)
    return SpfDetails(
        result=outcome.result,
        identity=outcome.identity,
        domain=outcome.domain,
        sender=outcome.sender,
        ip=ip,
        record=outcome.record,
        matched=outcome.matched,
        reason=outcome.reason,
        dns_lookups=outcome.dns_lookups,
        void_lookups=outcome.void_lookups,
        chain=outcome.chain,
        explanation=outcome.explanation,
    )


async def walk_spf_tree(resolver: Resolver, domain: str) -> SpfTreeDetails:
    """Read the SPF record of ``domain`` and every record it includes or redirects to, without
    evaluating anything: count the DNS-querying terms of the whole tree (what a sender matched
    by the last term costs) and collect syntax errors, missing include targets and loops that
    an evaluation reports only when it reaches them. Terms whose domain is a macro are counted
    but not followed."""
    tree = SpfTreeDetails(domain=domain)

    async def visit(name: str, via: tuple[str, str] | None, path: tuple[str, ...]) -> list[str]:
        """``via``: the including record's domain and the term (include or redirect)."""
        key = name.lower().rstrip(".")
        if via is not None and key in path:
            return [f"{via[0]}: {via[1]}: loops back to {key}"]
        if tree.records >= MAX_SPF_WALK_RECORDS:
            tree.complete = False
            return []
        tree.records += 1
        answer = await resolver.query(key, "TXT")
        if answer.failed or answer.status == "invalid":
            tree.complete = False
            return []
        records = spf_records(answer)
        if not records:
            tree.records -= 1
            return [f"{via[0]}: {missing_target_reason(via[1], name)}"] if via else []
        if len(records) > 1:
            return [f"{key} publishes {len(records)} SPF records"]
        try:
            parsed = parse_record(records[0])
        except SpfError as exc:
            return [f"{key}: {exc.reason}"]
        follow: list[tuple[str, tuple[str, str]]] = []
        for term in parsed.terms:
            if term.mechanism in ("include", "a", "mx", "ptr", "exists"):
                tree.dns_lookups += 1
                if term.mechanism == "include" and term.argument and "%" not in term.argument:
                    follow.append((term.argument, (key, term.text)))
        # RFC 7208 6.1: redirect= is ignored when the record has an "all" mechanism.
        if parsed.redirect and not any(t.mechanism == "all" for t in parsed.terms):
            tree.dns_lookups += 1
            if "%" not in parsed.redirect:
                follow.append((parsed.redirect, (key, f"redirect={parsed.redirect}")))
        found = await asyncio.gather(*(visit(n, v, (*path, key)) for n, v in follow))
        return [error for errors in found for error in errors]

    tree.errors = await visit(domain, None, ())
    return tree
