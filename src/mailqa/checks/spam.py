"""Spam score from SpamAssassin's spamd, with every rule that fired and why.

The message is scored as a receiving MX would see it: hops from this machine's loopback (an
app handing mail to mailqa on the same host) are dropped, so SpamAssassin does not grant them
ALL_TRUSTED, and when the sender's address is known from the SMTP envelope a receiving hop
naming it is added the way an MX records it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from mailqa.core.address import normal_ip
from mailqa.core.check import CheckContext
from mailqa.core.clients import SpamdReport, SpamScanner
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Finding, Severity, Status
from mailqa.core.rules import CheckRules
from mailqa.net.spamd.client import SpamdUnavailable

_BRACKET_IP = re.compile(rb"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")
_HEADER_END = re.compile(rb"\r?\n\r?\n")

# Mailtrap's ResponseCode/ResponseMessage are spamd's (sysexits) codes.
EX_OK = (0, "EX_OK")
EX_DATAERR = (65, "EX_DATAERR")
EX_UNAVAILABLE = (69, "EX_UNAVAILABLE")


class SpamRuleResult(BaseModel):
    """A rule that fired: its name, the points it added (negative: fewer) and what it means."""

    name: str
    score: float
    description: str = ""


class SpamDetails(BaseModel):
    """The ``details`` of the spam check's result."""

    outcome: Literal["scored", "too_large", "unavailable", "not_configured"]
    score: float | None = Field(None, description="SpamAssassin points.")
    threshold: float | None = Field(None, description="spamd's own 'required' score.")
    is_spam: bool | None = None
    rules: list[SpamRuleResult] = Field(default_factory=list)
    spamd_version: str | None = None
    protocol_version: str | None = None
    response_code: int = 0
    response_message: str = ""
    scan_ms: float | None = Field(None, description="spamd round trip in milliseconds.")
    size: int = Field(0, description="Bytes sent (or that would be sent) to spamd.")
    max_size: int | None = None
    spamd_url: str | None = None


def _is_loopback_hop(field: bytes) -> bool:
    """A Received field whose sending side is this machine (loopback address or localhost)."""
    from_part = field.split(b" by ", 1)[0].split(b"\tby ", 1)[0]
    ips = _BRACKET_IP.findall(from_part)
    for candidate in ips:
        try:
            return ipaddress.ip_address(candidate.decode("ascii")).is_loopback
        except ValueError:
            continue
    if not ips:
        words = from_part.lower().split()
        return len(words) >= 3 and words[1] == b"from" and words[2] == b"localhost"
    return False


def scoring_bytes(msg: ParsedMessage, receiver: str) -> bytes:
    """The message as a receiving MX would hand it to SpamAssassin (see module docstring)."""
    raw = msg.raw
    end = _HEADER_END.search(raw)
    head, body = (raw[: end.start()], raw[end.start() :]) if end else (raw, b"")
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    fields: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    if fields and not fields[-1].endswith(b"\n"):
        fields[-1] += newline
    kept: list[bytes] = []
    in_local_hops = True
    for field in fields:
        if in_local_hops and field[:9].lower() == b"received:":
            if _is_loopback_hop(field):
                continue
            in_local_hops = False
        kept.append(field)
    # A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d: name the IPv4 address
    # (and treat ::ffff:127.0.0.1 as the loopback it is).
    ip = normal_ip(msg.envelope.client_ip) if msg.envelope.client_ip else None
    if ip and _is_external(ip):
        first_hop = next((f for f in kept if f[:9].lower() == b"received:"), b"")
        if f"[{ip}]".encode() not in first_hop:
            helo = msg.envelope.helo or f"[{ip}]"
            rdns = msg.envelope.client_name or "unknown"
            hop = (
                f"Received: from {helo} ({rdns} [{ip}]){newline.decode()}"
                f"\tby {receiver} (mailqa) with ESMTP; {formatdate(localtime=False)}"
            )
            kept.insert(0, hop.encode("utf-8", errors="replace") + newline)
    if len(kept) == len(fields) and not (ip and _is_external(ip)):
        return raw
    return b"".join(kept).rstrip(b"\r\n") + body


def _is_external(ip: str) -> bool:
    try:
        return not ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def quality_score(points: float, threshold: float) -> float:
    """0-100 for the report: 100 at 0 points or fewer, 50 at the threshold, 0 at twice it."""
    if threshold <= 0:
        return 0.0 if points >= threshold else 100.0
    return round(min(100.0, max(0.0, 100.0 * (1 - max(points, 0.0) / (2 * threshold)))), 1)


RULES = CheckRules("spam", page="spam.md#what-the-report-holds", category="spam")
SPAMASSASSIN_RULE = RULES.open_family(
    "spam.",
    "A SpamAssassin rule that added points to the spam score; the message gives the points.",
)


