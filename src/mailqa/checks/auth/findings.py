"""The auth check's findings, from what the evaluation found."""

from __future__ import annotations

import re

from mailqa.checks.auth.details import (
    ArcDetails,
    AuthDetails,
    DmarcDetails,
    SpfDetails,
    SpfTreeDetails,
)
from mailqa.checks.auth.dkim import MIN_KEY_BITS
from mailqa.checks.auth.rules import (
    ARC_FAIL,
    DKIM_FAIL,
    DKIM_MISSING,
    DKIM_PERMERROR,
    DKIM_TEMPERROR,
    DKIM_WEAK_KEY,
    DMARC_ALIGNMENT_DIFFERS,
    DMARC_DISCOVERY_DIFFERS,
    DMARC_FAIL,
    DMARC_MISSING,
    DMARC_NOT_EVALUATED,
    DMARC_PCT,
    DMARC_POLICY_NONE,
    DMARC_RECORD_IGNORED,
    DMARC_RECORD_NONCONFORMANT,
    DMARC_RECORD_POLICY_NONE,
    DMARC_TAG_INVALID,
    DMARC_TEMPERROR,
    DMARC_TESTING,
    FCRDNS_FAIL,
    NO_MX,
    NO_PTR,
    NULL_MX,
    SPF_ALLOWS_ALL,
    SPF_FAIL,
    SPF_MISSING,
    SPF_NOT_EVALUATED,
    SPF_PERMERROR,
    SPF_RECORD_ERROR,
    SPF_RECORD_TOO_MANY_LOOKUPS,
    SPF_SOFTFAIL,
    SPF_TEMPERROR,
    SPF_TOO_MANY_LOOKUPS,
    SPF_VOID_LOOKUPS,
)
from mailqa.core.address import is_public_ip
from mailqa.core.message import ParsedMessage
from mailqa.core.report import Finding, Location, Severity
from mailqa.core.rules import Rule
from mailqa.net.spf import MAX_DNS_TERMS


def _dns() -> list[Location]:
    """Where a finding about published DNS records points."""
    return [Location(part="dns")]


def _spf_tree_findings(spf: SpfDetails, tree: SpfTreeDetails | None) -> list[Finding]:
    """Posture findings of the static SPF walk that this message's evaluation did not report
    (it stops at the first matching term)."""
    if tree is None:
        return []
    out: list[Finding] = []
    over_limit = "DNS-querying terms" in spf.reason and spf.result == "permerror"
    if tree.dns_lookups > MAX_DNS_TERMS and not over_limit:
        out.append(
            SPF_RECORD_TOO_MANY_LOOKUPS.finding(
                f"The SPF record of {tree.domain} and its includes hold {tree.dns_lookups} "
                f"DNS-querying terms (limit {MAX_DNS_TERMS}): a sender matched after the "
                "10th gets permerror, which receivers treat as failed"
                + (f"; this message matched earlier ({spf.matched})." if spf.matched else "."),
                locations=_dns(),
                data={"domain": tree.domain, "dns_lookups": tree.dns_lookups},
            )
        )
    errors = [
        e for e in tree.errors if not (spf.result == "permerror" and spf.reason and spf.reason in e)
    ]
    if errors:
        out.append(
            SPF_RECORD_ERROR.finding(
                f"The SPF records of {tree.domain} give permerror for any sender whose "
                f"evaluation reaches them: {'; '.join(errors)}.",
                locations=_dns(),
                data={"domain": tree.domain, "errors": errors},
            )
        )
    return out


def _arc_fail(arc: ArcDetails) -> Finding:
    """The ARC finding: which set broke the chain, who sealed it, and why."""
    where = ""
    if arc.broken_at is not None:
        where = f" at i={arc.broken_at}"
        entry = next((e for e in arc.chain if e.instance == arc.broken_at), None)
        sealer = entry and (entry.authserv_id or entry.seal_domain or entry.signature_domain)
        where += f" (sealed by {sealer})" if sealer else ""
    return ARC_FAIL.finding(
        f"The ARC chain fails{where}: {arc.reason}.",
        title=f"ARC chain broken at i={arc.broken_at}" if arc.broken_at is not None else None,
        data={"broken_at": arc.broken_at, "instances": arc.instances, "reason": arc.reason},
    )


