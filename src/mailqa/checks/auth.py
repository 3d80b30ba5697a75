"""Sender authentication: SPF, DKIM, DMARC and ARC, plus the sending domain's DNS posture.

All lookups go through the shared ``DnsResolver`` and run concurrently. SPF is evaluated by
``mailqa.net.spf`` (RFC 7208); DKIM and ARC by dkimpy, handed a dictionary of key records
fetched beforehand (dkimpy's DNS hook is synchronous); DMARC (RFC 7489) finds the policy at
the From domain or its organizational domain (Public Suffix List, not DMARCbis' DNS tree
walk) and checks alignment; the DMARCbis tags np=, psd= and t= are read and reported.
The SPF domain's whole record tree is also walked statically (posture: lookups and errors an
evaluation that matched early never reaches). A non-public sending IP leaves SPF unevaluated.
Results use the RFC 8601 words and the report carries a ready ``Authentication-Results``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from typing import ClassVar, Literal

import dkim
from pydantic import BaseModel, Field

from mailqa.core.address import domain_of, is_public_ip, organizational_domain, sending_ip
from mailqa.core.budget import in_thread
from mailqa.core.check import CheckContext
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Finding, Location, Severity, Status
from mailqa.core.rules import CheckRules
from mailqa.net.dns import DnsAnswer, DnsResolver, dkim_dnsfunc, ptr_name
from mailqa.net.spf import (
    MAX_DNS_TERMS,
    SpfError,
    SpfOutcome,
    check_spf,
    missing_target_reason,
    parse_record,
    spf_records,
)

AuthWord = Literal[
    "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy"
]
MIN_KEY_BITS = 1024
_DMARC_VERSION = re.compile(r"^v\s*=\s*DMARC1\s*(;|$)", re.I)
_POLICIES = ("none", "quarantine", "reject")
# Bound on the SPF records the posture walk reads (includes of includes...): enough to see
# any tree over the 10-lookup limit, small enough for a hostile tree.
MAX_SPF_WALK_RECORDS = 40


RULES = CheckRules(
    "auth",
    page="auth-and-blacklists.md#auth",
    category="authentication",
    penalties={Severity.ERROR: 25.0, Severity.WARNING: 10.0},
)
SPF_FAIL = RULES.rule(
    "spf-fail",
    "SPF fails",
    Severity.ERROR,
    "The sending IP is not allowed to send for the domain.",
    aliases=["spf_fail"],
)
SPF_SOFTFAIL = RULES.rule(
    "spf-softfail",
    "SPF soft-fails",
    Severity.WARNING,
    "The domain says the sending IP is probably not allowed to send (~all).",
    aliases=["spf_softfail"],
)
SPF_PERMERROR = RULES.rule(
    "spf-permerror",
    "SPF record is broken",
    Severity.ERROR,
    "A syntax error, several SPF records or a redirect to nothing: receivers treat it as failed.",
    aliases=["spf_permerror"],
)
SPF_TOO_MANY_LOOKUPS = RULES.rule(
    "spf-too-many-lookups",
    "SPF needs more than 10 DNS lookups",
    Severity.ERROR,
    "RFC 7208 allows 10 DNS-querying terms; beyond that SPF is permerror.",
    aliases=["spf_too_many_lookups"],
)
SPF_VOID_LOOKUPS = RULES.rule(
    "spf-void-lookups",
    "SPF has too many lookups that find nothing",
    Severity.ERROR,
    "More than 2 void lookups make SPF permerror (RFC 7208).",
    aliases=["spf_void_lookups"],
)
SPF_TEMPERROR = RULES.rule(
    "spf-temperror",
    "SPF could not be checked",
    Severity.WARNING,
    "The SPF lookups failed (DNS).",
    aliases=["spf_temperror"],
)
SPF_MISSING = RULES.rule(
    "spf-missing",
    "No SPF record",
    Severity.WARNING,
    "The domain publishes no SPF record; receivers cannot tell who may send for it.",
    aliases=["spf_missing"],
)
SPF_NOT_EVALUATED = RULES.rule(
    "spf-not-evaluated",
    "SPF not evaluated",
    Severity.INFO,
    "No sending IP is known (no public Received hop).",
    aliases=["spf_not_evaluated"],
)
SPF_RECORD_TOO_MANY_LOOKUPS = RULES.rule(
    "spf-record-too-many-lookups",
    "SPF record tree needs more than 10 DNS lookups",
    Severity.WARNING,
    "The SPF record and its includes hold more than 10 DNS-querying terms: a sender matched after "
    "the 10th gets permerror, which receivers treat as failed.",
    aliases=["spf_record_too_many_lookups"],
)
SPF_RECORD_ERROR = RULES.rule(
    "spf-record-error",
    "SPF record tree has errors",
    Severity.WARNING,
    "An include or redirect of the SPF record gives permerror for any sender whose evaluation "
    "reaches it.",
    aliases=["spf_record_error"],
)
SPF_ALLOWS_ALL = RULES.rule(
    "spf-allows-all",
    "SPF allows every sender",
    Severity.WARNING,
    "The SPF record ends in +all: anyone may send as this domain.",
    aliases=["spf_allows_all"],
)
DKIM_MISSING = RULES.rule(
    "dkim-missing",
    "Message is not DKIM-signed",
    Severity.WARNING,
    "Mailbox providers expect signed mail, and DMARC then rests on SPF alone.",
    aliases=["dkim_missing"],
)
DKIM_FAIL = RULES.rule(
    "dkim-fail",
    "DKIM signature does not verify",
    Severity.ERROR,
    "The body or signed headers changed after signing, or the key does not match.",
    aliases=["dkim_fail"],
)
DKIM_PERMERROR = RULES.rule(
    "dkim-permerror",
    "DKIM signature cannot be checked",
    Severity.ERROR,
    "No key at the selector, or a malformed signature or key record.",
    aliases=["dkim_permerror"],
)
DKIM_TEMPERROR = RULES.rule(
    "dkim-temperror",
    "DKIM signature could not be checked",
    Severity.WARNING,
    "The key lookup failed (DNS).",
    aliases=["dkim_temperror"],
)
DKIM_WEAK_KEY = RULES.rule(
    "dkim-weak-key",
    "DKIM key shorter than 1024 bits",
    Severity.ERROR,
    "Keys under 1024 bits are not accepted (RFC 8301); use 2048-bit RSA or Ed25519.",
    aliases=["dkim_weak_key"],
)
DMARC_FAIL = RULES.rule(
    "dmarc-fail",
    "DMARC fails",
    Severity.ERROR,
    "Neither SPF nor DKIM passed aligned with the From domain; the domain's policy applies.",
    aliases=["dmarc_fail"],
)
DMARC_NOT_EVALUATED = RULES.rule(
    "dmarc-not-evaluated",
    "DMARC not decided",
    Severity.INFO,
    "The domain has a DMARC record but no result could be decided for this message.",
    aliases=["dmarc_not_evaluated"],
)
DMARC_TESTING = RULES.rule(
    "dmarc-testing",
    "DMARC policy is in testing mode (t=y)",
    Severity.INFO,
    "Receivers following DMARCbis are asked not to apply the policy; receivers following only RFC "
    "7489 ignore t= and apply it.",
    aliases=["dmarc_testing"],
)
DMARC_MISSING = RULES.rule(
    "dmarc-missing",
    "No DMARC record",
    Severity.WARNING,
    "Gmail and Yahoo require DMARC for bulk senders.",
    aliases=["dmarc_missing"],
)
DMARC_TEMPERROR = RULES.rule(
    "dmarc-temperror",
    "DMARC could not be checked",
    Severity.WARNING,
    "The DMARC lookup failed (DNS).",
    aliases=["dmarc_temperror"],
)
DMARC_POLICY_NONE = RULES.rule(
    "dmarc-policy-none",
    "DMARC policy is p=none",
    Severity.INFO,
    "The policy only monitors: spoofed mail is not rejected.",
    aliases=["dmarc_policy_none"],
)
ARC_FAIL = RULES.rule(
    "arc-fail",
    "ARC chain does not validate",
    Severity.WARNING,
    "An ARC-Seal or ARC-Message-Signature fails.",
    aliases=["arc_fail"],
)
NO_MX = RULES.rule(
    "no-mx",
    "From domain has no MX record",
    Severity.WARNING,
    "Replies and bounces cannot be delivered, and some receivers reject such senders.",
    aliases=["no_mx"],
)
NULL_MX = RULES.rule(
    "null-mx",
    "From domain accepts no mail (null MX)",
    Severity.WARNING,
    "The domain publishes a null MX (RFC 7505): replies cannot be delivered.",
    aliases=["null_mx"],
)
NO_PTR = RULES.rule(
    "no-ptr",
    "Sending IP has no reverse DNS",
    Severity.WARNING,
    "Many receivers reject or penalise senders without a PTR record.",
    aliases=["no_ptr"],
)
FCRDNS_FAIL = RULES.rule(
    "fcrdns-fail",
    "Reverse DNS is not forward-confirmed",
    Severity.WARNING,
    "The PTR names of the sending IP do not resolve back to it.",
    aliases=["fcrdns_fail"],
)


def _tags(value: str) -> dict[str, str]:
    """Tag=value list (DKIM signatures, DMARC records); later duplicates are ignored."""
    out: dict[str, str] = {}
    for item in value.split(";"):
        name, sep, val = item.partition("=")
        key = name.strip().lower()
        if sep and key:
            out.setdefault(key, "".join(val.split()) if key in ("b", "bh", "h") else val.strip())
    return out


# --- details model ----------------------------------------------------------------------------


class SpfDetails(BaseModel):
    result: AuthWord
    identity: str
    domain: str | None = None
    sender: str | None = None
    ip: str | None = None
    record: str | None = None
    matched: str | None = None
    reason: str = ""
    dns_lookups: int = 0
    void_lookups: int = 0
    chain: list[str] = Field(default_factory=list)
    evaluated: bool = Field(
        default=True,
        description="False when SPF was not evaluated: no public sending IP is known (mail "
        "captured over loopback or a private network), so the result is unknown, not none.",
    )


class DkimSignature(BaseModel):
    index: int
    domain: str | None = None
    selector: str | None = None
    algorithm: str | None = None
    key_bits: int | None = None
    identity: str | None = None
    body_length: int | None = None
    signed_headers: list[str] = Field(default_factory=list)
    result: AuthWord
    reason: str = ""
    aligned: bool = False


class DmarcDetails(BaseModel):
    result: AuthWord
    from_domain: str | None = None
    organizational_domain: str | None = None
    record_domain: str | None = None
    record: str | None = None
    policy: str | None = None
    subdomain_policy: str | None = None
    nonexistent_policy: str | None = Field(
        default=None, description="np= (DMARCbis, RFC 9091): policy for non-existent subdomains."
    )
    psd: Literal["y", "n", "u"] | None = Field(
        default=None, description="psd= (DMARCbis): whether the record is a public suffix's."
    )
    testing: bool = Field(
        default=False,
        description="t=y (DMARCbis): the owner is testing its policy and asks receivers not to "
        "apply it; receivers that follow only RFC 7489 ignore t= and apply it.",
    )
    from_domain_exists: bool | None = Field(
        default=None,
        description="Whether the From domain exists (A, AAAA or MX); looked up only when np= "
        "could apply. None: not looked up or unknown.",
    )
    applied_tag: Literal["p", "sp", "np"] | None = Field(
        default=None, description="Which tag the applied policy came from."
    )
    applied_policy: str | None = Field(
        default=None,
        description="What a receiver would do with this message: none, "
        "quarantine or reject (on fail), or none (on pass).",
    )
    percent: int = 100
    adkim: Literal["r", "s"] = "r"
    aspf: Literal["r", "s"] = "r"
    spf_aligned: bool = False
    dkim_aligned: bool = False
    rua: list[str] = Field(default_factory=list)
    reason: str = ""


class ArcDetails(BaseModel):
    result: AuthWord
    instances: int = 0
    reason: str = ""


class SpfTreeDetails(BaseModel):
    """A static walk of the SPF domain's whole record tree (includes and redirect), whatever
    the sending IP: what any sender would run into, not just this message."""

    domain: str
    dns_lookups: int = Field(
        default=0, description="DNS-querying terms (include a mx ptr exists redirect) in the tree."
    )
    records: int = 0
    errors: list[str] = Field(
        default_factory=list, description="Syntax errors, missing include targets, loops."
    )
    complete: bool = Field(
        default=True, description="False when a lookup failed or the walk hit its bound."
    )


class PostureDetails(BaseModel):
    from_domain_mx: list[str] = Field(default_factory=list)
    ptr_names: list[str] = Field(default_factory=list)
    fcrdns: bool | None = None
    iprev: AuthWord = "none"
    spf_tree: SpfTreeDetails | None = None


class AuthDetails(BaseModel):
    """The ``details`` payload of the auth check."""

    spf: SpfDetails
    dkim: list[DkimSignature] = Field(default_factory=list)
    dkim_result: AuthWord = "none"
    dmarc: DmarcDetails
    arc: ArcDetails
    posture: PostureDetails
    authentication_results: str


# --- DKIM and ARC -----------------------------------------------------------------------------


class _CollectingLogger:
    """Stands in for dkimpy's logger to keep the error messages it logs instead of raising."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, msg: object, *args: object) -> None:
        self.errors.append(str(msg) % args if args else str(msg))

    warning = error

    def debug(self, msg: object, *args: object) -> None:
        return None

    info = debug


