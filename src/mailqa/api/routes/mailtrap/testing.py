"""Mailtrap's testing API: ``/api/accounts/{account_id}/...`` (projects, inboxes, messages)
and the same inbox-scoped routes under ``/api/sandboxes/{sandbox_id}/...``. ``account_id``
may be any integer: mailqa has one account. Message objects, spam report, HTML analysis and
blacklists are reshaped from the stored report (see ``shapes.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from mailqa.api.deps import AdminDep, PrincipalDep, ServiceDep
from mailqa.api.errors import ApiError
from mailqa.api.responses import attachment_download, content_disposition, smtp_address
from mailqa.api.routes.mailtrap.errors import MailtrapRoute
from mailqa.api.routes.mailtrap.shapes import (
    attachment_json,
    html_analysis,
    inbox_json,
    mail_headers,
    message_json,
    spam_report,
)
from mailqa.auth import Principal
from mailqa.core.report import Report
from mailqa.relay import RelayError
from mailqa.service import Service
from mailqa.store.messages import MessageFilter
from mailqa.store.models import Attachment, Inbox, Message, Project
from mailqa.usecases import inboxes, messages, projects

router = APIRouter(tags=["mailtrap"], route_class=MailtrapRoute)
inbox_router = APIRouter(tags=["mailtrap"], route_class=MailtrapRoute)

PER_PAGE = 30
FORWARDED = "Your email message has been successfully forwarded"
ACCOUNT_INBOX_PREFIX = "/api/accounts/{account_id}/inboxes/{inbox_id}"
SANDBOX_PREFIX = "/api/sandboxes/{inbox_id}"


# Testing API: helpers -----------------------------------------------------------------------


def api_host(request: Request) -> str:
    return request.headers.get("host") or request.url.netloc


async def inbox_out(
    request: Request, service: Service, principal: Principal, inbox: Inbox
) -> dict[str, Any]:
    return (await inboxes_out(request, service, principal, [inbox]))[0]


async def inboxes_out(
    request: Request, service: Service, principal: Principal, shown: Sequence[Inbox]
) -> list[dict[str, Any]]:
    stats = await inboxes.inbox_stats(service, principal, shown)
    host, port = smtp_address(request, service)
    return [
        inbox_json(
            inbox,
            stats.get(inbox.id),
            smtp_host=host,
            smtp_port=port,
            api_host=api_host(request),
            max_message_size=service.settings.smtp_max_message_size,
            max_messages=service.settings.retention_max_messages,
        )
        for inbox in shown
    ]


async def project_out(
    request: Request, service: Service, principal: Principal, project: Project
) -> dict[str, Any]:
    shown = await inboxes.list_inboxes(service, principal, project.id)
    return {
        "id": project.id,
        "name": project.name,
        "inboxes": await inboxes_out(request, service, principal, shown),
        "permissions": {
            "can_read": True,
            "can_update": True,
            "can_destroy": principal.is_admin,
            "can_leave": False,
        },
    }


def messages_prefix(request: Request) -> str:
    """The path up to ``/messages`` as the client called it (accounts/… or sandboxes/…)."""
    path = request.url.path
    index = path.find("/messages")
    return (path[:index] if index >= 0 else path.rstrip("/")) + "/messages"


async def messages_out(
    request: Request, service: Service, rows: Sequence[Message]
) -> list[dict[str, Any]]:
    """Mailtrap message objects; one query reads the blacklist sections they show."""
    reports = await messages.reports_of(service, rows, only_checks=("blacklist",))
    prefix = messages_prefix(request)
    enabled = "blacklist" in service.pipeline.checks
    return [
        message_json(
            row,
            await messages.body_sizes(service, row),
            reports.get(row.id),
            f"{prefix}/{row.id}",
            blacklist_enabled=enabled,
        )
        for row in rows
    ]


async def message_out(request: Request, service: Service, row: Message) -> dict[str, Any]:
    [shown] = await messages_out(request, service, [row])
    return shown


async def finished_report(service: Service, row: Message) -> Report:
    """The stored report, waiting up to ``mailtrap_report_wait`` seconds for a pending one."""
    report = await messages.finished_report(
        service, row, wait=service.settings.mailtrap_report_wait
    )
    if report is None:
        raise ApiError(
            409,
            "analysis_pending",
            f"the analysis of message {row.id} has not finished yet; retry shortly",
        )
    return report


class NameIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=2, max_length=100)


class ProjectBody(BaseModel):
    project: NameIn


class InboxCreate(BaseModel):
    inbox: NameIn


class InboxChanges(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(None, min_length=1, max_length=200)
    email_username: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$",
        description="The local part of the inbox's e-mail address",
    )


class InboxUpdate(BaseModel):
    inbox: InboxChanges


class ReadState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    is_read: bool


class MessageUpdate(BaseModel):
    message: ReadState


class ForwardIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)


# Testing API: projects ----------------------------------------------------------------------


@router.get("/api/accounts/{account_id}/projects")
async def list_projects(
    account_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    """Projects with their inboxes, as far as the token may see them."""
    rows = await projects.list_projects(service, principal)
    return [await project_out(request, service, principal, p) for p in rows]


@router.post("/api/accounts/{account_id}/projects")
async def create_project(
    account_id: int,
    body: ProjectBody,
    request: Request,
    service: ServiceDep,
    principal: AdminDep,
) -> dict[str, Any]:
    project = await projects.create_project(service, principal, body.project.name)
    return await project_out(request, service, principal, project)


@router.get("/api/accounts/{account_id}/projects/{project_id}")
async def get_project(
    account_id: int,
    project_id: int,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    project = await projects.get_project(service, principal, project_id)
    return await project_out(request, service, principal, project)


@router.patch("/api/accounts/{account_id}/projects/{project_id}")
async def update_project(
    account_id: int,
    project_id: int,
    body: ProjectBody,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    project = await projects.rename_project(service, principal, project_id, body.project.name)
    return await project_out(request, service, principal, project)


@router.delete("/api/accounts/{account_id}/projects/{project_id}")
async def delete_project(
    account_id: int, project_id: int, service: ServiceDep, principal: AdminDep
) -> dict[str, Any]:
    await projects.delete_project(service, principal, project_id)
    return {"id": project_id}


# Testing API: inboxes -----------------------------------------------------------------------


@router.get("/api/accounts/{account_id}/inboxes")
async def list_inboxes(
    account_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    shown = await inboxes.list_inboxes(service, principal)
    return await inboxes_out(request, service, principal, shown)


@router.post("/api/accounts/{account_id}/projects/{project_id}/inboxes")
async def create_inbox(
    account_id: int,
    project_id: int,
    body: InboxCreate,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    inbox = await inboxes.create_inbox(service, principal, project_id, body.inbox.name)
    return await inbox_out(request, service, principal, inbox)


@inbox_router.get("")
async def get_inbox(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    inbox = await inboxes.get_inbox(service, principal, inbox_id)
    return await inbox_out(request, service, principal, inbox)


@inbox_router.patch("")
async def update_inbox(
    inbox_id: int,
    body: InboxUpdate,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    inbox = await inboxes.get_inbox(service, principal, inbox_id)
    changes = body.inbox
    if changes.name is None and changes.email_username is None:
        raise ApiError(
            422, "nothing_to_update", "give inbox.name or inbox.email_username to change"
        )
    if changes.email_username is not None:
        try:
            inbox = await inboxes.rename_email_username(
                service, principal, inbox_id, changes.email_username
            )
        except inboxes.EmailUsernameTaken as exc:
            raise ApiError(422, "email_username_taken", str(exc)) from exc
    if changes.name is not None:
        inbox = await inboxes.update_inbox(service, principal, inbox_id, name=changes.name)
    return await inbox_out(request, service, principal, inbox)


@inbox_router.delete("")
async def delete_inbox(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    inbox = await inboxes.get_inbox(service, principal, inbox_id)
    shown = await inbox_out(request, service, principal, inbox)
    await inboxes.delete_inbox(service, principal, inbox_id)
    return shown


@inbox_router.patch("/clean")
async def clean_inbox(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Delete every message of the inbox."""
    inbox = await inboxes.get_inbox(service, principal, inbox_id)
    await inboxes.purge_inbox(service, principal, inbox_id)
    return await inbox_out(request, service, principal, inbox)


