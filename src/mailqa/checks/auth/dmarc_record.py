"""One DMARC record read as receivers read it: which tags count, which values are broken and
what a broken value does (RFC 7489 sections 6.3, 6.4 and 6.6.3 step 6; DMARCbis 4.7, 4.8
and 4.10.1).

A broken ``p=`` or ``sp=`` (and, for DMARCbis, ``np=``) makes the record unusable unless
``rua=`` holds a valid URI, when receivers act as if it said ``p=none``. A broken value of any
other known tag is replaced by the tag's default. Unknown tags are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from mailqa.checks.auth.details import DmarcEffect, DmarcRecordProblem

DMARC_VERSION = re.compile(r"^v\s*=\s*DMARC1\s*(;|$)", re.I)
"""A TXT string that starts like a DMARC record (RFC 7489 section 6.6.3 step 2)."""
_VERSION_ANYWHERE = re.compile(r"(^|;)\s*v\s*=\s*DMARC1\s*(;|$)", re.I)
POLICIES = ("none", "quarantine", "reject")
WEAKER = {"reject": "quarantine", "quarantine": "none", "none": "none"}
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s,!]+(![0-9]+[kmgtKMGT]?)?$")
_TAG_NAME = re.compile(r"^[A-Za-z]+$")

# Known tags, their defaults and the specification that defines them. Tags with no default
# (p sp np rua ruf) have none to fall back on.
_RFC7489_TAGS = ("v", "p", "sp", "adkim", "aspf", "pct", "fo", "rf", "ri", "rua", "ruf")
_DMARCBIS_TAGS = ("np", "psd", "t")
_DEFAULTS = {
    "adkim": "r",
    "aspf": "r",
    "pct": "100",
    "fo": "0",
    "rf": "afrf",
    "ri": "86400",
    "psd": "u",
    "t": "n",
}


def looks_like_dmarc(text: str) -> bool:
    """The TXT string starts with v=DMARC1 (what receivers keep at a _dmarc name)."""
    return DMARC_VERSION.match(text) is not None


def misplaced_version(text: str) -> bool:
    """The string holds a v=DMARC1 tag, but not first: receivers discard it."""
    return not looks_like_dmarc(text) and _VERSION_ANYWHERE.search(text) is not None


def valid_uri(uri: str) -> bool:
    return _URI.match(uri.strip()) is not None


@dataclass
class DmarcRecord:
    """A record that starts with v=DMARC1, with the values receivers use."""

    domain: str
    text: str
    tags: dict[str, str] = field(default_factory=dict)
    problems: list[DmarcRecordProblem] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    broken_policy_tags: list[str] = field(default_factory=list)
    broken_np: bool = False
    policy: str | None = None
    subdomain_policy: str | None = None
    nonexistent_policy: str | None = None
    adkim: Literal["r", "s"] = "r"
    aspf: Literal["r", "s"] = "r"
    percent: int = 100
    psd: Literal["y", "n", "u"] | None = None
    testing: bool = False
    rua: list[str] = field(default_factory=list)

    @property
    def has_valid_rua(self) -> bool:
        return any(valid_uri(u) for u in self.rua)

    def policies(self, dmarcbis: bool) -> tuple[str, str | None, str | None] | None:
        """(p, sp, np) as receivers of one specification use them: as published; ("none",
        None, None) when a policy tag is broken but rua= is valid (the record then counts as
        "v=DMARC1; p=none"); None when the record is not used at all."""
        if self.duplicated:
            return None
        if self.broken_policy_tags or (dmarcbis and self.broken_np):
            return ("none", None, None) if self.has_valid_rua else None
        assert self.policy is not None
        return self.policy, self.subdomain_policy, self.nonexistent_policy

    def _problem(
        self,
        tag: str | None,
        value: str | None,
        problem: str,
        effect: DmarcEffect,
        specification: Literal["both", "rfc7489", "dmarcbis"] = "both",
        default: str | None = None,
    ) -> None:
        self.problems.append(
            DmarcRecordProblem(
                domain=self.domain,
                record=self.text,
                tag=tag,
                value=value,
                default=default,
                problem=problem,
                effect=effect,
                specification=specification,
            )
        )


def parse_dmarc_record(domain: str, text: str) -> DmarcRecord:
    """Read ``text`` (found at ``_dmarc.<domain>``, starting with v=DMARC1)."""
    record = DmarcRecord(domain=domain, text=text)
    order: list[str] = []
    for item in (i.strip() for i in text.split(";")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        key, value = name.strip().lower(), value.strip()
        if not sep or not _TAG_NAME.match(key):
            record._problem(None, item, f"'{item}' is not a tag=value pair", "ignored")
            continue
        if key in record.tags:
            if key not in record.duplicated:
                record.duplicated.append(key)
            continue
        record.tags[key] = value
        order.append(key)
        if key not in _RFC7489_TAGS + _DMARCBIS_TAGS:
            record._problem(key, value, f"unknown tag {key}=", "ignored")
    for key in record.duplicated:
        record._problem(
            key,
            record.tags[key],
            f"{key}= appears more than once: under DKIM's tag=value syntax, which DMARC "
            "records use, that makes the whole record invalid (RFC 6376 section 3.2; some "
            "receivers take the first value instead)",
            "record-ignored",
        )
    _read_policies(record, order)
    _read_other_tags(record)
    return record


def _read_policies(record: DmarcRecord, order: list[str]) -> None:
    tags = record.tags
    rua = tags.get("rua")
    record.rua = [u.strip() for u in (rua or "").split(",") if u.strip()]
    if rua is not None and not record.has_valid_rua:
        record._problem("rua", rua, f"rua={rua} holds no valid URI", "ignored")
    p = tags.get("p")
    if p is None:
        record.broken_policy_tags.append("p")
        record._problem(
            "p",
            None,
            "the record has no p= tag (RFC 7489 requires it; DMARCbis reads a record "
            "without p= as p=none)",
            "policy-none" if record.has_valid_rua else "record-ignored",
        )
    elif p.lower() not in POLICIES:
        record.broken_policy_tags.append("p")
        record._problem(
            "p",
            p,
            f"p={p} is not none, quarantine or reject",
            "policy-none" if record.has_valid_rua else "record-ignored",
        )
    else:
        record.policy = p.lower()
        if order.index("p") != 1:
            record._problem(
                "p",
                p,
                "p= is not the tag right after v= as RFC 7489's grammar requires (section "
                "6.4); DMARCbis lets the tags after v= come in any order",
                "accepted",
            )
    sp = tags.get("sp")
    if sp is not None and sp.lower() not in POLICIES:
        record.broken_policy_tags.append("sp")
        record._problem(
            "sp",
            sp,
            f"sp={sp} is not none, quarantine or reject (RFC 7489 section 6.6.3 step 6 treats "
            "it like a broken p=)",
            "policy-none" if record.has_valid_rua else "record-ignored",
        )
    elif sp is not None:
        record.subdomain_policy = sp.lower()
    np = tags.get("np")
    if np is not None and np.lower() not in POLICIES:
        record.broken_np = True
        record._problem(
            "np",
            np,
            f"np={np} is not none, quarantine or reject, which DMARCbis treats like a broken "
            "p= (receivers following RFC 7489 and RFC 9091 skip the tag: sp= or p= applies)",
            "policy-none" if record.has_valid_rua else "record-ignored",
            "dmarcbis",
        )
    elif np is not None:
        record.nonexistent_policy = np.lower()


def _read_other_tags(record: DmarcRecord) -> None:
    tags = record.tags
    for key in ("adkim", "aspf"):
        value = tags.get(key, "r").lower()
        if value not in ("r", "s"):
            _default_used(record, key, "is not r or s")
            value = "r"
        setattr(record, key, value)
    pct = tags.get("pct")
    if pct is not None:
        if pct.isdigit() and int(pct) <= 100:
            record.percent = int(pct)
        else:
            _default_used(record, "pct", "is not an integer from 0 to 100", "rfc7489")
    fo = tags.get("fo")
    if fo is not None and not all(v.strip() in ("0", "1", "d", "s") for v in fo.split(":")):
        _default_used(record, "fo", "is not a colon-separated list of 0, 1, d and s")
    rf = tags.get("rf")
    if rf is not None and not all(v.strip().lower() == "afrf" for v in rf.split(":")):
        _default_used(record, "rf", "names a report format other than afrf", "rfc7489")
    ri = tags.get("ri")
    if ri is not None and not (ri.isdigit() and int(ri) < 2**32):
        _default_used(record, "ri", "is not a 32-bit unsigned integer", "rfc7489")
    psd = tags.get("psd")
    if psd is not None:
        if psd.lower() in ("y", "n", "u"):
            record.psd = psd.lower()  # type: ignore[assignment]
        else:
            _default_used(record, "psd", "is not y, n or u", "dmarcbis")
    t = tags.get("t")
    if t is not None:
        if t.lower() in ("y", "n"):
            record.testing = t.lower() == "y"
        else:
            _default_used(record, "t", "is not y or n", "dmarcbis")


def _default_used(
    record: DmarcRecord,
    key: str,
    why: str,
    specification: Literal["both", "rfc7489", "dmarcbis"] = "both",
) -> None:
    value = record.tags[key]
    record._problem(
        key, value, f"{key}={value} {why}", "default-used", specification, _DEFAULTS[key]
    )
