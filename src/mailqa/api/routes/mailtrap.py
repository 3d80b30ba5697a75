"""Mailtrap-compatible API: the sandbox send API and the testing API shapes.

- Send: ``POST /api/send[/{inbox_id}]`` and ``POST /api/batch[/{inbox_id}]`` take Mailtrap's
  send JSON, build the MIME message and capture it like SMTP mail (stored, analysed, never
  delivered). Errors answer ``{"success": false, "errors": [...]}``.
- Testing: ``/api/accounts/{account_id}/...`` (projects, inboxes, messages) and the same
  inbox-scoped routes under ``/api/sandboxes/{sandbox_id}/...``. ``account_id`` may be any
  integer: mailqa has one account. Message objects, spam report, HTML analysis and
  blacklists are reshaped from the stored report (see ``api/mailtrap_shapes.py``).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from mailqa.api.deps import (
    Principal,
    PrincipalDep,
    ServiceDep,
    require_admin,
    token_from_headers,
    visible_inbox,
)
from mailqa.api.errors import ApiError, validation_text
from mailqa.api.mailtrap_shapes import (
    attachment_json,
    html_analysis,
    inbox_json,
    mail_headers,
    message_json,
    spam_report,
)
from mailqa.api.routes.native import content_disposition, inbox_limit, smtp_address
from mailqa.capture.mime_builder import (
    SendError,
    SendRequest,
    build_message,
    merge_batch_item,
    parse_send_request,
    size_floor,
)
from mailqa.capture.relay import Relay, RelayError
from mailqa.core.errors import (
    LimitExceeded,
    MailqaError,
    NotFound,
    QuotaExceeded,
    SourceExpired,
)
from mailqa.core.message import Envelope, ParsedMessage, parse_stored
from mailqa.core.report import Report
from mailqa.service import Service, envelope_of
from mailqa.store.models import Inbox, Message, Project
from mailqa.store.repository import MessageFilter, utf8_size


class MailtrapRoute(APIRoute):
    """Errors as Mailtrap's clients read them: ``{"error": text}`` (the SDKs show ``error``
    or ``errors``), and request validation as ``{"errors": ["field: problem", ...]}``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return mailtrap_error(exc.status, exc.message, exc.code)
            except SourceExpired as exc:
                return mailtrap_error(410, str(exc), "source_expired")
            except NotFound as exc:
                return mailtrap_error(404, str(exc), "not_found")
            except QuotaExceeded as exc:
                return mailtrap_error(507, str(exc), "quota_exceeded")
            except LimitExceeded as exc:
                return mailtrap_error(403, str(exc), "limit_exceeded")
            except MailqaError as exc:
                return mailtrap_error(400, str(exc), "bad_request")
            except RequestValidationError as exc:
                return JSONResponse(
                    {"errors": [validation_text(e) for e in exc.errors()]}, status_code=422
                )

        return handle


def mailtrap_error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, status_code=status)


router = APIRouter(tags=["mailtrap"], route_class=MailtrapRoute)
inbox_router = APIRouter(tags=["mailtrap"], route_class=MailtrapRoute)

PER_PAGE = 30
MAX_BATCH = 500
FORWARDED = "Your email message has been successfully forwarded"
ACCOUNT_INBOX_PREFIX = "/api/accounts/{account_id}/inboxes/{inbox_id}"
SANDBOX_PREFIX = "/api/sandboxes/{inbox_id}"


# Send API -----------------------------------------------------------------------------------


def send_error(status: int, errors: list[str]) -> JSONResponse:
    return JSONResponse({"success": False, "errors": errors}, status_code=status)


