"""The sandbox contract (``/pro/api/sandbox``), implemented as written.

The token's sandbox is its default inbox, created on its first SMTP delivery (username
``any``, the token as password). Errors answer ``{"error": code, "message": text}`` with the
contract's codes.
"""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from mailqa.api.deps import PrincipalDep, ServiceDep
from mailqa.api.errors import ApiError
from mailqa.api.routes.native import attachment_response, smtp_address
from mailqa.core.errors import NotFound
from mailqa.core.message import parse_stored
from mailqa.service import Service, envelope_of
from mailqa.store.models import ApiToken, Inbox, Message


class ErrorBody(BaseModel):
    error: str = Field(description="Machine-readable code, e.g. email_not_found.")
    message: str


def _errors(*codes: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorBody, "description": "invalid_or_expired_token"}
    }
    for status, code in codes:
        listed = out.get(status, {}).get("description")
        out[status] = {"model": ErrorBody, "description": f"{listed}, {code}" if listed else code}
    return out


class SandboxStatus(BaseModel):
    enabled: bool = Field(description="True once the sandbox exists (first SMTP delivery).")
    account_id: str
    address: str
    smtp_host: str
    smtp_port: int
    auth_method: str
    username: str
    note: str
    quota: int = Field(description="Storage limit in bytes.")
    used: int = Field(description="Current usage in bytes.")


class SandboxSummary(BaseModel):
    id: str
    sender: str = Field(description="The envelope sender (MAIL FROM), else the From address.")
    from_: str = Field(alias="from")
    subject: str
    preview_text: str
    size: int
    created_at: str = Field(description="UTC, e.g. 2025-03-15T10:30:00Z.")


class SandboxList(BaseModel):
    messages: list[SandboxSummary]
    page: int


class SandboxAttachment(BaseModel):
    index: int
    filename: str
    size: int
    content_type: str


class SandboxMessage(SandboxSummary):
    address: str = Field(description="The first recipient.")
    text_body: str
    html_body: str = Field(description="Empty when the message has no HTML part.")
    attachments: list[SandboxAttachment]


class Deleted(BaseModel):
    deleted: bool


class Purged(BaseModel):
    deleted: int = Field(description="How many emails were deleted.")


router = APIRouter(prefix="/pro/api/sandbox", tags=["sandbox"])

PER_PAGE = 30
MAX_ID = 2**31 - 1  # ids are 32-bit integers on every backend


def iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def sandbox_of(service: Service, token: ApiToken) -> Inbox:
    inbox = await service.store.sandbox_inbox(
        token, create=False, quota_bytes=service.settings.inbox_quota_bytes
    )
    if inbox is None:
        raise ApiError(
            404, "sandbox_not_found", "No sandbox account exists yet (send an email first)"
        )
    return inbox


async def sandbox_message(service: Service, inbox: Inbox, message_id: str) -> Message:
    row = None
    if re.fullmatch(r"[0-9]{1,10}", message_id) and int(message_id) <= MAX_ID:
        with suppress(NotFound):
            row = await service.get_message(int(message_id))
    if row is None or row.inbox_id != inbox.id:
        raise ApiError(404, "email_not_found", "Email ID does not exist or has expired")
    return row


def summary(m: Message) -> dict[str, Any]:
    return {
        "id": str(m.id),
        "sender": m.mail_from or m.from_address or "",
        "from": m.from_header or "",
        "subject": m.subject or "",
        "preview_text": m.preview_text,
        "size": m.size,
        "created_at": iso(m.created_at),
    }


@router.get("", response_model=SandboxStatus, responses=_errors())
async def status(request: Request, service: ServiceDep, principal: PrincipalDep) -> dict[str, Any]:
    """SMTP credentials and usage of the token's sandbox."""
    token = principal.token
    inbox = await service.store.sandbox_inbox(
        token, create=False, quota_bytes=service.settings.inbox_quota_bytes
    )
    host, port = smtp_address(request, service)
    return {
        "enabled": inbox is not None,
        "account_id": str(token.id),
        "address": f"sandbox-{token.prefix.removeprefix('mq_')}@{host}",
        "smtp_host": host,
        "smtp_port": port,
        "auth_method": "PLAIN",
        "username": "any",
        "note": "Use any API token as the SMTP password",
        "quota": inbox.quota_bytes if inbox else service.settings.inbox_quota_bytes,
        "used": inbox.used_bytes if inbox else 0,
    }