_EFFECT_RULES: dict[str, Rule] = {
    "record-ignored": DMARC_RECORD_IGNORED,
    "policy-none": DMARC_RECORD_POLICY_NONE,
    "default-used": DMARC_TAG_INVALID,
    "ignored": DMARC_RECORD_NONCONFORMANT,
    "accepted": DMARC_RECORD_NONCONFORMANT,
}
_EFFECT_TEXT = {
    "record-ignored": "{who} ignore the record",
    "policy-none": "as rua= holds a valid URI, {who} act as if the record said p=none",
    "default-used": "{who} use the default {tag}={default}",
    "ignored": "{who} skip it",
    "accepted": "most receivers accept it",
}
_RECEIVERS = {
    "both": "receivers",
    "rfc7489": "receivers following RFC 7489",
    "dmarcbis": "DMARCbis receivers",
}


def _record_ignored(dm: DmarcDetails) -> bool:
    """A record was found but receivers following RFC 7489 do not use it."""
    return any(p.effect == "record-ignored" and p.specification != "dmarcbis" for p in dm.problems)


def _dmarc_record_findings(dm: DmarcDetails) -> list[Finding]:
    """One finding per fault of the DMARC records, naming the tag and what receivers do."""
    out: list[Finding] = []
    for problem in dm.problems:
        effect = _EFFECT_TEXT[problem.effect].format(
            who=_RECEIVERS[problem.specification], tag=problem.tag, default=problem.default
        )
        if problem.effect == "record-ignored":
            dmarcbis = problem.specification == "dmarcbis"
            walk_record = dm.tree_walk.record if dm.tree_walk else None
            if (walk_record if dmarcbis else dm.record) is None:
                effect += ", so no DMARC policy applies to this message"
        out.append(
            _EFFECT_RULES[problem.effect].finding(
                f"_dmarc.{problem.domain}: {problem.problem}; {effect}.",
                locations=_dns(),
                data={
                    "domain": problem.domain,
                    "record": problem.record,
                    "tag": problem.tag,
                    "value": problem.value,
                    "effect": problem.effect,
                    "specification": problem.specification,
                },
            )
        )
    if dm.record is not None and dm.percent < 100 and dm.policy in ("quarantine", "reject"):
        weaker = "quarantine" if dm.policy == "reject" else "none"
        share = (
            f"receivers apply {weaker} to all failing mail instead, as none is sampled"
            if dm.percent == 0
            else f"{dm.policy} for {dm.percent}% of failing mail, {weaker} for the rest"
        )
        out.append(
            DMARC_PCT.finding(
                f"_dmarc.{dm.record_domain} sets p={dm.policy} with pct={dm.percent}: {share} "
                "(RFC 7489 section 6.6.4). DMARCbis has no pct=: its receivers apply the "
                "policy to all failing mail, and t=y takes the place of pct=0.",
                locations=_dns(),
                data={"percent": dm.percent, "policy": dm.policy, "sampled_out_policy": weaker},
            )
        )
    return out


def _where(domain: str | None, org: str | None) -> str:
    found = f"the record at _dmarc.{domain}" if domain else "no usable record"
    return f"{found} (organizational domain {org})"


