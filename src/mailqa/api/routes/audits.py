"""Audits of stored inboxes: start one, follow its progress, read and export its results."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from mailqa.api.deps import PrincipalDep, ServiceDep
from mailqa.api.errors import ApiError
from mailqa.api.validation import UtcDatetime, without_surrogates
from mailqa.audit.html import content_security_policy, render_html
from mailqa.audit.record import AuditRecord
from mailqa.audit.stored import AuditBusy, AuditManager
from mailqa.audit.summary import CSV_COLUMNS, csv_row
from mailqa.service import Service
from mailqa.store.messages import MessageFilter
from mailqa.store.models import Audit
from mailqa.usecases import audits as audit_cases


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Resume the audits a previous server left unfinished; on shutdown, leave the running
    ones as they are, for the next start to resume."""
    service: Service = app.state.service
    audits = AuditManager(service)
    app.state.audits = audits
    await audits.resume_interrupted()
    try:
        yield
    finally:
        await audits.close()


router = APIRouter(prefix="/api/v1", tags=["audits"], lifespan=lifespan)


class AuditIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    inbox_id: int
    since: UtcDatetime | None = Field(default=None, description="Messages received since.")
    until: UtcDatetime | None = Field(default=None, description="Messages received until.")
    subject: str | None = Field(default=None, description="Subject contains (any case).")
    from_: str | None = Field(
        default=None, alias="from", description="From header or MAIL FROM contains."
    )
    to: str | None = Field(default=None, description="To or Cc contains.")
    checks: list[str] | None = Field(
        default=None, description="Checks to run; default the offline ones."
    )
    online: bool = Field(default=False, description="Let network checks reach the network.")


class AuditOut(BaseModel):
    id: int
    inbox_id: int
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    checks: list[str]
    online: bool
    filters: dict[str, Any]
    total: int | None
    done: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    summary: dict[str, Any] | None = Field(
        default=None, description="Aggregated results so far (see docs/audits.md)."
    )


class AuditMessages(BaseModel):
    messages: list[AuditRecord]
    total: int
    page: int
    per_page: int


def manager(request: Request, service: Service) -> AuditManager:
    current: AuditManager | None = getattr(request.app.state, "audits", None)
    if current is None or current.service is not service:
        current = AuditManager(service)
        request.app.state.audits = current
    return current


def audit_out(audit: Audit, done: int, summary: dict[str, Any] | None) -> AuditOut:
    return AuditOut(
        id=audit.id,
        inbox_id=audit.inbox_id,
        status=audit.status,
        checks=list(audit.checks),
        online=audit.online,
        # Filters stored before lone surrogates were refused must not break every listing.
        filters=without_surrogates(dict(audit.filters or {})),
        total=audit.total,
        done=done,
        error=without_surrogates(audit.error),
        created_at=audit.created_at,
        finished_at=audit.finished_at,
        summary=summary,
    )


@router.post("/audits", response_model=AuditOut, status_code=202)
async def start_audit(
    body: AuditIn, request: Request, service: ServiceDep, principal: PrincipalDep
) -> AuditOut:
    filters = MessageFilter(
        subject=body.subject, from_=body.from_, to=body.to, since=body.since, until=body.until
    )
    audit = await audit_cases.start_audit(
        manager(request, service),
        principal,
        body.inbox_id,
        body.checks,
        online=body.online,
        filters=filters,
    )
    return audit_out(audit, 0, None)


@router.get("/audits", response_model=list[AuditOut])
async def list_audits(
    request: Request, service: ServiceDep, principal: PrincipalDep
) -> list[AuditOut]:
    rows = await audit_cases.list_audits(manager(request, service), principal)
    return [audit_out(p.audit, p.done, None) for p in rows]


@router.get("/audits/{audit_id}", response_model=AuditOut)
async def get_audit(
    audit_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> AuditOut:
    found = await audit_cases.get_audit(
        manager(request, service), principal, audit_id, with_summary=True
    )
    return audit_out(found.audit, found.done, found.summary)


@router.delete("/audits/{audit_id}", status_code=204, responses={409: {"description": "busy"}})
async def delete_audit(
    audit_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> Response:
    """Delete the audit and its results (a running one is stopped first; one on Celery
    workers can be deleted once it has finished)."""
    try:
        await audit_cases.delete_audit(manager(request, service), principal, audit_id)
    except AuditBusy as exc:
        raise ApiError(409, "audit_busy", str(exc)) from exc
    return Response(status_code=204)


@router.get("/audits/{audit_id}/messages", response_model=AuditMessages)
async def audit_messages(
    audit_id: int,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 100,
    status: Annotated[str | None, Query(description="Only messages with this status.")] = None,
) -> AuditMessages:
    records, total = await audit_cases.audit_results(
        manager(request, service),
        principal,
        audit_id,
        offset=(page - 1) * per_page,
        limit=per_page,
        status=status,
    )
    return AuditMessages(messages=records, total=total, page=page, per_page=per_page)


@router.get(
    "/audits/{audit_id}/export",
    responses={200: {"content": {"text/csv": {}, "text/html": {}, "application/json": {}}}},
)
async def export_audit(
    audit_id: int,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
    format: Annotated[Literal["csv", "json", "html"], Query()] = "json",
) -> Response:
    audits = manager(request, service)
    found = await audit_cases.get_audit(audits, principal, audit_id, with_summary=format != "csv")
    audit, done, summary = found.audit, found.done, found.summary
    filename = f"mailqa-audit-{audit_id}"
    if format == "csv":
        return StreamingResponse(
            csv_chunks(audits, audit_id),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    assert summary is not None
    if format == "html":
        title = f"Mail audit {audit_id}: inbox {audit.inbox_id}"
        # Its own CSP: the /api/ one allows no style at all, and the report has one.
        csp = {"Content-Security-Policy": content_security_policy()}
        return HTMLResponse(render_html(summary, title), headers=csp)
    body = audit_out(audit, done, summary).model_dump(mode="json")
    return JSONResponse(
        body, headers={"Content-Disposition": f'attachment; filename="{filename}.json"'}
    )


async def csv_chunks(audits: AuditManager, audit_id: int, batch: int = 500) -> AsyncIterator[str]:
    """The CSV export a page of records at a time: memory stays flat whatever the audit."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    async for records in audit_cases.all_results(audits, audit_id, batch):
        writer.writerows(csv_row(record) for record in records)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
