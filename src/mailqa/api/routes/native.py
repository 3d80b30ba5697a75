"""The native v1 API: projects, inboxes, messages, reports, tokens."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse

from mailqa.api.deps import AdminDep, PrincipalDep, ServiceDep
from mailqa.api.errors import ApiError
from mailqa.api.responses import attachment_download, smtp_address
from mailqa.api.schemas import (
    AttachmentOut,
    Captured,
    Count,
    ExtractionOut,
    InboxIn,
    InboxOut,
    InboxPatch,
    LatestMessageOut,
    MessageDetail,
    MessageOut,
    MessagePage,
    MessagePatch,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    SmtpCredentials,
    TokenIn,
    TokenOut,
)
from mailqa.api.validation import UtcDatetime
from mailqa.auth import Principal
from mailqa.core.message import Envelope
from mailqa.core.report import CheckResult, Report, report_json_schema
from mailqa.service import Service
from mailqa.store.inboxes import InboxStats
from mailqa.store.messages import MessageFilter
from mailqa.store.models import Inbox
from mailqa.usecases import inboxes, messages, projects, tokens

router = APIRouter(prefix="/api/v1")

MAX_PER_PAGE = 200


def inbox_out(
    request: Request, service: Service, inbox: Inbox, stats: InboxStats | None
) -> InboxOut:
    """The inbox as the API shows it; ``stats`` None: it has no mail."""
    host, port = smtp_address(request, service)
    return InboxOut(
        id=inbox.id,
        project_id=inbox.project_id,
        name=inbox.name,
        quota_bytes=inbox.quota_bytes,
        used_bytes=inbox.used_bytes,
        message_count=stats.messages if stats else 0,
        unread_count=stats.unread if stats else 0,
        max_messages=inbox.max_messages,
        max_age_days=inbox.max_age_days,
        created_at=inbox.created_at,
        smtp=SmtpCredentials(
            host=host, port=port, username=inbox.smtp_username, password=inbox.smtp_password
        ),
    )


async def inboxes_out(
    request: Request, service: Service, principal: Principal, shown: Sequence[Inbox]
) -> list[InboxOut]:
    """The inboxes with their message counts, from one grouped query."""
    stats = await inboxes.inbox_stats(service, principal, shown)
    return [inbox_out(request, service, i, stats.get(i.id)) for i in shown]


# Projects ---------------------------------------------------------------------------------


@router.get("/projects", response_model=list[ProjectOut], tags=["projects"])
async def list_projects(service: ServiceDep, principal: PrincipalDep) -> list[ProjectOut]:
    return [ProjectOut.of(p) for p in await projects.list_projects(service, principal)]


@router.post("/projects", response_model=ProjectOut, status_code=201, tags=["projects"])
async def create_project(body: ProjectIn, service: ServiceDep, principal: AdminDep) -> ProjectOut:
    project = await projects.create_project(
        service,
        principal,
        body.name,
        max_inboxes=body.max_inboxes,
        max_inbox_quota_bytes=body.max_inbox_quota_bytes,
    )
    return ProjectOut.of(project)


@router.get("/projects/{project_id}", response_model=ProjectOut, tags=["projects"])
async def get_project(project_id: int, service: ServiceDep, principal: PrincipalDep) -> ProjectOut:
    return ProjectOut.of(await projects.get_project(service, principal, project_id))


@router.patch("/projects/{project_id}", response_model=ProjectOut, tags=["projects"])
async def update_project(
    project_id: int, body: ProjectPatch, service: ServiceDep, principal: PrincipalDep
) -> ProjectOut:
    """Rename the project; admin tokens also set its limits (``null``: the global ones)."""
    fields = body.model_dump(exclude_unset=True)
    return ProjectOut.of(await projects.update_project(service, principal, project_id, **fields))


@router.delete("/projects/{project_id}", status_code=204, tags=["projects"])
async def delete_project(project_id: int, service: ServiceDep, principal: AdminDep) -> Response:
    await projects.delete_project(service, principal, project_id)
    return Response(status_code=204)


# Inboxes ----------------------------------------------------------------------------------


@router.get("/inboxes", response_model=list[InboxOut], tags=["inboxes"])
async def list_inboxes(
    request: Request, service: ServiceDep, principal: PrincipalDep, project_id: int | None = None
) -> list[InboxOut]:
    rows = await inboxes.list_inboxes(service, principal, project_id)
    return await inboxes_out(request, service, principal, rows)


@router.post(
    "/projects/{project_id}/inboxes", response_model=InboxOut, status_code=201, tags=["inboxes"]
)
async def create_inbox(
    project_id: int, body: InboxIn, request: Request, service: ServiceDep, principal: PrincipalDep
) -> InboxOut:
    inbox = await inboxes.create_inbox(
        service,
        principal,
        project_id,
        body.name,
        quota_bytes=body.quota_bytes,
        max_messages=body.max_messages,
        max_age_days=body.max_age_days,
    )
    return inbox_out(request, service, inbox, None)


@router.get("/inboxes/{inbox_id}", response_model=InboxOut, tags=["inboxes"])
async def get_inbox(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> InboxOut:
    inbox = await inboxes.get_inbox(service, principal, inbox_id)
    return (await inboxes_out(request, service, principal, [inbox]))[0]


@router.patch("/inboxes/{inbox_id}", response_model=InboxOut, tags=["inboxes"])
async def update_inbox(
    inbox_id: int, body: InboxPatch, request: Request, service: ServiceDep, principal: PrincipalDep
) -> InboxOut:
    fields = body.model_dump(exclude_unset=True)
    inbox = await inboxes.update_inbox(service, principal, inbox_id, **fields)
    return (await inboxes_out(request, service, principal, [inbox]))[0]


@router.delete("/inboxes/{inbox_id}", status_code=204, tags=["inboxes"])
async def delete_inbox(inbox_id: int, service: ServiceDep, principal: PrincipalDep) -> Response:
    await inboxes.delete_inbox(service, principal, inbox_id)
    return Response(status_code=204)


@router.post("/inboxes/{inbox_id}/reset_credentials", response_model=InboxOut, tags=["inboxes"])
async def reset_credentials(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> InboxOut:
    inbox = await inboxes.reset_credentials(service, principal, inbox_id)
    return (await inboxes_out(request, service, principal, [inbox]))[0]


@router.post("/inboxes/{inbox_id}/clean", response_model=Count, tags=["inboxes"])
async def clean_inbox(inbox_id: int, service: ServiceDep, principal: PrincipalDep) -> Count:
    """Delete every message of the inbox; its quota is free again at once."""
    return Count(count=await inboxes.purge_inbox(service, principal, inbox_id))


@router.post("/inboxes/{inbox_id}/all_read", response_model=Count, tags=["inboxes"])
async def mark_all_read(inbox_id: int, service: ServiceDep, principal: PrincipalDep) -> Count:
    return Count(count=await inboxes.mark_all_read(service, principal, inbox_id))


# Messages ---------------------------------------------------------------------------------


@router.post(
    "/inboxes/{inbox_id}/messages",
    response_model=Captured,
    status_code=201,
    tags=["messages"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_message(
    inbox_id: int,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
    client_ip: Annotated[str | None, Query(description="Analyse as if sent from this IP")] = None,
    mail_from: Annotated[str | None, Query(description="SMTP MAIL FROM")] = None,
    helo: Annotated[str | None, Query(description="SMTP HELO/EHLO name")] = None,
    rcpt_to: Annotated[list[str] | None, Query(description="SMTP RCPT TO (repeatable)")] = None,
) -> Captured:
    """Store a raw RFC 5322 message and analyse it like captured mail."""
    await inboxes.get_inbox(service, principal, inbox_id)  # before reading the body
    raw = await request.body()
    limit = service.settings.smtp_max_message_size
    if len(raw) > limit:
        raise ApiError(413, "message_too_large", f"message is {len(raw)} bytes; limit {limit}")
    if client_ip:
        try:
            ipaddress.ip_address(client_ip)
        except ValueError as exc:
            raise ApiError(422, "invalid_client_ip", f"not an IP address: {client_ip}") from exc
    env = Envelope(
        mail_from=mail_from, rcpt_to=tuple(rcpt_to or ()), client_ip=client_ip, helo=helo
    )
    message_id = await messages.capture(service, principal, inbox_id, raw, env, source="http")
    return Captured(id=message_id, inbox_id=inbox_id, size=len(raw))


def _filters(
    subject: str | None,
    from_: str | None,
    to: str | None,
    since: UtcDatetime | None,
    until: UtcDatetime | None,
    search: str | None,
) -> MessageFilter:
    return MessageFilter(
        subject=subject, from_=from_, to=to, since=since, until=until, search=search
    )


@router.get("/inboxes/{inbox_id}/messages", response_model=MessagePage, tags=["messages"])
async def list_messages(
    inbox_id: int,
    service: ServiceDep,
    principal: PrincipalDep,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 30,
    subject: str | None = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    since: UtcDatetime | None = None,
    until: UtcDatetime | None = None,
    search: str | None = None,
) -> MessagePage:
    """Messages, newest first, filtered by substring of subject/from/to and by date."""
    rows, total = await messages.list_messages(
        service,
        principal,
        inbox_id,
        offset=(page - 1) * per_page,
        limit=per_page,
        filters=_filters(subject, from_, to, since, until, search),
    )
    return MessagePage(
        messages=[MessageOut.of(m) for m in rows], page=page, per_page=per_page, total=total
    )


@router.get(
    "/inboxes/{inbox_id}/messages/latest",
    response_model=LatestMessageOut,
    response_model_by_alias=True,
    tags=["messages"],
    responses={404: {"description": "No matching message arrived in time"}},
)
async def latest_message(
    inbox_id: int,
    service: ServiceDep,
    principal: PrincipalDep,
    wait: Annotated[float, Query(ge=0, le=300, description="Seconds to wait for mail")] = 0,
    analyzed: Annotated[bool, Query(description="Also wait for the report")] = False,
    extract: Annotated[
        bool,
        Query(description="Also answer the message's one-time codes and classified links"),
    ] = False,
    subject: str | None = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    since: UtcDatetime | None = None,
) -> LatestMessageOut:
    """The newest matching message; long-polls up to ``wait`` seconds until one exists.
    With ``extract=true`` the answer carries what ``GET /messages/{id}/extract`` answers, so
    a test waits for its sign-up mail and reads the code or the link in one request."""
    row = await messages.latest_message(
        service,
        principal,
        inbox_id,
        _filters(subject, from_, to, since, None, None),
        wait=wait,
        analyzed=analyzed,
    )
    if row is None:
        raise ApiError(404, "not_found", "no matching message arrived in time")
    found = await messages.extraction(service, row) if extract else None
    return LatestMessageOut(**MessageOut.of(row).model_dump(), extract=found)


@router.delete("/inboxes/{inbox_id}/messages", response_model=Count, tags=["messages"])
async def purge_messages(inbox_id: int, service: ServiceDep, principal: PrincipalDep) -> Count:
    return Count(count=await inboxes.purge_inbox(service, principal, inbox_id))


@router.get("/messages/{message_id}", response_model=MessageDetail, tags=["messages"])
async def get_message(
    message_id: int, service: ServiceDep, principal: PrincipalDep
) -> MessageDetail:
    row, parsed, attachments = await messages.message_detail(service, principal, message_id)
    return MessageDetail.build(row, parsed, list(attachments))


@router.patch("/messages/{message_id}", response_model=MessageOut, tags=["messages"])
async def patch_message(
    message_id: int, body: MessagePatch, service: ServiceDep, principal: PrincipalDep
) -> MessageOut:
    return MessageOut.of(await messages.set_read(service, principal, message_id, body.is_read))


@router.delete("/messages/{message_id}", status_code=204, tags=["messages"])
async def delete_message(message_id: int, service: ServiceDep, principal: PrincipalDep) -> Response:
    await messages.delete_message(service, principal, message_id)
    return Response(status_code=204)


@router.get(
    "/messages/{message_id}/extract",
    response_model=ExtractionOut,
    tags=["messages"],
    summary="One-time codes and classified links of a message",
    responses={
        404: {"description": "No such message, or not in an inbox the token may see"},
        410: {"description": "Retention dropped the raw source"},
    },
)
async def extract_message(
    message_id: int, service: ServiceDep, principal: PrincipalDep
) -> ExtractionOut:
    """What a test suite reads out of a transactional mail: one-time codes (4-8 digits or
    mixed tokens next to a word such as code, verification, OTP, PIN or passcode, in several
    languages; prices, dates, phone and order numbers are not codes) and every link,
    classified as ``verify``, ``password_reset``, ``magic_link``, ``unsubscribe`` or
    ``other``, each with where it was found (part, line, column). ``code`` is the likeliest
    code and ``first`` the first link of each kind."""
    found = await messages.extract(service, principal, message_id)
    return ExtractionOut(message_id=message_id, **found.model_dump())


@router.get(
    "/messages/{message_id}/raw",
    tags=["messages"],
    response_class=Response,
    responses={200: {"content": {"message/rfc822": {}}}},
)
async def raw_message(message_id: int, service: ServiceDep, principal: PrincipalDep) -> Response:
    """The message exactly as received."""
    row = await messages.get_message(service, principal, message_id)
    return Response(
        await messages.raw_source(service, row),
        media_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="message-{message_id}.eml"'},
    )


@router.get(
    "/messages/{message_id}/attachments", response_model=list[AttachmentOut], tags=["messages"]
)
async def list_attachments(
    message_id: int, service: ServiceDep, principal: PrincipalDep
) -> list[AttachmentOut]:
    row = await messages.get_message(service, principal, message_id)
    return [AttachmentOut.of(a) for a in await messages.attachments(service, row)]


@router.get(
    "/messages/{message_id}/attachments/{index}", tags=["messages"], response_class=Response
)
async def download_attachment(
    message_id: int, index: int, service: ServiceDep, principal: PrincipalDep
) -> Response:
    row = await messages.get_message(service, principal, message_id)
    part = await messages.attachment_at(row, await messages.raw_source(service, row), index)
    if part is None:
        raise ApiError(
            404, "attachment_not_found", f"message {message_id} has no attachment {index}"
        )
    return attachment_download(part, f"attachment-{index}")


# Reports ----------------------------------------------------------------------------------


@router.get(
    "/messages/{message_id}/report",
    response_model=Report,
    response_model_by_alias=True,
    tags=["reports"],
    responses={202: {"description": "Analysis still running"}},
)
async def get_report(
    message_id: int,
    request: Request,
    response: Response,
    service: ServiceDep,
    principal: PrincipalDep,
) -> Any:
    """The report; its ``Link`` header names the message's render previews."""
    report = await messages.report(service, principal, message_id)
    link = f'<{request.url_for("list_renders", message_id=message_id).path}>; rel="renders"'
    if report is None:
        return JSONResponse(
            {"status": "pending", "message": "analysis has not finished yet"},
            status_code=202,
            headers={"Link": link},
        )
    response.headers["Link"] = link
    return report