def _dmarc_method_findings(dm: DmarcDetails) -> list[Finding]:
    """Where the Public Suffix List (RFC 7489) and the tree walk (DMARCbis) disagree."""
    walk = dm.tree_walk
    if walk is None or not walk.complete or dm.from_domain is None:
        return []
    out: list[Finding] = []
    psl_domain = dm.record_domain if dm.record is not None else None
    bis_domain = walk.record_domain if walk.record is not None else None
    same_record = psl_domain == bis_domain and dm.policy == walk.policy
    if not same_record or dm.organizational_domain != walk.organizational_domain:
        out.append(
            DMARC_DISCOVERY_DIFFERS.finding(
                f"For {dm.from_domain}, RFC 7489 (Public Suffix List) finds "
                f"{_where(psl_domain, dm.organizational_domain)}"
                + (f", policy p={dm.policy}" if dm.policy and psl_domain else "")
                + "; DMARCbis (DNS tree walk) finds "
                + _where(bis_domain, walk.organizational_domain)
                + (f", policy p={walk.policy}" if walk.policy and bis_domain else "")
                + ". Receivers following one or the other treat this mail differently.",
                severity=Severity.WARNING if not same_record else Severity.INFO,
                locations=_dns(),
                data={
                    "rfc7489": {
                        "record_domain": psl_domain,
                        "organizational_domain": dm.organizational_domain,
                        "policy": dm.policy,
                    },
                    "dmarcbis": {
                        "record_domain": bis_domain,
                        "organizational_domain": walk.organizational_domain,
                        "policy": walk.policy,
                    },
                },
            )
        )
    if dm.record is None or walk.record is None:
        return out
    pairs = (
        ("SPF", dm.spf_aligned, walk.spf_aligned),
        ("DKIM", dm.dkim_aligned, walk.dkim_aligned),
    )
    said = [
        f"{name} {'aligns' if psl else 'does not align'} with the From domain under RFC 7489 "
        f"and {'does' if bis else 'does not'} under DMARCbis"
        for name, psl, bis in pairs
        if psl != bis
    ]
    if said:
        out.append(
            DMARC_ALIGNMENT_DIFFERS.finding(
                f"{'; '.join(said)}: DMARC {dm.result} under RFC 7489 (organizational domain "
                f"{dm.organizational_domain}), {walk.result} under DMARCbis (organizational "
                f"domain {walk.organizational_domain}).",
                data={
                    "rfc7489": {
                        "spf": dm.spf_aligned,
                        "dkim": dm.dkim_aligned,
                        "result": dm.result,
                    },
                    "dmarcbis": {
                        "spf": walk.spf_aligned,
                        "dkim": walk.dkim_aligned,
                        "result": walk.result,
                    },
                },
            )
        )
    return out


