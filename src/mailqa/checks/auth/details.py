"""The ``details`` payload of the auth check: what each mechanism found."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

AuthWord = Literal[
    "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy"
]


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
    explanation: str | None = Field(
        default=None,
        description="On fail: the explanation the domain publishes with exp=, expanded; "
        "receivers show it in their 550 reply. None when there is none or it cannot be read.",
    )
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


DmarcEffect = Literal["record-ignored", "policy-none", "default-used", "ignored", "accepted"]


class DmarcRecordProblem(BaseModel):
    """One fault of a DMARC record (or of the records at one name) and its consequence."""

    domain: str = Field(description="The domain whose _dmarc name holds the record.")
    record: str | None = None
    tag: str | None = Field(default=None, description="The tag at fault; None: the whole record.")
    value: str | None = None
    default: str | None = Field(default=None, description="The value used instead (default-used).")
    problem: str
    effect: DmarcEffect = Field(
        description="record-ignored: receivers apply no DMARC; policy-none: they act as if "
        "p=none (the record has a valid rua=); default-used: the tag's default replaces the "
        "value; ignored: the item is skipped; accepted: most receivers use it as written."
    )
    specification: Literal["both", "rfc7489", "dmarcbis"] = Field(
        default="both", description="Which specification's receivers the effect is for."
    )


class DmarcTreeWalk(BaseModel):
    """DMARCbis policy discovery: the From domain, then its parents (at most 8 queries)."""

    queried: list[str] = Field(default_factory=list, description="The _dmarc names queried.")
    found: list[str] = Field(
        default_factory=list, description="The domains where exactly one DMARC record was found."
    )
    complete: bool = Field(default=True, description="False when a lookup failed.")
    organizational_domain: str | None = None
    record_domain: str | None = None
    record: str | None = None
    policy_source: Literal["author", "organizational", "psd"] | None = Field(
        default=None,
        description="Whose record applies: the From domain's, its organizational domain's or "
        "a public suffix domain's (psd=y).",
    )
    policy: str | None = None
    applied_tag: Literal["p", "sp", "np"] | None = None
    applied_policy: str | None = Field(
        default=None, description="As DMARCbis applies it: t=y lowers the policy one step."
    )
    spf_aligned: bool = False
    dkim_aligned: bool = False
    result: AuthWord = "none"
    reason: str = ""


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
        "quarantine or reject (on fail), or none (on pass). With pct=0 the next-weaker "
        "policy (RFC 7489 section 6.6.4), as no failing mail is sampled for the published one.",
    )
    sampled_out_policy: str | None = Field(
        default=None,
        description="With pct= under 100 (RFC 7489): the policy for the failing mail not "
        "sampled (reject -> quarantine, quarantine -> none). DMARCbis drops pct= for t=.",
    )
    percent: int = 100
    adkim: Literal["r", "s"] = "r"
    aspf: Literal["r", "s"] = "r"
    spf_aligned: bool = False
    dkim_aligned: bool = False
    rua: list[str] = Field(default_factory=list)
    reason: str = ""
    problems: list[DmarcRecordProblem] = Field(
        default_factory=list,
        description="What is wrong with the DMARC records found, and what receivers do about it.",
    )
    tree_walk: DmarcTreeWalk | None = Field(
        default=None,
        description="Policy discovery and alignment as DMARCbis does them (DNS tree walk), "
        "beside the RFC 7489 result above (Public Suffix List).",
    )


ArcWord = Literal["none", "pass", "fail"]
"""The ARC chain validation results of RFC 8617."""


class ArcInstance(BaseModel):
    """One ARC set (RFC 8617): who sealed it and whether its signatures verified."""

    instance: int = Field(description="i= of the set: 1 for the first hop that sealed.")
    authserv_id: str | None = Field(
        default=None, description="The authserv-id of its ARC-Authentication-Results."
    )
    seal_domain: str | None = Field(default=None, description="d= of the ARC-Seal.")
    seal_selector: str | None = Field(default=None, description="s= of the ARC-Seal.")
    signature_domain: str | None = Field(
        default=None, description="d= of the ARC-Message-Signature."
    )
    signature_selector: str | None = Field(
        default=None, description="s= of the ARC-Message-Signature."
    )
    cv: str | None = Field(
        default=None,
        description="cv= of the ARC-Seal as written: what this sealer found the chain to be "
        "(none at i=1, pass after).",
    )
    signature_valid: bool | None = Field(
        default=None,
        description="Whether the ARC-Message-Signature verified; None when not checked (the "
        "chain was already broken by its structure or at a newer set).",
    )
    seal_valid: bool | None = Field(
        default=None, description="Whether the ARC-Seal verified; None when not checked."
    )
    problem: str = Field(default="", description="What is wrong with this set, if anything.")


class ArcDetails(BaseModel):
    result: ArcWord
    instances: int = Field(
        default=0, description="The highest instance (i=): the number of sets of a whole chain."
    )
    reason: str = ""
    chain: list[ArcInstance] = Field(
        default_factory=list,
        description="The ARC sets by instance, oldest (i=1) first; empty when there are none "
        "or too many to read (more than 50 sets).",
    )
    broken_at: int | None = Field(
        default=None,
        description="The instance where validation failed (a missing one, for a gap); None "
        "when the chain passes or the failure belongs to no one instance.",
    )
    oldest_pass: int | None = Field(
        default=None,
        description="RFC 8617 oldest-pass: the lowest instance whose ARC-Message-Signature "
        "still verifies, 0 when all do; None when the newest one does not or was not checked.",
    )


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