@router.get("/messages/{message_id}/report/{check}", response_model=CheckResult, tags=["reports"])
async def get_report_section(
    message_id: int, check: str, service: ServiceDep, principal: PrincipalDep
) -> Any:
    report = await messages.report(service, principal, message_id)
    if report is None:
        return JSONResponse(
            {"status": "pending", "message": "analysis has not finished yet"}, status_code=202
        )
    result = report.checks.get(check)
    if result is None:
        raise ApiError(
            404,
            "check_not_found",
            f"no {check!r} section; this report has: {', '.join(report.checks) or 'none'}",
        )
    return result


@router.post("/messages/{message_id}/analyze", response_model=Report, tags=["reports"])
async def analyze_message(
    message_id: int,
    service: ServiceDep,
    principal: PrincipalDep,
    checks: Annotated[str | None, Query(description="Comma-separated checks to re-run")] = None,
) -> Report:
    """Re-run the analysis now (all checks, or the named ones) and return the report."""
    only = [c.strip() for c in checks.split(",") if c.strip()] if checks else None
    try:
        return await messages.analyze(service, principal, message_id, only)
    except messages.UnknownCheck as exc:
        raise ApiError(422, "unknown_check", str(exc)) from exc


@router.get("/schema/report", tags=["reports"])
async def report_schema() -> dict[str, Any]:
    """The JSON Schema of the report (the same document `mailqa schema` prints)."""
    return report_json_schema()


