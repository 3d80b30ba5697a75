"""Reshape stored rows and the one ``Report`` into Mailtrap's testing-API JSON.

Adapters only: nothing here analyses a message. Each check's own module may offer the
Mailtrap shape of its section (``checks.spam.mailtrap_spam_report``, a blacklist function in
``checks.blacklist``); when it does not (yet), the shape is built from the documented
``CheckResult`` fields, defensively, so a missing or odd section never breaks a response.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

from mailqa.checks.blacklist import blacklists_report_info as blacklist_section
from mailqa.checks.spam import mailtrap_spam_report
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Finding, Report, Severity, Status
from mailqa.store.inboxes import InboxStats
from mailqa.store.models import Attachment, Inbox, Message

PERMISSIONS = {"can_read": True, "can_update": True, "can_destroy": True, "can_leave": False}

# caniemail platforms → Mailtrap's three client groups.
PLATFORM_GROUP = {
    "windows": "desktop",
    "windows-mail": "desktop",
    "macos": "desktop",
    "desktop": "desktop",
    "linux": "desktop",
    "ios": "mobile",
    "android": "mobile",
    "mobile": "mobile",
    "desktop-webmail": "web",
    "mobile-webmail": "web",
    "outlook-com": "web",
    "webmail": "web",
    "web": "web",
}
CLIENT_KEYS = ("email_clients", "clients", "unsupported_clients", "affected_clients")


def iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def human_size(size: int) -> str:
    """Mailtrap's ``human_size``: ``512 Bytes``, ``3.6 KB``, ``1.2 MB``."""
    if size < 1024:
        return f"{size} Bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            return f"{value:.1f} {unit}"
    return f"{size} Bytes"  # pragma: no cover


# Projects and inboxes ---------------------------------------------------------------------


def inbox_json(
    inbox: Inbox,
    stats: InboxStats | None,
    *,
    smtp_host: str,
    smtp_port: int,
    api_host: str,
    max_message_size: int,
    max_messages: int | None,
) -> dict[str, Any]:
    count = stats.messages if stats else 0
    return {
        "id": inbox.id,
        "name": inbox.name,
        "username": inbox.smtp_username,
        "password": inbox.smtp_password,
        "max_size": inbox.max_messages or max_messages or 0,
        "status": "active",
        "email_username": inbox.email_username or "",
        "email_username_enabled": inbox.email_username_enabled,
        "sent_messages_count": count,
        "forwarded_messages_count": 0,
        "used": count > 0,
        "forward_from_email_address": "",
        "project_id": inbox.project_id,
        "domain": smtp_host,
        "pop3_domain": "",
        "email_domain": smtp_host,
        "api_domain": api_host,
        "emails_count": count,
        "emails_unread_count": stats.unread if stats else 0,
        "last_message_sent_at": iso(stats.last_message_at) if stats else None,
        "smtp_ports": [smtp_port],
        "pop3_ports": [],
        "max_message_size": max_message_size,
        "permissions": PERMISSIONS,
    }


# Messages ---------------------------------------------------------------------------------


def _first_address(header: str | None) -> tuple[str, str]:
    if not header:
        return "", ""
    pairs = [p for p in getaddresses([header]) if p[1]]
    return pairs[0] if pairs else ("", "")


def message_json(
    row: Message,
    body_sizes: tuple[int, int],
    report: Report | None,
    base_path: str,
    *,
    blacklist_enabled: bool,
) -> dict[str, Any]:
    """A Mailtrap message object. ``base_path`` is ``…/messages/{id}`` as the client asked;
    ``body_sizes`` are the HTML and text sizes in bytes."""
    from_name, from_email = _first_address(row.from_header)
    to_name, to_email = _first_address(row.to_header)
    if not to_email and row.rcpt_to:
        to_email = row.rcpt_to[0]
    created = iso(row.created_at)
    return {
        "id": row.id,
        "inbox_id": row.inbox_id,
        "subject": row.subject or "",
        "sent_at": created,
        "from_email": from_email or row.from_address or row.mail_from or "",
        "from_name": from_name,
        "to_email": to_email,
        "to_name": to_name,
        "email_size": row.size,
        "is_read": row.is_read,
        "created_at": created,
        "updated_at": created,
        "html_body_size": body_sizes[0],
        "text_body_size": body_sizes[1],
        "human_size": human_size(row.size),
        "html_path": f"{base_path}/body.html",
        "txt_path": f"{base_path}/body.txt",
        "raw_path": f"{base_path}/body.raw",
        "download_path": f"{base_path}/body.eml",
        "html_source_path": f"{base_path}/body.htmlsource",
        "blacklists_report_info": blacklists_report_info(report, row, enabled=blacklist_enabled),
        "smtp_information": {
            "ok": True,
            "data": {"mail_from_addr": row.mail_from or "", "client_ip": row.client_ip or ""},
        },
    }


