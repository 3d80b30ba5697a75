"""The bulk-sender requirements of the big mailbox providers, judged from a report.

Gmail and Yahoo (February 2024) and Microsoft's Outlook.com (May 2025) ask senders of bulk mail
for authenticated, aligned, unsubscribable, well-formed mail from a host with forward-confirmed
reverse DNS. Every item here is read from what the checks already found: the ``auth`` check's
details (SPF, DKIM, DMARC, ARC, reverse DNS) and the ``headers`` check's ``sender`` facts
(unsubscribe headers, header counts, the From domain, TLS on the SMTP session). An item whose
check did not run (offline, errored) is ``unknown``, never guessed. Spam-rate limits are not
judged: they need the provider's own statistics (Postmaster Tools, SNDS).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

ItemStatus = Literal["pass", "fail", "unknown"]

GMAIL = "https://support.google.com/a/answer/81126"
YAHOO = "https://senders.yahooinc.com/best-practices/"
MICROSOFT = (
    "https://techcommunity.microsoft.com/blog/microsoftdefenderforoffice365blog/"
    "strengthening-email-ecosystem-outlook%E2%80%99s-new-requirements-for-high%E2%80%90volume-"
    "senders/4399730"
)
RFC8058 = "https://www.rfc-editor.org/rfc/rfc8058"

# Mailbox providers whose own domains publish DMARC policies that make mail "From" them, sent
# by anyone else, fail: a bulk sender must use a domain it controls.
FREEMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "web.de",
        "mail.com",
        "yandex.ru",
        "proton.me",
        "protonmail.com",
        "zoho.com",
    }
)


class ComplianceItem(BaseModel):
    id: str
    title: str
    status: ItemStatus
    reason: str
    source: str = Field(description="Where the requirement is written.")


class ComplianceProfile(BaseModel):
    """One provider's requirements, rolled up: ``fail`` when any item fails, ``unknown``
    when none fails but some could not be judged, else ``pass``."""

    id: str
    name: str
    status: ItemStatus
    passed: int
    total: int
    items: list[str] = Field(description="The ids of its items, in ``items``.")
    failing: list[str] = Field(default_factory=list)
    unknown: list[str] = Field(default_factory=list)


class Compliance(BaseModel):
    items: list[ComplianceItem]
    profiles: list[ComplianceProfile]

    def profile(self, profile_id: str) -> ComplianceProfile:
        return next(p for p in self.profiles if p.id == profile_id)


PROFILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "gmail-bulk": (
        "Gmail bulk senders",
        (
            "spf-pass",
            "dkim-pass",
            "dmarc-record",
            "dmarc-aligned",
            "one-click-unsubscribe",
            "reverse-dns",
            "smtp-tls",
            "message-format",
            "from-own-domain",
            "arc-when-forwarded",
        ),
    ),
    "yahoo-bulk": (
        "Yahoo bulk senders",
        (
            "spf-pass",
            "dkim-pass",
            "dmarc-record",
            "dmarc-aligned",
            "one-click-unsubscribe",
            "reverse-dns",
            "message-format",
            "from-own-domain",
        ),
    ),
    "outlook-high-volume": (
        "Microsoft Outlook.com high-volume senders",
        ("spf-pass", "dkim-pass", "dmarc-record", "dmarc-aligned"),
    ),
}


def _ran(checks: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """The details of a check that ran to the end (passed, warning or failed)."""
    result = checks.get(name)
    if result is None or result.status.value not in ("passed", "warning", "failed"):
        return None
    details: dict[str, Any] = result.details
    return details


_NOT_RUN = {
    "auth": "the auth check did not run (it needs the network: SPF, DKIM and DMARC are DNS)",
    "headers": "the headers check did not run (or ran before it recorded the sender's facts: "
    "analyse the message again)",
}


def _unknown(check: str) -> tuple[ItemStatus, str]:
    return "unknown", _NOT_RUN[check]


def _judge(
    auth: dict[str, Any] | None, sender: dict[str, Any] | None
) -> dict[str, tuple[str, tuple[ItemStatus, str], str]]:
    """Each item: (title, (status, reason), source)."""

    def needs_auth(judge: Callable[[dict[str, Any]], tuple[ItemStatus, str]]) -> Any:
        return judge(auth) if auth is not None else _unknown("auth")

    def needs_sender(judge: Callable[[dict[str, Any]], tuple[ItemStatus, str]]) -> Any:
        return judge(sender) if sender is not None else _unknown("headers")

    return {
        "spf-pass": ("SPF passes", needs_auth(_spf), GMAIL),
        "dkim-pass": ("DKIM passes", needs_auth(_dkim), GMAIL),
        "dmarc-record": ("A DMARC record (p=none at least)", needs_auth(_dmarc_record), GMAIL),
        "dmarc-aligned": (
            "DMARC passes: SPF or DKIM aligned with From",
            needs_auth(_dmarc_aligned),
            GMAIL,
        ),
        "one-click-unsubscribe": (
            "One-click unsubscribe (RFC 8058), signed by DKIM",
            _one_click(auth, sender),
            RFC8058,
        ),
        "reverse-dns": (
            "The sending IP has forward-confirmed reverse DNS",
            needs_auth(_reverse_dns),
            GMAIL,
        ),
        "smtp-tls": ("Sent over TLS", needs_sender(_smtp_tls), GMAIL),
        "message-format": (
            "RFC 5322 format: one From, Date and Message-ID",
            needs_sender(_message_format),
            GMAIL,
        ),
        "from-own-domain": (
            "From a domain the sender controls (not a mailbox provider's)",
            needs_sender(_from_own_domain),
            GMAIL,
        ),
        "arc-when-forwarded": ("ARC on forwarded mail", needs_auth(_arc), GMAIL),
    }


def _spf(auth: dict[str, Any]) -> tuple[ItemStatus, str]:
    spf = auth.get("spf") or {}
    result = spf.get("result", "none")
    if result == "pass":
        return "pass", f"SPF pass for {spf.get('domain') or 'the envelope sender'}"
    if result == "none" and not spf.get("ip"):
        return "unknown", "no sending IP is known (mail not received over SMTP)"
    reason = spf.get("reason") or ""
    return "fail", f"SPF {result}" + (f": {reason}" if reason else "")


def _dkim(auth: dict[str, Any]) -> tuple[ItemStatus, str]:
    signatures = auth.get("dkim") or []
    passing = [s for s in signatures if s.get("result") == "pass"]
    if passing:
        return "pass", f"DKIM pass (d={passing[0].get('domain')})"
    if not signatures:
        return "fail", "the message has no DKIM signature"
    first = signatures[0]
    return "fail", f"DKIM {first.get('result')}: {first.get('reason') or 'not verified'}"


def _dmarc_record(auth: dict[str, Any]) -> tuple[ItemStatus, str]:
    dmarc = auth.get("dmarc") or {}
    if dmarc.get("record") and dmarc.get("policy") in ("none", "quarantine", "reject"):
        return "pass", f"p={dmarc['policy']} at {dmarc.get('record_domain') or 'the domain'}"
    if dmarc.get("result") == "temperror":
        return "unknown", "the DMARC lookup failed"
    domain = dmarc.get("from_domain") or "the From domain"
    return "fail", f"no usable DMARC record for {domain}"


def _dmarc_aligned(auth: dict[str, Any]) -> tuple[ItemStatus, str]:
    dmarc = auth.get("dmarc") or {}
    result = dmarc.get("result", "none")
    if result == "pass":
        return "pass", "DMARC pass: an aligned SPF or DKIM pass"
    if result == "temperror":
        return "unknown", "the DMARC lookup failed"
    return "fail", f"DMARC {result}: neither SPF nor DKIM passes aligned with the From domain"


def _one_click(auth: dict[str, Any] | None, sender: dict[str, Any] | None) -> Any:
    if sender is None:
        return _unknown("headers")
    unsubscribe = sender.get("unsubscribe") or {}
    if not unsubscribe.get("https"):
        return "fail", (
            "no https URI in List-Unsubscribe (required for marketing and subscribed mail; "
            "transactional mail is exempt)"
        )
    if not unsubscribe.get("one_click"):
        return "fail", "no 'List-Unsubscribe-Post: List-Unsubscribe=One-Click'"
    if auth is None:
        return "unknown", "the headers are right; whether DKIM signs them needs the auth check"
    for signature in auth.get("dkim") or []:
        signed = {h.lower() for h in signature.get("signed_headers") or []}
        if (
            signature.get("result") == "pass"
            and {
                "list-unsubscribe",
                "list-unsubscribe-post",
            }
            <= signed
        ):
            return "pass", f"both headers signed by d={signature.get('domain')}"
    return "fail", "no passing DKIM signature covers List-Unsubscribe and List-Unsubscribe-Post"


def _reverse_dns(auth: dict[str, Any]) -> tuple[ItemStatus, str]:
    posture = auth.get("posture") or {}
    fcrdns = posture.get("fcrdns")
    names = ", ".join(posture.get("ptr_names") or [])
    if fcrdns is True:
        return "pass", f"PTR {names} resolves back to the sending IP"
    if fcrdns is False:
        return "fail", (
            f"PTR {names} does not resolve back to the sending IP"
            if names
            else "the sending IP has no PTR record"
        )
    if posture.get("iprev") == "temperror":
        return "unknown", "the reverse DNS lookup failed"
    return "unknown", "no public sending IP is known"


def _smtp_tls(sender: dict[str, Any]) -> tuple[ItemStatus, str]:
    tls = sender.get("smtp_tls")
    if tls is True:
        return "pass", "the SMTP session used TLS"
    if tls is False:
        return "fail", "the SMTP session did not use TLS (no STARTTLS)"
    return "unknown", "not received over SMTP"


def _message_format(sender: dict[str, Any]) -> tuple[ItemStatus, str]:
    counts = sender.get("header_counts") or {}
    wrong = [
        f"{name} ×{counts.get(key, 0)}"
        for key, name in (("from", "From"), ("date", "Date"), ("message-id", "Message-ID"))
        if counts.get(key, 0) != 1
    ]
    if wrong:
        return "fail", "expected exactly one of each: " + ", ".join(wrong)
    return "pass", "one From, Date and Message-ID"


def _from_own_domain(sender: dict[str, Any]) -> tuple[ItemStatus, str]:
    domain = (sender.get("from_domain") or "").lower()
    if not domain:
        return "fail", "no From address"
    if domain in FREEMAIL_DOMAINS or domain.startswith("yahoo."):
        return "fail", f"From {domain}: a mailbox provider's domain, whose DMARC policy fails it"
    return "pass", f"From {domain}"


def _arc(auth: dict[str, Any]) -> tuple[ItemStatus, str]:
    arc = auth.get("arc") or {}
    result = arc.get("result", "none")
    if result == "none":
        return "pass", "not forwarded (no ARC set); a forwarder must add one"
    if result == "pass":
        return "pass", f"ARC chain of {arc.get('instances', 0)} set(s) passes"
    return "fail", f"ARC {result}: {arc.get('reason') or 'the chain does not validate'}"


def assess(checks: Mapping[str, Any]) -> Compliance:
    """The items and the providers' profiles, from a report's check results."""
    headers = _ran(checks, "headers")
    judged = _judge(_ran(checks, "auth"), (headers or {}).get("sender") if headers else None)
    items = [
        ComplianceItem(id=key, title=title, status=verdict[0], reason=verdict[1], source=source)
        for key, (title, verdict, source) in judged.items()
    ]
    by_id = {i.id: i for i in items}
    profiles = []
    for profile_id, (name, ids) in PROFILES.items():
        failing = [i for i in ids if by_id[i].status == "fail"]
        unknown = [i for i in ids if by_id[i].status == "unknown"]
        status: ItemStatus = "fail" if failing else "unknown" if unknown else "pass"
        profiles.append(
            ComplianceProfile(
                id=profile_id,
                name=name,
                status=status,
                passed=sum(by_id[i].status == "pass" for i in ids),
                total=len(ids),
                items=list(ids),
                failing=failing,
                unknown=unknown,
            )
        )
    return Compliance(items=items, profiles=profiles)