def auth_findings(d: AuthDetails, msg: ParsedMessage) -> list[Finding]:
    out: list[Finding] = []
    spf = d.spf
    if spf.result == "fail":
        explained = (
            f' Its explanation, which receivers show in their 550 reply: "{spf.explanation}".'
            if spf.explanation
            else ""
        )
        out.append(
            SPF_FAIL.finding(
                f"{spf.ip} is not allowed to send for {spf.domain} ({spf.reason}).{explained}",
                data={"domain": spf.domain, "record": spf.record, "explanation": spf.explanation},
            )
        )
    elif spf.result == "softfail":
        out.append(
            SPF_SOFTFAIL.finding(
                f"{spf.domain} says {spf.ip} is probably not allowed to send ({spf.reason}).",
                data={"domain": spf.domain},
            )
        )
    elif spf.result == "permerror":
        if "DNS-querying terms" in spf.reason:
            rule = SPF_TOO_MANY_LOOKUPS
        elif "void" in spf.reason:
            rule = SPF_VOID_LOOKUPS
        else:
            rule = SPF_PERMERROR
        out.append(
            rule.finding(
                f"SPF of {spf.domain} gives permerror: {spf.reason}. Receivers treat it as failed.",
                locations=_dns(),
                data={"domain": spf.domain, "record": spf.record},
            )
        )
    elif spf.result == "temperror":
        out.append(SPF_TEMPERROR.finding(spf.reason))
    elif spf.result == "none" and spf.ip:
        out.append(
            SPF_MISSING.finding(
                f"{spf.domain} publishes no SPF record; receivers cannot tell who may send for it.",
                locations=_dns(),
                data={"domain": spf.domain},
            )
        )
    elif spf.result == "none":
        out.append(SPF_NOT_EVALUATED.finding(spf.reason))
    allows_all = spf.record is not None and re.search(r"(^|\s)\+?all(\s|$)", spf.record)
    if allows_all and spf.result != "permerror":
        out.append(
            SPF_ALLOWS_ALL.finding(
                f"The SPF record of {spf.domain} ends in +all: anyone may send as this domain.",
                locations=_dns(),
                data={"record": spf.record},
            )
        )

    out += _spf_tree_findings(spf, d.posture.spf_tree)

    if not d.dkim:
        out.append(
            DKIM_MISSING.finding(
                "No DKIM-Signature: mailbox providers expect signed mail, and DMARC then "
                "rests on SPF alone."
            )
        )
    for sig in d.dkim:
        label = f"DKIM signature d={sig.domain} s={sig.selector}"
        if sig.result in ("fail", "permerror"):
            out.append(
                (DKIM_FAIL if sig.result == "fail" else DKIM_PERMERROR).finding(
                    sig.reason,
                    title=f"{label} does not verify",
                    data={"domain": sig.domain, "selector": sig.selector},
                )
            )
        elif sig.result == "temperror":
            out.append(DKIM_TEMPERROR.finding(sig.reason, title=f"{label} could not be checked"))
        if (
            sig.key_bits is not None
            and sig.key_bits < MIN_KEY_BITS
            and sig.algorithm != "ed25519-sha256"
        ):
            out.append(
                DKIM_WEAK_KEY.finding(
                    f"The key at {sig.selector}._domainkey.{sig.domain} has {sig.key_bits} bits; "
                    "receivers ignore keys under 1024 bits (use 2048).",
                    locations=_dns(),
                    data={"key_bits": sig.key_bits},
                )
            )

    dm = d.dmarc
    if dm.result == "fail":
        severity = (
            Severity.ERROR if dm.applied_policy in ("quarantine", "reject") else Severity.WARNING
        )
        out.append(
            DMARC_FAIL.finding(
                f"{dm.reason}; policy {dm.applied_policy} would apply.",
                severity=severity,
                data={"policy": dm.applied_policy},
            )
        )
    elif dm.result == "temperror":
        out.append(DMARC_TEMPERROR.finding(dm.reason))
    elif dm.record is not None and dm.result == "none":
        out.append(
            DMARC_NOT_EVALUATED.finding(
                f"DMARC of {dm.from_domain} is {dm.reason}.", data={"policy": dm.policy}
            )
        )
    elif dm.from_domain and dm.record is None and not _record_ignored(dm):
        out.append(
            DMARC_MISSING.finding(
                f"{dm.reason}. Gmail and Yahoo require DMARC for bulk senders.",
                locations=_dns(),
                data={"domain": dm.from_domain},
            )
        )
    if dm.policy == "none":
        out.append(
            DMARC_POLICY_NONE.finding(
                f"_dmarc.{dm.record_domain} only monitors (p=none): spoofed mail is not rejected.",
                locations=_dns(),
                data={"record": dm.record},
            )
        )
    if dm.testing:
        out.append(
            DMARC_TESTING.finding(
                f"_dmarc.{dm.record_domain} sets t=y: receivers following DMARCbis are asked "
                f"not to apply p={dm.policy}; receivers following only RFC 7489 ignore t= "
                "and apply it.",
                locations=_dns(),
                data={"record": dm.record},
            )
        )
    out += _dmarc_record_findings(dm)
    out += _dmarc_method_findings(dm)
    if d.arc.result == "fail":
        out.append(_arc_fail(d.arc))

    posture = d.posture
    if dm.from_domain and not posture.from_domain_mx:
        out.append(
            NO_MX.finding(
                f"{dm.from_domain} has no MX: replies and bounces cannot be delivered, and some "
                "receivers reject such senders.",
                locations=_dns(),
                data={"domain": dm.from_domain},
            )
        )
    elif posture.from_domain_mx == ["0 "] or posture.from_domain_mx == ["0 ."]:
        out.append(
            NULL_MX.finding(
                f"{dm.from_domain} publishes a null MX (RFC 7505): replies cannot be delivered."
            )
        )
    if spf.ip and is_public_ip(spf.ip):
        if posture.iprev == "fail" and not posture.ptr_names:
            out.append(
                NO_PTR.finding(
                    f"{spf.ip} has no PTR record; many receivers reject or penalise such senders.",
                    locations=_dns(),
                    data={"ip": spf.ip},
                )
            )
        elif posture.iprev == "fail":
            out.append(
                FCRDNS_FAIL.finding(
                    f"{spf.ip} points to {', '.join(posture.ptr_names)}, which do not "
                    "resolve back to it.",
                    locations=_dns(),
                    data={"ip": spf.ip},
                )
            )
    del msg
    return out