def mail_headers(parsed: ParsedMessage, rcpt_to: Iterable[str]) -> dict[str, Any]:
    """Headers by lower-cased name (repeated ones as a list), plus ``bcc``: the envelope
    recipients found in neither To nor Cc, as Mailtrap shows them."""
    out: dict[str, Any] = {}
    for name, value in parsed.headers:
        key = name.lower()
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    visible = {a.lower() for a in (*parsed.to, *parsed.cc)}
    bcc = [r for r in rcpt_to if r.lower() not in visible]
    if bcc and "bcc" not in out:
        out["bcc"] = ", ".join(bcc)
    return out


def attachment_json(a: Attachment, base_path: str, created_at: datetime) -> dict[str, Any]:
    """A Mailtrap attachment object. ``base_path`` is ``…/messages/{id}``."""
    inline = a.disposition == "inline" or (a.disposition is None and a.content_id is not None)
    return {
        "id": a.id,
        "message_id": a.message_id,
        "filename": a.filename or f"attachment-{a.index}",
        "attachment_type": "inline" if inline else "attachment",
        "content_type": a.content_type,
        "content_id": a.content_id,
        "transfer_encoding": a.transfer_encoding,
        "attachment_size": a.size,
        "attachment_human_size": human_size(a.size),
        "created_at": iso(created_at),
        "updated_at": iso(created_at),
        "download_path": f"{base_path}/attachments/{a.id}/download",
    }


# Report sections --------------------------------------------------------------------------


def spam_report(report: Report) -> dict[str, Any]:
    """The value of ``report`` in Mailtrap's ``spam_report`` response."""
    result = report.checks.get("spam") or CheckResult.skipped("spam", "spam check not enabled")
    return mailtrap_spam_report(result)


def _client_groups(data: dict[str, Any]) -> dict[str, list[str]]:
    groups: dict[str, set[str]] = {"desktop": set(), "mobile": set(), "web": set()}
    for key in CLIENT_KEYS:
        value = data.get(key)
        if isinstance(value, dict):
            for group in groups:
                items = value.get(group)
                if isinstance(items, list):
                    groups[group].update(str(i) for i in items)
            if any(groups.values()):
                break
        elif isinstance(value, list):
            for item in value:
                found, name = _classify_client(item)
                if found:
                    groups[found].add(name)
            if any(groups.values()):
                break
    return {group: sorted(names) for group, names in groups.items()}


def _classify_client(item: Any) -> tuple[str | None, str]:
    """(group, display name) of one client entry: a dict with platform/family/name, or a
    ``family.platform`` / ``family platform`` string."""
    if isinstance(item, dict):
        if item.get("support") == "u":  # unknown support is not an error
            return None, ""
        client_id = str(item.get("client") or "")
        platform = str(item.get("platform") or client_id.partition(".")[2]).lower()
        family = str(item.get("family") or client_id.partition(".")[0])
        name = str(item.get("name") or item.get("title") or f"{family} {platform}".strip())
        category = str(item.get("category") or "").lower()
        if category in ("desktop", "mobile", "web"):
            return category, name
    elif isinstance(item, str):
        family, _, platform = item.replace(".", " ").rpartition(" ")
        platform = platform.lower()
        name = item
    else:
        return None, ""
    group = PLATFORM_GROUP.get(platform)
    if group is None and platform in {"desktop", "mobile", "web"}:
        group = platform
    return group, name


def _finding_lines(f: Finding) -> list[int]:
    lines = sorted({loc.line for loc in f.locations if loc.line is not None and loc.line > 0})
    return lines or [0]


def html_analysis(report: Report) -> dict[str, Any]:
    """The value of ``report`` in Mailtrap's ``analyze`` response.

    One error per (finding, HTML line); ``error_line`` 0 means the finding has no line.
    """
    result = report.checks.get("html")
    if result is None:
        return {"status": "error", "msg": "the HTML check is not enabled on this server"}
    if result.status in (Status.ERRORED, Status.SKIPPED):
        return {"status": "error", "msg": result.error or result.summary or result.status.value}
    errors: list[dict[str, Any]] = []
    for finding in result.findings:
        if finding.severity == Severity.INFO:
            continue
        clients = _client_groups(finding.data)
        for line in _finding_lines(finding):
            errors.append(
                {
                    "error_line": line,
                    "rule_name": finding.title or finding.rule,
                    "email_clients": clients,
                }
            )
    errors.sort(key=lambda e: (e["error_line"], e["rule_name"]))
    return {"status": "success", "errors": errors}


def blacklists_report_info(
    report: Report | None, row: Message, *, enabled: bool
) -> dict[str, Any] | bool:
    """Mailtrap's ``blacklists_report_info``: ``false`` when no blacklist check runs here,
    ``pending`` until the report exists, then the check's lists."""
    domain = (row.from_address or row.mail_from or "").rpartition("@")[2]
    ip = row.client_ip or ""
    if not enabled and (report is None or "blacklist" not in report.checks):
        return False
    if report is None:
        return {"result": "pending", "domain": domain, "ip": ip, "report": []}
    result = report.checks.get("blacklist")
    if result is None or result.status == Status.SKIPPED:
        return False  # no blacklist report for this message (check off, or offline)
    shaped = blacklist_section(result)
    shaped["domain"] = shaped.get("domain") or domain  # Mailtrap's clients want strings
    shaped["ip"] = shaped.get("ip") or ip
    return shaped