def _key_name(tags: dict[str, str]) -> str | None:
    selector, domain = tags.get("s"), tags.get("d")
    if not selector or not domain:
        return None
    return f"{selector}._domainkey.{domain}".lower()


def _verify_dkim(
    raw: bytes, index: int, keys: dict[str, DnsAnswer], tags: dict[str, str]
) -> DkimSignature:
    sig = DkimSignature(
        index=index,
        domain=(tags.get("d") or "").lower() or None,
        selector=tags.get("s"),
        algorithm=tags.get("a"),
        identity=tags.get("i"),
        body_length=int(tags["l"]) if tags.get("l", "").isdigit() else None,
        signed_headers=[h.strip().lower() for h in tags.get("h", "").split(":") if h.strip()],
        result="permerror",
    )
    name = _key_name(tags)
    answer = keys.get(name) if name else None
    if answer is not None and answer.failed:
        sig.result, sig.reason = "temperror", f"key lookup {name} failed: {answer.error}"
        return sig
    if answer is not None and not answer.ok:
        sig.result, sig.reason = "permerror", f"key not found: no TXT record at {name}"
        return sig
    log = _CollectingLogger()
    verifier = dkim.DKIM(raw, logger=log, minkey=MIN_KEY_BITS)
    try:
        valid = verifier.verify(idx=index, dnsfunc=dkim_dnsfunc(keys))
    except dkim.ValidationError as exc:
        text = str(exc)
        sig.result = "fail" if "body hash mismatch" in text else "permerror"
        sig.reason = (
            "body hash mismatch: the body was changed after signing"
            if sig.result == "fail"
            else text
        )
        return sig
    except dkim.KeyFormatError as exc:
        sig.key_bits = verifier.keysize or None
        sig.result, sig.reason = "fail", str(exc)
        return sig
    except dkim.DKIMException as exc:
        sig.result, sig.reason = "permerror", str(exc)
        return sig
    sig.key_bits = getattr(verifier, "keysize", None) or None
    if valid:
        sig.result, sig.reason = "pass", "signature verified"
    elif log.errors:
        sig.result, sig.reason = "permerror", "; ".join(log.errors)
    else:
        sig.result, sig.reason = "fail", "signature did not verify (signed headers changed?)"
    return sig