@router.get("/messages", response_model=SandboxList, responses=_errors((404, "sandbox_not_found")))
async def list_messages(
    service: ServiceDep,
    principal: PrincipalDep,
    page: Annotated[int, Query(ge=1, le=MAX_ID // PER_PAGE)] = 1,
) -> dict[str, Any]:
    """Emails in the sandbox, newest first, 30 per page."""
    inbox = await sandbox_of(service, principal.token)
    rows, _ = await service.store.list_messages(
        inbox.id, offset=(page - 1) * PER_PAGE, limit=PER_PAGE
    )
    return {"messages": [summary(m) for m in rows], "page": page}


@router.get(
    "/messages/{message_id}",
    response_model=SandboxMessage,
    responses=_errors((404, "sandbox_not_found"), (404, "email_not_found"), (410, "email_expired")),
)
async def get_message(
    message_id: str, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    inbox = await sandbox_of(service, principal.token)
    row = await sandbox_message(service, inbox, message_id)
    raw = await _raw(service, row)
    parsed = await parse_stored(raw, envelope_of(row))
    recipients = list(row.rcpt_to or []) or list(parsed.to)
    return {
        **summary(row),
        "address": recipients[0] if recipients else "",
        "text_body": parsed.text or "",
        "html_body": parsed.html or "",
        "attachments": [
            {
                "index": a.index,
                "filename": a.filename or f"attachment-{a.index}",
                "size": a.size,
                "content_type": a.content_type,
            }
            for a in parsed.attachments
        ],
    }


async def _raw(service: Service, row: Message) -> bytes:
    try:
        return await service.store.get_raw(row.id)
    except NotFound as exc:
        raise ApiError(410, "email_expired", "Email source file has been cleaned up") from exc


@router.get(
    "/messages/{message_id}/source",
    response_class=Response,
    responses=_errors((404, "sandbox_not_found"), (404, "email_not_found"), (410, "email_expired")),
)
async def source(message_id: str, service: ServiceDep, principal: PrincipalDep) -> Response:
    inbox = await sandbox_of(service, principal.token)
    row = await sandbox_message(service, inbox, message_id)
    return Response(
        await _raw(service, row),
        media_type="message/rfc822",
        headers={"Content-Disposition": 'attachment; filename="message.eml"'},
    )


@router.get(
    "/messages/{message_id}/attachments/{index}",
    response_class=Response,
    responses=_errors(
        (404, "sandbox_not_found"),
        (404, "email_not_found"),
        (404, "attachment_not_found"),
        (410, "email_expired"),
    ),
)
async def attachment(
    message_id: str, index: str, service: ServiceDep, principal: PrincipalDep
) -> Response:
    inbox = await sandbox_of(service, principal.token)
    row = await sandbox_message(service, inbox, message_id)
    raw = await _raw(service, row)
    response = None
    if re.fullmatch(r"[0-9]{1,9}", index):
        response = await attachment_response(row, raw, int(index))
    if response is None:
        raise ApiError(404, "attachment_not_found", "Invalid attachment index")
    return response


@router.delete(
    "/messages/{message_id}",
    response_model=Deleted,
    responses=_errors((404, "sandbox_not_found"), (404, "email_not_found")),
)
async def delete_message(
    message_id: str, service: ServiceDep, principal: PrincipalDep
) -> dict[str, bool]:
    inbox = await sandbox_of(service, principal.token)
    row = await sandbox_message(service, inbox, message_id)
    await service.store.delete_message(row.id)
    return {"deleted": True}


@router.delete("/messages", response_model=Purged, responses=_errors((404, "sandbox_not_found")))
async def purge(service: ServiceDep, principal: PrincipalDep) -> dict[str, int]:
    inbox = await sandbox_of(service, principal.token)
    return {"deleted": await service.store.purge_inbox(inbox.id)}