def _finding(rule: SpamRuleResult, threshold: float) -> Finding:
    if rule.score >= threshold > 0:
        severity = Severity.ERROR
    elif rule.score >= 1.0:
        severity = Severity.WARNING
    else:
        severity = Severity.INFO
    return SPAMASSASSIN_RULE.finding(
        rule.name,
        title=rule.description or rule.name,
        severity=severity,
        message=f"SpamAssassin rule {rule.name} added {rule.score:g} points.",
        category="spam",
        data={"points": rule.score},
    )


def _result(report: SpamdReport, details: SpamDetails) -> CheckResult:
    rules = details.rules
    fired = [r for r in rules if r.score > 0]
    verdict = "spam" if report.is_spam else "not spam"
    summary = f"{report.score:g} points, threshold {report.threshold:g}: {verdict}"
    if fired:
        top = sorted(fired, key=lambda r: -r.score)[:3]
        summary += " (" + ", ".join(f"{r.name} {r.score:+g}" for r in top) + ")"
    return CheckResult(
        name=SpamCheck.name,
        status=Status.FAILED if report.is_spam else Status.PASSED,
        summary=summary,
        score=quality_score(report.score, report.threshold),
        findings=[_finding(r, report.threshold) for r in sorted(fired, key=lambda r: -r.score)],
        details=details.model_dump(),
    )


@dataclass(frozen=True)
class SpamConfig:
    """What the spam check reads of the settings."""

    receiver_hostname: str
    """The name in the ``Received`` header the message is scored with (``MAILQA_SMTP_HOSTNAME``)."""


class SpamCheck:
    """Scores the message with spamd (REPORT). Needs a spamd, not the internet."""

    name: ClassVar[str] = "spam"
    rules: ClassVar[CheckRules] = RULES
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = True

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        client: SpamScanner | None = ctx.spamd
        if client is None:
            reason = ctx.extras.get("spamd_unavailable") or (
                "no spamd: set MAILQA_SPAMD_URL or install spamd for a managed one"
            )
            result = CheckResult.skipped(self.name, str(reason))
            details = SpamDetails(outcome="not_configured", size=len(msg.raw))
            return result.model_copy(update={"details": details.model_dump()})
        raw = scoring_bytes(msg, ctx.config(SpamConfig).receiver_hostname)
        base = SpamDetails(
            outcome="scored", size=len(raw), max_size=client.max_size, spamd_url=client.url
        )
        if len(raw) > client.max_size:
            reason = (
                f"message is {len(raw)} bytes, over the spamd size limit of "
                f"{client.max_size} bytes (MAILQA_SPAMD_MAX_SIZE): not scored"
            )
            details = base.model_copy(update={"outcome": "too_large"})
            return CheckResult.skipped(self.name, reason).model_copy(
                update={"details": details.model_dump()}
            )
        try:
            report = await client.report(raw)
        except SpamdUnavailable as exc:
            details = base.model_copy(
                update={
                    "outcome": "unavailable",
                    "response_code": EX_UNAVAILABLE[0],
                    "response_message": EX_UNAVAILABLE[1],
                }
            )
            return CheckResult.errored(self.name, str(exc), retryable=True).model_copy(
                update={"details": details.model_dump()}
            )
        details = base.model_copy(
            update={
                "score": report.score,
                "threshold": report.threshold,
                "is_spam": report.is_spam,
                "rules": [
                    SpamRuleResult(name=r.name, score=r.score, description=r.description)
                    for r in report.rules
                ],
                "spamd_version": await client.server_version(),
                "protocol_version": report.protocol_version,
                "response_code": report.response_code,
                "response_message": report.response_message,
                "scan_ms": report.elapsed_ms,
            }
        )
        return _result(report, details)


def mailtrap_spam_report(result: CheckResult) -> dict[str, Any]:
    """The spam check's result in Mailtrap's ``spam_report`` shape (the value of "report").

    Unscored results keep the shape: ``Score`` 0, ``Spam`` false, and a non-zero sysexits
    ``ResponseCode`` (65 too large, 69 spamd unavailable or not configured).
    """
    details = SpamDetails.model_validate(result.details or {"outcome": "not_configured"})
    if details.outcome == "scored":
        code, message = details.response_code, details.response_message or EX_OK[1]
    elif details.outcome == "too_large":
        code, message = EX_DATAERR
    else:
        code, message = EX_UNAVAILABLE
    return {
        "ResponseCode": code,
        "ResponseMessage": message,
        "ResponseVersion": details.protocol_version or "1.5",
        "Score": details.score if details.score is not None else 0.0,
        "Spam": bool(details.is_spam),
        # Mailtrap sends an integer and its SDK refuses anything else, so a fractional
        # ``required_score`` is rounded here; "Spam" carries spamd's exact verdict, and the
        # native report keeps the exact threshold.
        "Threshold": round(details.threshold or 0.0),
        "Details": [
            {"Pts": rule.score, "RuleName": rule.name, "Description": rule.description}
            for rule in details.rules
        ],
    }