def _verify_arc(raw: bytes, keys: dict[str, DnsAnswer]) -> ArcDetails:
    log = _CollectingLogger()
    try:
        cv, results, reason = dkim.arc_verify(raw, logger=log, dnsfunc=dkim_dnsfunc(keys))
    except dkim.DKIMException as exc:
        return ArcDetails(result="fail", reason=str(exc))
    word = cv.decode() if isinstance(cv, bytes) else str(cv)
    result: AuthWord = word if word in ("pass", "fail", "none") else "permerror"  # type: ignore[assignment]
    text = reason.decode() if isinstance(reason, bytes) else str(reason or "")
    return ArcDetails(
        result=result, instances=len(results or []), reason=text or "; ".join(log.errors)
    )


# --- DMARC ------------------------------------------------------------------------------------


def _aligned(domain: str | None, from_domain: str, mode: str) -> bool:
    if not domain:
        return False
    if mode == "s":
        return domain.lower() == from_domain
    return organizational_domain(domain) == organizational_domain(from_domain)


async def _dmarc_record(resolver: DnsResolver, from_domain: str) -> tuple[DmarcDetails, str | None]:
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
            tags = _tags(records[0])
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


def _evaluate_dmarc(details: DmarcDetails, spf: SpfDetails, sigs: list[DkimSignature]) -> None:
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