# Tokens -----------------------------------------------------------------------------------


@router.get("/tokens", response_model=list[TokenOut], tags=["tokens"])
async def list_tokens(service: ServiceDep, principal: AdminDep) -> list[TokenOut]:
    return [
        TokenOut(
            id=t.id, name=t.name, prefix=t.prefix, is_admin=t.is_admin, project_id=t.project_id
        )
        for t in await tokens.list_tokens(service.store, principal)
    ]


@router.post("/tokens", response_model=TokenOut, status_code=201, tags=["tokens"])
async def create_token(
    service: ServiceDep, principal: AdminDep, body: Annotated[TokenIn, Body()]
) -> TokenOut:
    plain, t = await tokens.create_token(
        service.store, principal, body.name, is_admin=body.is_admin, project_id=body.project_id
    )
    return TokenOut(
        id=t.id,
        name=t.name,
        prefix=t.prefix,
        is_admin=t.is_admin,
        project_id=t.project_id,
        token=plain,
    )


@router.delete("/tokens/{token_id}", status_code=204, tags=["tokens"])
async def revoke_token(token_id: int, service: ServiceDep, principal: AdminDep) -> Response:
    """Revoke a token; requests and SMTP logins with it fail from now on."""
    await tokens.revoke_token(service.store, principal, token_id)
    return Response(status_code=204)