@inbox_router.patch("/all_read")
async def mark_all_read(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    inbox = await inboxes.get_inbox(service, principal, inbox_id)
    await inboxes.mark_all_read(service, principal, inbox_id)
    return await inbox_out(request, service, principal, inbox)


@inbox_router.patch("/reset_credentials")
async def reset_credentials(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    inbox = await inboxes.reset_credentials(service, principal, inbox_id)
    return await inbox_out(request, service, principal, inbox)


@inbox_router.patch("/toggle_email_username")
async def toggle_email_username(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Turn the inbox's e-mail address on or off: while on, SMTP mail without a login to
    ``{email_username}@`` (any domain) lands in this inbox."""
    inbox = await inboxes.toggle_email_username(service, principal, inbox_id)
    return await inbox_out(request, service, principal, inbox)


@inbox_router.patch("/reset_email_username")
async def reset_email_username(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    """A new random e-mail username; the old address no longer reaches the inbox."""
    inbox = await inboxes.reset_email_username(service, principal, inbox_id)
    return await inbox_out(request, service, principal, inbox)


# Testing API: messages ----------------------------------------------------------------------


@inbox_router.get("/messages")
async def list_messages(
    inbox_id: int,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
    search: str | None = None,
    last_id: Annotated[int | None, Query(ge=1, description="Messages older than this id")] = None,
    page: Annotated[int | None, Query(ge=1)] = None,
) -> list[dict[str, Any]]:
    """Up to 30 messages, newest first; ``last_id`` (wins over ``page``) pages by id."""
    filters = MessageFilter(search=search or None, before_id=last_id)
    offset = 0 if last_id is not None else ((page or 1) - 1) * PER_PAGE
    rows, _ = await messages.list_messages(
        service, principal, inbox_id, offset=offset, limit=PER_PAGE, filters=filters
    )
    return await messages_out(request, service, rows)


@inbox_router.get("/messages/{message_id}")
async def show_message(
    inbox_id: int,
    message_id: int,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    return await message_out(request, service, row)


@inbox_router.patch("/messages/{message_id}")
async def update_message(
    inbox_id: int,
    message_id: int,
    body: MessageUpdate,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Mark read or unread: ``{"message": {"is_read": true}}``."""
    await messages.inbox_message(service, principal, inbox_id, message_id)
    row = await messages.set_read(service, principal, message_id, body.message.is_read)
    return await message_out(request, service, row)


@inbox_router.delete("/messages/{message_id}")
async def delete_message(
    inbox_id: int,
    message_id: int,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    shown = await message_out(request, service, row)
    await messages.delete_message(service, principal, message_id)
    return shown


@inbox_router.post("/messages/{message_id}/forward")
async def forward_message(
    inbox_id: int,
    message_id: int,
    body: Annotated[ForwardIn, Body()],
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, str]:
    """Re-send the captured message through the configured SMTP relay to ``email``."""
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    try:
        await messages.forward(service, row, body.email)
    except RelayError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    return {"message": FORWARDED}


@inbox_router.get("/messages/{message_id}/spam_report")
async def get_spam_report(
    inbox_id: int, message_id: int, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    """SpamAssassin's verdict in Mailtrap's shape (waits briefly for a pending analysis)."""
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    return {"report": spam_report(await finished_report(service, row))}


@inbox_router.get("/messages/{message_id}/analyze")
async def get_html_analysis(
    inbox_id: int, message_id: int, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    """The HTML check's findings as Mailtrap's ``{status, errors: [...]}``."""
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    return {"report": html_analysis(await finished_report(service, row))}


@inbox_router.get("/messages/{message_id}/mail_headers")
async def get_mail_headers(
    inbox_id: int, message_id: int, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    parsed = await messages.parsed(service, row)
    return {"headers": mail_headers(parsed, row.rcpt_to or [])}


_CID_REF = re.compile(r"""(["'(=]\s*)cid:([^"')\s>]+)""", re.IGNORECASE)


@inbox_router.get("/messages/{message_id}/body.txt", response_class=Response)
async def body_txt(
    inbox_id: int, message_id: int, service: ServiceDep, principal: PrincipalDep
) -> Response:
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    parsed = await messages.parsed(service, row)
    if parsed.text is None:
        raise ApiError(404, "no_text_body", f"message {message_id} has no text part")
    return Response(parsed.text, media_type="text/plain; charset=utf-8")


@inbox_router.get("/messages/{message_id}/body.html", response_class=Response)
async def body_html(
    inbox_id: int,
    message_id: int,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> Response:
    """The HTML part ready to display: ``cid:`` images point at their attachment downloads."""
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    parsed = await messages.parsed(service, row)
    if parsed.html is None:
        raise ApiError(404, "no_html_body", f"message {message_id} has no HTML part")
    by_cid = {a.content_id: a.id for a in await messages.attachments(service, row) if a.content_id}
    base = f"{messages_prefix(request)}/{row.id}/attachments"

    def link(match: re.Match[str]) -> str:
        attachment_id = by_cid.get(match.group(2))
        if attachment_id is None:
            return match.group(0)
        return f"{match.group(1)}{base}/{attachment_id}/download"

    return Response(_CID_REF.sub(link, parsed.html), media_type="text/html; charset=utf-8")


@inbox_router.get("/messages/{message_id}/body.htmlsource", response_class=Response)
async def body_html_source(
    inbox_id: int, message_id: int, service: ServiceDep, principal: PrincipalDep
) -> Response:
    """The HTML part exactly as sent, as text."""
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    parsed = await messages.parsed(service, row)
    if parsed.html is None:
        raise ApiError(404, "no_html_body", f"message {message_id} has no HTML part")
    return Response(parsed.html, media_type="text/plain; charset=utf-8")


@inbox_router.get("/messages/{message_id}/body.raw", response_class=Response)
async def body_raw(
    inbox_id: int, message_id: int, service: ServiceDep, principal: PrincipalDep
) -> Response:
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    return Response(await messages.raw_source(service, row), media_type="text/plain")


@inbox_router.get("/messages/{message_id}/body.eml", response_class=Response)
async def body_eml(
    inbox_id: int, message_id: int, service: ServiceDep, principal: PrincipalDep
) -> Response:
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    return Response(
        await messages.raw_source(service, row),
        media_type="message/rfc822",
        headers={"Content-Disposition": content_disposition(None, f"message-{row.id}.eml")},
    )


# Testing API: attachments -------------------------------------------------------------------


@inbox_router.get("/messages/{message_id}/attachments")
async def list_attachments(
    inbox_id: int,
    message_id: int,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> list[dict[str, Any]]:
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    base = f"{messages_prefix(request)}/{row.id}"
    return [
        attachment_json(a, base, row.created_at) for a in await messages.attachments(service, row)
    ]


async def find_attachment(service: Service, row: Message, attachment_id: int) -> Attachment:
    for a in await messages.attachments(service, row):
        if a.id == attachment_id:
            return a
    raise ApiError(
        404, "attachment_not_found", f"message {row.id} has no attachment {attachment_id}"
    )


@inbox_router.get("/messages/{message_id}/attachments/{attachment_id}")
async def show_attachment(
    inbox_id: int,
    message_id: int,
    attachment_id: int,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    a = await find_attachment(service, row, attachment_id)
    return attachment_json(a, f"{messages_prefix(request)}/{row.id}", row.created_at)


@inbox_router.get(
    "/messages/{message_id}/attachments/{attachment_id}/download", response_class=Response
)
async def download_attachment(
    inbox_id: int,
    message_id: int,
    attachment_id: int,
    service: ServiceDep,
    principal: PrincipalDep,
) -> Response:
    row = await messages.inbox_message(service, principal, inbox_id, message_id)
    a = await find_attachment(service, row, attachment_id)
    part = await messages.attachment_at(row, await messages.raw_source(service, row), a.index)
    if part is None:
        raise ApiError(404, "attachment_not_found", "the attachment is missing from the source")
    return attachment_download(part, f"attachment-{a.id}")


def account(account_id: int) -> int:
    """Any integer: mailqa has one account (declared so it is validated and documented)."""
    return account_id


router.include_router(inbox_router, prefix=ACCOUNT_INBOX_PREFIX, dependencies=[Depends(account)])
router.include_router(inbox_router, prefix=SANDBOX_PREFIX)