# --- SPF record tree (posture) ------------------------------------------------------------------


async def walk_spf_tree(resolver: DnsResolver, domain: str) -> SpfTreeDetails:
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


# --- the check --------------------------------------------------------------------------------


def _dns() -> list[Location]:
    """Where a finding about published DNS records points."""
    return [Location(part="dns")]


def _combine_dkim(sigs: list[DkimSignature]) -> AuthWord:
    if not sigs:
        return "none"
    order: tuple[AuthWord, ...] = ("pass", "temperror", "fail", "permerror")
    for word in order:
        if any(s.result == word for s in sigs):
            return word
    return sigs[0].result


def authentication_results(
    serv_id: str,
    spf: SpfDetails,
    sigs: list[DkimSignature],
    dmarc: DmarcDetails,
    arc: ArcDetails,
    posture: PostureDetails,
) -> str:
    """An RFC 8601 ``Authentication-Results`` header (name included) for this evaluation."""
    parts = [serv_id]
    if spf.identity == "helo":
        parts.append(f"spf={spf.result} smtp.helo={spf.domain or 'unknown'}")
    else:
        parts.append(f"spf={spf.result} smtp.mailfrom={spf.domain or 'unknown'}")
    if sigs:
        for sig in sigs:
            reason = f' reason="{sig.reason[:80]}"' if sig.result != "pass" and sig.reason else ""
            parts.append(
                f"dkim={sig.result}{reason} header.d={sig.domain or 'unknown'} "
                f"header.s={sig.selector or 'unknown'}"
            )
    else:
        parts.append("dkim=none")
    policy = (
        f" (p={dmarc.policy} dis={(dmarc.applied_policy or 'none').upper()})"
        if dmarc.policy and dmarc.result in ("pass", "fail")
        else ""
    )
    parts.append(f"dmarc={dmarc.result}{policy} header.from={dmarc.from_domain or 'unknown'}")
    parts.append(f"arc={arc.result}")
    if spf.ip:
        parts.append(f"iprev={posture.iprev} policy.iprev={spf.ip}")
    return "Authentication-Results: " + ";\n\t".join(parts)


