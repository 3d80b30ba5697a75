"""One audited message reduced to what the audit summary counts (a few hundred bytes).

Audits keep these, never whole reports, so memory and storage stay small whatever the size
of the mailbox. ``record_from_report`` is the only place that knows which parts of which
check's report feed which summary column.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from mailqa.checks import BUILTIN_CHECKS
from mailqa.checks.links.details import NOT_BROKEN_ERRORS
from mailqa.core.report import Finding, Report, Severity

# Checks an audit leaves out unless asked: they need a daemon or the network, and run at a
# few messages per second where the others run at hundreds.
SLOW_CHECKS = frozenset({"spam", "blacklist", "auth"})

UNREADABLE = "unreadable"
MISSING = "missing"  # a stored message deleted (or pruned, or its source expired) before its turn
ERRORED = "errored"  # the audit could not analyse or store it (database gone, a crash)


def default_audit_checks() -> list[str]:
    """The offline, default-on checks."""
    return [
        name
        for name, cls in BUILTIN_CHECKS.items()
        if cls.default_enabled and not cls.needs_network and name not in SLOW_CHECKS
    ]


class AuditRecord(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    key: str = Field(description="Where the message came from (path, mbox#n, message:id).")
    message_id: int | None = None
    subject: str | None = None
    from_: str | None = Field(default=None, alias="from")
    status: str = Field(description="Overall report status, or 'unreadable'.")
    score: float | None = None
    checks: dict[str, str] = Field(default_factory=dict, description="Check name → status.")
    rules: list[str] = Field(default_factory=list, description="Error and warning rule ids.")
    html_unsupported: list[str] = Field(default_factory=list)
    blacklisted: list[str] = Field(default_factory=list, description="Listed IPs and domains.")
    auth_failures: list[str] = Field(default_factory=list, description="Failing domains.")
    broken_link_hosts: list[str] = Field(default_factory=list)
    error: str | None = None
    duration_ms: float = 0.0


def _unique(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _first(data: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity in (Severity.ERROR, Severity.WARNING)]


def _from_domain(report: Report) -> str | None:
    sender = report.message.from_ or ""
    if "@" not in sender:
        return None
    return sender.rsplit("@", 1)[1].strip(" >").lower() or None


def record_from_report(key: str, report: Report, message_id: int | None = None) -> AuditRecord:
    rules: list[str] = []
    html: list[str] = []
    listed: list[str | None] = []
    auth: list[str | None] = []
    broken: list[str] = []
    for name, result in report.checks.items():
        problems = _problems(result.findings)
        rules += [f.rule for f in problems]
        if name == "html":
            html += [
                _first(f.data, "feature", "slug") or f.rule.removeprefix("html.") for f in problems
            ]
        elif name == "blacklist":
            listed += [
                _first(f.data, "ip", "domain", "target", "query")
                for f in result.findings
                if f.severity == Severity.ERROR
            ]
        elif name == "auth":
            auth += [_first(f.data, "domain") or _from_domain(report) for f in problems]
        elif name == "links":
            for link in result.details.get("links", []):
                # Refused (SSRF protection, allow-list) and unanswered links are not broken.
                if (
                    isinstance(link, dict)
                    and link.get("ok") is False
                    and link.get("error_kind") not in NOT_BROKEN_ERRORS
                ):
                    broken.append(urlsplit(str(link.get("url", ""))).hostname or "")
    return AuditRecord(
        key=key,
        message_id=message_id,
        subject=report.message.subject,
        from_=report.message.from_,
        status=report.status.value,
        score=report.score,
        checks={name: r.status.value for name, r in report.checks.items()},
        rules=_unique(rules),
        html_unsupported=_unique(html),
        blacklisted=_unique(listed),
        auth_failures=_unique(auth),
        broken_link_hosts=_unique(broken),
        duration_ms=report.duration_ms,
    )


def message_key(message_id: int) -> str:
    return f"message:{message_id}"


def unreadable_record(
    key: str, error: str, message_id: int | None = None, status: str = UNREADABLE
) -> AuditRecord:
    return AuditRecord(key=key, message_id=message_id, status=status, error=error[:500])


def missing_record(message_id: int) -> AuditRecord:
    return unreadable_record(
        message_key(message_id),
        "deleted, or its source cleaned up by retention, before it was audited",
        message_id,
        MISSING,
    )
