"""Audits of stored inboxes: start one, follow it, read its results, delete it.

An audit is visible to whoever may see its inbox. ``audits`` is the server's
``AuditManager``, which runs them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from mailqa.audit.record import AuditRecord, default_audit_checks
from mailqa.audit.stored import AuditManager
from mailqa.auth import Principal
from mailqa.core.errors import ConfigError
from mailqa.store.messages import MessageFilter
from mailqa.store.models import Audit
from mailqa.usecases.inboxes import get_inbox, list_inboxes


@dataclass(frozen=True)
class AuditProgress:
    """An audit, how many messages it has done, and its summary when asked for."""

    audit: Audit
    done: int
    summary: dict[str, Any] | None = None


async def start_audit(
    audits: AuditManager,
    principal: Principal,
    inbox_id: int,
    checks: list[str] | None,
    *,
    online: bool,
    filters: MessageFilter,
) -> Audit:
    """Queue an audit of the inbox's matching messages (default checks: the offline ones)."""
    await get_inbox(audits.service, principal, inbox_id)
    names = checks or default_audit_checks()
    if not names:
        raise ConfigError("no checks to run")
    return await audits.start(inbox_id, names, online=online, filters=filters)


async def list_audits(audits: AuditManager, principal: Principal) -> list[AuditProgress]:
    """The audits of the inboxes the principal may see, newest first."""
    visible = None
    if not principal.is_admin:
        visible = [i.id for i in await list_inboxes(audits.service, principal)]
    rows = await audits.audits.list_audits(visible)
    return [AuditProgress(a, (await audits.progress(a.id))[1]) for a in rows]


async def get_audit(
    audits: AuditManager, principal: Principal, audit_id: int, *, with_summary: bool = False
) -> AuditProgress:
    audit, done = await audits.progress(audit_id)
    await get_inbox(audits.service, principal, audit.inbox_id)
    summary = await audits.summary(audit, done) if with_summary else None
    return AuditProgress(audit, done, summary)


async def delete_audit(audits: AuditManager, principal: Principal, audit_id: int) -> None:
    """Delete the audit and its results (a running one is stopped first; ``AuditBusy`` while
    Celery workers still run it)."""
    await get_audit(audits, principal, audit_id)
    await audits.delete(audit_id)


async def audit_results(
    audits: AuditManager,
    principal: Principal,
    audit_id: int,
    *,
    offset: int,
    limit: int,
    status: str | None = None,
) -> tuple[list[AuditRecord], int]:
    """A page of the audit's per-message records and how many there are."""
    await get_audit(audits, principal, audit_id)
    return await audits.audits.results_page(audit_id, offset=offset, limit=limit, status=status)


async def all_results(
    audits: AuditManager, audit_id: int, batch: int = 500
) -> AsyncIterator[list[AuditRecord]]:
    """Every record of an audit already read through ``get_audit``, a batch at a time:
    memory stays flat whatever the audit."""
    after = 0
    while rows := await audits.audits.results_after(audit_id, after, batch):
        yield [record for _, record in rows]
        after = rows[-1][0]