class AuthCheck:
    name: ClassVar[str] = "auth"
    rules: ClassVar[CheckRules] = RULES
    needs_network: ClassVar[bool] = True
    default_enabled: ClassVar[bool] = True

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        resolver = ctx.resolver
        if resolver is None:
            return CheckResult.skipped(self.name, ctx.no_resolver_reason)
        ip = sending_ip(msg)
        mail_from = msg.envelope.mail_from
        if mail_from is None:
            return_path = msg.header("Return-Path")
            mail_from = return_path.strip().strip("<>") if return_path else None
        helo = msg.envelope.helo or (msg.received[0].from_name if msg.received else None)
        from_domain = domain_of(msg.from_address)

        dkim_headers = [(i, _tags(v)) for i, v in enumerate(msg.header_all("DKIM-Signature"))]
        arc_headers = [
            _tags(v) for v in msg.header_all("ARC-Seal") + msg.header_all("ARC-Message-Signature")
        ]
        key_names = [n for n in (_key_name(t) for _, t in dkim_headers) if n]
        key_names += [n for n in (_key_name(t) for t in arc_headers) if n]

        public_ip = ip if ip and is_public_ip(ip) else None
        spf_domain = domain_of(mail_from) or (helo or "").lower().rstrip(".") or None
        spf_task = self._spf(resolver, ip, mail_from, helo)
        keys_task = resolver.prefetch_txt(key_names)
        dmarc_task = _dmarc_record(resolver, from_domain) if from_domain else _no_dmarc()
        posture_task = self._posture(resolver, public_ip, from_domain)
        tree_task = walk_spf_tree(resolver, spf_domain) if spf_domain else _no_tree()
        spf, keys, (dmarc, dmarc_error), posture, tree = await asyncio.gather(
            spf_task, keys_task, dmarc_task, posture_task, tree_task
        )
        posture.spf_tree = tree
        sigs = await in_thread(lambda: [_verify_dkim(msg.raw, i, keys, t) for i, t in dkim_headers])
        arc = (
            await in_thread(_verify_arc, msg.raw, keys)
            if msg.header("ARC-Seal") is not None
            else ArcDetails(result="none", reason="no ARC headers")
        )
        _evaluate_dmarc(dmarc, spf, sigs)
        if dmarc_error:
            dmarc.result, dmarc.reason = "temperror", dmarc_error
        serv_id = ctx.settings.auth_serv_id or ctx.settings.smtp_hostname
        details = AuthDetails(
            spf=spf,
            dkim=sigs,
            dkim_result=_combine_dkim(sigs),
            dmarc=dmarc,
            arc=arc,
            posture=posture,
            authentication_results=authentication_results(serv_id, spf, sigs, dmarc, arc, posture),
        )
        return self._result(details, msg)

    async def _spf(
        self, resolver: DnsResolver, ip: str | None, mail_from: str | None, helo: str | None
    ) -> SpfDetails:
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
        outcome: SpfOutcome = await check_spf(resolver, ip, mail_from, helo)
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
        )

    async def _posture(
        self, resolver: DnsResolver, ip: str | None, from_domain: str | None
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

    def _result(self, d: AuthDetails, msg: ParsedMessage) -> CheckResult:
        findings = _findings(d, msg)
        # The results that needed DNS: an unsigned message's DKIM "none" and an unevaluated
        # SPF needed none, so they cannot hide a DNS outage behind a mere warning.
        words = [
            word
            for word, needed_dns in (
                (d.spf.result, d.spf.evaluated),
                (d.dkim_result, bool(d.dkim)),
                (d.dmarc.result, d.dmarc.from_domain is not None),
            )
            if needed_dns
        ]
        temp = [w for w in words if w == "temperror"]
        summary = (
            f"SPF {d.spf.result}, DKIM {d.dkim_result}, DMARC {d.dmarc.result}, ARC {d.arc.result}"
        )
        if temp and len(temp) == len(words):  # every answer this message needed is unknown
            return CheckResult(
                name=self.name,
                status=Status.ERRORED,
                summary=summary,
                error="DNS lookups failed (temperror)",
                retryable=True,
                findings=findings,
                details=d.model_dump(),
            )
        return CheckResult.from_findings(
            self.name,
            findings,
            RULES.penalties,
            summary=summary,
            details=d.model_dump(),
            retryable=bool(temp),
        )


async def _no_dmarc() -> tuple[DmarcDetails, str | None]:
    return DmarcDetails(result="none", reason="no From address"), None


async def _no_tree() -> SpfTreeDetails | None:
    return None


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


def _findings(d: AuthDetails, msg: ParsedMessage) -> list[Finding]:
    out: list[Finding] = []
    spf = d.spf
    if spf.result == "fail":
        out.append(
            SPF_FAIL.finding(
                f"{spf.ip} is not allowed to send for {spf.domain} ({spf.reason}).",
                data={"domain": spf.domain, "record": spf.record},
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
    elif dm.from_domain and dm.record is None:
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
    if d.arc.result == "fail":
        out.append(ARC_FAIL.finding(d.arc.reason))

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