class SendFailed(Exception):
    def __init__(self, status: int, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.status = status
        self.errors = errors


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body, refusing more than ``limit`` bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise SendFailed(413, [f"payload is {declared} bytes; the limit is {limit} bytes"])
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise SendFailed(413, [f"payload is over the limit of {limit} bytes"])
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SendFailed(400, [f"the request body is not valid JSON: {exc}"]) from exc


async def send_principal(request: Request, service: Service) -> Principal:
    plain = token_from_headers(request)
    token = await service.store.resolve_token(plain) if plain else None
    if token is None:
        raise SendFailed(401, ["Unauthorized: missing or invalid API token"])
    return Principal(token)


async def send_inbox(service: Service, principal: Principal, inbox_id: int | None) -> Inbox:
    """The target inbox: the one named, or the token's own sandbox inbox."""
    if inbox_id is None:
        inbox = await service.store.sandbox_inbox(
            principal.token, create=True, quota_bytes=service.settings.inbox_quota_bytes
        )
        if inbox is None:
            raise SendFailed(404, ["this token has no sandbox inbox: send to /api/send/{id}"])
        return inbox
    try:
        return await visible_inbox(service, principal, inbox_id)
    except NotFound as exc:
        raise SendFailed(404, [f"inbox {inbox_id} not found"]) from exc


BUILD_IN_THREAD = 256 * 1024


def checked_request(service: Service, data: Any) -> tuple[SendRequest, int]:
    """The validated request and a lower bound of its message's size, refused (422) when
    even that bound is over the message size limit: nothing is built yet."""
    try:
        request = parse_send_request(data)
    except SendError as exc:
        raise SendFailed(400, exc.errors) from exc
    floor = size_floor(request)
    limit = service.settings.smtp_max_message_size
    if floor > limit:
        raise SendFailed(422, [f"message is over {floor} bytes; the limit is {limit} bytes"])
    return request, floor


async def build_and_capture(
    service: Service, inbox: Inbox, request: SendRequest, floor: int, client_ip: str | None
) -> tuple[int, int]:
    """Build one message (a big one in a thread, so the event loop stays free) and capture
    it. Returns its id and size."""
    try:
        if floor > BUILD_IN_THREAD:
            raw = await asyncio.to_thread(build_message, request)
        else:
            raw = build_message(request)
    except SendError as exc:
        raise SendFailed(400, exc.errors) from exc
    limit = service.settings.smtp_max_message_size
    if len(raw) > limit:
        raise SendFailed(422, [f"message is {len(raw)} bytes; the limit is {limit} bytes"])
    assert request.from_ is not None
    envelope = Envelope(
        mail_from=request.from_.email, rcpt_to=tuple(request.recipients), client_ip=client_ip
    )
    try:
        message_id = await service.capture(raw, inbox.id, envelope, source="send_api")
    except QuotaExceeded as exc:
        raise SendFailed(422, [quota_text(inbox)]) from exc
    except NotFound as exc:
        raise SendFailed(404, [f"inbox {inbox.id} not found"]) from exc
    return message_id, len(raw)


def quota_text(inbox: Inbox) -> str:
    return f"inbox {inbox.id} is over its storage quota"


async def capture_one(
    service: Service, inbox: Inbox, data: Any, client_ip: str | None
) -> list[str]:
    """Validate, build and capture one message; its id as Mailtrap's ``message_ids``."""
    request, floor = checked_request(service, data)
    message_id, _ = await build_and_capture(service, inbox, request, floor, client_ip)
    return [str(message_id)]


async def _send(request: Request, service: Service, inbox_id: int | None) -> JSONResponse:
    try:
        principal = await send_principal(request, service)
        inbox = await send_inbox(service, principal, inbox_id)
        data = await read_json(request, service.settings.effective_mailtrap_send_max_bytes)
        client_ip = request.client.host if request.client else None
        ids = await capture_one(service, inbox, data, client_ip)
    except SendFailed as exc:
        return send_error(exc.status, exc.errors)
    return JSONResponse({"success": True, "message_ids": ids})


async def _batch(request: Request, service: Service, inbox_id: int | None) -> JSONResponse:
    try:
        principal = await send_principal(request, service)
        inbox = await send_inbox(service, principal, inbox_id)
        data = await read_json(request, service.settings.mailtrap_batch_max_bytes)
    except SendFailed as exc:
        return send_error(exc.status, exc.errors)
    if not isinstance(data, dict):
        return send_error(400, ["the request body must be a JSON object"])
    base = data.get("base") or {}
    items = data.get("requests")
    if not isinstance(base, dict):
        return send_error(400, ["'base' must be an object"])
    if not isinstance(items, list) or not items:
        return send_error(400, ["'requests' is required: a list of 1 to 500 messages"])
    if len(items) > MAX_BATCH:
        return send_error(400, [f"'requests' has {len(items)} messages; at most {MAX_BATCH}"])
    client_ip = request.client.host if request.client else None

    # Every request is validated and sized first, without building anything; then the
    # messages are built and stored one at a time, each only when the inbox still has room
    # for at least its lower-bound size: memory stays about one message, whatever the batch.
    responses: list[dict[str, Any] | None] = [None] * len(items)
    planned: list[tuple[int, dict[str, Any], int]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            responses[index] = {"success": False, "errors": ["each request must be an object"]}
            continue
        merged = merge_batch_item(base, item)
        try:
            _, floor = checked_request(service, merged)
        except SendFailed as exc:
            responses[index] = {"success": False, "errors": exc.errors}
            continue
        planned.append((index, merged, floor))
    room = max(0, inbox.quota_bytes - inbox.used_bytes)
    for index, merged, floor in planned:
        if floor > room:
            responses[index] = {"success": False, "errors": [quota_text(inbox)]}
            continue
        try:
            one, _ = checked_request(service, merged)
            message_id, size = await build_and_capture(service, inbox, one, floor, client_ip)
        except SendFailed as exc:
            responses[index] = {"success": False, "errors": exc.errors}
            continue
        room -= size
        responses[index] = {"success": True, "message_ids": [str(message_id)]}
    return JSONResponse({"success": True, "responses": responses})


SEND_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.post("/api/send/{inbox_id}", openapi_extra=SEND_BODY)
async def send_to_inbox(inbox_id: int, request: Request, service: ServiceDep) -> JSONResponse:
    """Capture one message sent with Mailtrap's send JSON into the inbox (sandbox mode)."""
    return await _send(request, service, inbox_id)


@router.post("/api/send", openapi_extra=SEND_BODY)
async def send_to_sandbox(request: Request, service: ServiceDep) -> JSONResponse:
    """Capture one message into the token's own sandbox inbox."""
    return await _send(request, service, None)


@router.post("/api/batch/{inbox_id}", openapi_extra=SEND_BODY)
async def batch_to_inbox(inbox_id: int, request: Request, service: ServiceDep) -> JSONResponse:
    """Capture up to 500 messages (``base`` + ``requests``); one result per request."""
    return await _batch(request, service, inbox_id)


@router.post("/api/batch", openapi_extra=SEND_BODY)
async def batch_to_sandbox(request: Request, service: ServiceDep) -> JSONResponse:
    return await _batch(request, service, None)


# Testing API: helpers -----------------------------------------------------------------------


def api_host(request: Request) -> str:
    return request.headers.get("host") or request.url.netloc


async def inbox_out(request: Request, service: Service, inbox: Inbox) -> dict[str, Any]:
    return (await inboxes_out(request, service, [inbox]))[0]


async def inboxes_out(
    request: Request, service: Service, inboxes: list[Inbox]
) -> list[dict[str, Any]]:
    stats = await service.store.inbox_stats([i.id for i in inboxes])
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
        for inbox in inboxes
    ]


async def project_out(
    request: Request, service: Service, principal: Principal, project: Project
) -> dict[str, Any]:
    inboxes = [
        i for i in await service.store.list_inboxes(project.id) if principal.can_see_inbox(i)
    ]
    return {
        "id": project.id,
        "name": project.name,
        "inboxes": await inboxes_out(request, service, inboxes),
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


async def inbox_message(
    service: Service, principal: Principal, inbox_id: int, message_id: int
) -> Message:
    await visible_inbox(service, principal, inbox_id)
    row = await service.get_message(message_id)
    if row.inbox_id != inbox_id:
        raise NotFound(f"message {message_id} not found in inbox {inbox_id}")
    return row


async def load(service: Service, row: Message) -> ParsedMessage:
    """The stored message parsed (big ones off the event loop)."""
    return await parse_stored(await service.store.get_raw(row.id), envelope_of(row))


async def body_sizes(service: Service, row: Message) -> tuple[int, int]:
    """HTML and text body sizes: stored at capture, read from the source for older rows
    (0 when retention dropped it)."""
    if row.html_size is not None and row.text_size is not None:
        return row.html_size, row.text_size
    try:
        parsed = await load(service, row)
    except SourceExpired:
        return 0, 0
    return utf8_size(parsed.html), utf8_size(parsed.text)


async def messages_out(
    request: Request, service: Service, rows: Sequence[Message]
) -> list[dict[str, Any]]:
    """Mailtrap message objects; one query reads the blacklist sections they show."""
    reports = await service.store.get_reports([r.id for r in rows], only_checks=("blacklist",))
    prefix = messages_prefix(request)
    enabled = "blacklist" in service.pipeline.checks
    return [
        message_json(
            row,
            await body_sizes(service, row),
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
    report = await service.store.get_report(row.id)
    if report is None and service.settings.mailtrap_report_wait > 0:
        only_this = MessageFilter(after_id=row.id - 1, before_id=row.id + 1)
        await service.wait_for_message(
            row.inbox_id, only_this, wait=service.settings.mailtrap_report_wait, analyzed=True
        )
        report = await service.store.get_report(row.id)
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
    email_username: str | None = None


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
    if principal.is_admin:
        projects = await service.store.list_projects()
    elif principal.token.project_id is not None:
        projects = await service.store.list_projects(principal.token.project_id)
    else:
        projects = []
    return [await project_out(request, service, principal, p) for p in projects]


@router.post("/api/accounts/{account_id}/projects")
async def create_project(
    account_id: int,
    body: ProjectBody,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    require_admin(principal)
    project = await service.store.create_project(body.project.name)
    return await project_out(request, service, principal, project)


async def visible_project(service: Service, principal: Principal, project_id: int) -> Project:
    if not principal.can_see_project(project_id):
        raise NotFound(f"project {project_id} not found")
    return await service.store.get_project(project_id)


@router.get("/api/accounts/{account_id}/projects/{project_id}")
async def get_project(
    account_id: int,
    project_id: int,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    project = await visible_project(service, principal, project_id)
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
    await visible_project(service, principal, project_id)
    project = await service.store.update_project(project_id, body.project.name)
    return await project_out(request, service, principal, project)


@router.delete("/api/accounts/{account_id}/projects/{project_id}")
async def delete_project(
    account_id: int, project_id: int, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    require_admin(principal)
    await service.store.delete_project(project_id)
    return {"id": project_id}


# Testing API: inboxes -----------------------------------------------------------------------


@router.get("/api/accounts/{account_id}/inboxes")
async def list_inboxes(
    account_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    inboxes = [i for i in await service.store.list_inboxes() if principal.can_see_inbox(i)]
    return await inboxes_out(request, service, inboxes)


@router.post("/api/accounts/{account_id}/projects/{project_id}/inboxes")
async def create_inbox(
    account_id: int,
    project_id: int,
    body: InboxCreate,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    await visible_project(service, principal, project_id)
    inbox = await service.store.create_inbox(
        project_id,
        body.inbox.name,
        service.settings.inbox_quota_bytes,
        max_inboxes=inbox_limit(service, principal),
    )
    return await inbox_out(request, service, inbox)


@inbox_router.get("")
async def get_inbox(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    return await inbox_out(request, service, await visible_inbox(service, principal, inbox_id))


@inbox_router.patch("")
async def update_inbox(
    inbox_id: int,
    body: InboxUpdate,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    await visible_inbox(service, principal, inbox_id)
    if body.inbox.email_username is not None:
        raise ApiError(
            422,
            "unsupported",
            "email_username cannot be changed: mailqa inboxes receive mail by SMTP login, "
            "not by address",
        )
    if body.inbox.name is None:
        raise ApiError(422, "nothing_to_update", "give inbox.name to rename the inbox")
    inbox = await service.store.update_inbox(inbox_id, name=body.inbox.name)
    return await inbox_out(request, service, inbox)


@inbox_router.delete("")
async def delete_inbox(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    inbox = await visible_inbox(service, principal, inbox_id)
    shown = await inbox_out(request, service, inbox)
    await service.store.delete_inbox(inbox_id)
    return shown


@inbox_router.patch("/clean")
async def clean_inbox(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Delete every message of the inbox."""
    inbox = await visible_inbox(service, principal, inbox_id)
    await service.store.purge_inbox(inbox_id)
    return await inbox_out(request, service, inbox)


@inbox_router.patch("/all_read")
async def mark_all_read(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    inbox = await visible_inbox(service, principal, inbox_id)
    await service.store.mark_all_read(inbox_id)
    return await inbox_out(request, service, inbox)


@inbox_router.patch("/reset_credentials")
async def reset_credentials(
    inbox_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    await visible_inbox(service, principal, inbox_id)
    inbox = await service.store.reset_credentials(inbox_id)
    return await inbox_out(request, service, inbox)


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
    await visible_inbox(service, principal, inbox_id)
    filters = MessageFilter(search=search or None, before_id=last_id)
    offset = 0 if last_id is not None else ((page or 1) - 1) * PER_PAGE
    rows, _ = await service.store.list_messages(
        inbox_id, offset=offset, limit=PER_PAGE, filters=filters
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
    row = await inbox_message(service, principal, inbox_id, message_id)
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
    await inbox_message(service, principal, inbox_id, message_id)
    row = await service.store.set_read(message_id, body.message.is_read)
    return await message_out(request, service, row)


@inbox_router.delete("/messages/{message_id}")
async def delete_message(
    inbox_id: int,
    message_id: int,
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    row = await inbox_message(service, principal, inbox_id, message_id)
    shown = await message_out(request, service, row)
    await service.store.delete_message(message_id)
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
    row = await inbox_message(service, principal, inbox_id, message_id)
    raw = await service.store.get_raw(row.id)
    try:
        await Relay(service.settings).forward(raw, row.mail_from or row.from_address, [body.email])
    except RelayError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    return {"message": FORWARDED}


@inbox_router.get("/messages/{message_id}/spam_report")
async def get_spam_report(
    inbox_id: int, message_id: int, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    """SpamAssassin's verdict in Mailtrap's shape (waits briefly for a pending analysis)."""
    row = await inbox_message(service, principal, inbox_id, message_id)
    return {"report": spam_report(await finished_report(service, row))}


@inbox_router.get("/messages/{message_id}/analyze")
async def get_html_analysis(
    inbox_id: int, message_id: int, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    """The HTML check's findings as Mailtrap's ``{status, errors: [...]}``."""
    row = await inbox_message(service, principal, inbox_id, message_id)
    return {"report": html_analysis(await finished_report(service, row))}


@inbox_router.get("/messages/{message_id}/mail_headers")
async def get_mail_headers(
    inbox_id: int, message_id: int, service: ServiceDep, principal: PrincipalDep
) -> dict[str, Any]:
    row = await inbox_message(service, principal, inbox_id, message_id)
    parsed = await load(service, row)
    return {"headers": mail_headers(parsed, row.rcpt_to or [])}


_CID_REF = re.compile(r"""(["'(=]\s*)cid:([^"')\s>]+)""", re.IGNORECASE)


@inbox_router.get("/messages/{message_id}/body.txt", response_class=Response)
async def body_txt(
    inbox_id: int, message_id: int, service: ServiceDep, principal: PrincipalDep
) -> Response:
    row = await inbox_message(service, principal, inbox_id, message_id)
    parsed = await load(service, row)
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
    row = await inbox_message(service, principal, inbox_id, message_id)
    parsed = await load(service, row)
    if parsed.html is None:
        raise ApiError(404, "no_html_body", f"message {message_id} has no HTML part")
    by_cid = {
        a.content_id: a.id for a in await service.store.get_attachments(row.id) if a.content_id
    }
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
    row = await inbox_message(service, principal, inbox_id, message_id)
    parsed = await load(service, row)
    if parsed.html is None:
        raise ApiError(404, "no_html_body", f"message {message_id} has no HTML part")
    return Response(parsed.html, media_type="text/plain; charset=utf-8")


@inbox_router.get("/messages/{message_id}/body.raw", response_class=Response)
async def body_raw(
    inbox_id: int, message_id: int, service: ServiceDep, principal: PrincipalDep
) -> Response:
    row = await inbox_message(service, principal, inbox_id, message_id)
    return Response(await service.store.get_raw(row.id), media_type="text/plain")


@inbox_router.get("/messages/{message_id}/body.eml", response_class=Response)
async def body_eml(
    inbox_id: int, message_id: int, service: ServiceDep, principal: PrincipalDep
) -> Response:
    row = await inbox_message(service, principal, inbox_id, message_id)
    return Response(
        await service.store.get_raw(row.id),
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
    row = await inbox_message(service, principal, inbox_id, message_id)
    base = f"{messages_prefix(request)}/{row.id}"
    return [
        attachment_json(a, base, row.created_at)
        for a in await service.store.get_attachments(row.id)
    ]


async def find_attachment(service: Service, row: Message, attachment_id: int) -> Any:
    for a in await service.store.get_attachments(row.id):
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
    row = await inbox_message(service, principal, inbox_id, message_id)
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
    row = await inbox_message(service, principal, inbox_id, message_id)
    a = await find_attachment(service, row, attachment_id)
    parsed = await load(service, row)
    if not 0 <= a.index < len(parsed.attachments):
        raise ApiError(404, "attachment_not_found", "the attachment is missing from the source")
    part = parsed.attachments[a.index]
    return Response(
        part.payload,
        media_type=part.content_type,
        headers={"Content-Disposition": content_disposition(part.filename, f"attachment-{a.id}")},
    )


def account(account_id: int) -> int:
    """Any integer: mailqa has one account (declared so it is validated and documented)."""
    return account_id


router.include_router(inbox_router, prefix=ACCOUNT_INBOX_PREFIX, dependencies=[Depends(account)])
router.include_router(inbox_router, prefix=SANDBOX_PREFIX)
