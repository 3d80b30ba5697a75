"""Mailtrap's send API, sandbox mode: ``POST /api/send[/{inbox_id}]`` and
``POST /api/batch[/{inbox_id}]`` take Mailtrap's send JSON, build the MIME message and
capture it like SMTP mail (stored, analysed, never delivered)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from mailqa.api.deps import ServiceDep, authorisation, token_from_headers
from mailqa.api.routes.mailtrap.errors import SendFailed, SendRoute, send_error
from mailqa.auth import Principal, token_principal
from mailqa.capture.mime_builder import (
    SendError,
    SendRequest,
    build_message,
    merge_batch_item,
    parse_send_request,
    size_floor,
)
from mailqa.core.errors import AnalysisQueueFull, NotFound, QuotaExceeded
from mailqa.core.message import Envelope
from mailqa.service import Service
from mailqa.store.models import Inbox
from mailqa.usecases import inboxes, messages

router = APIRouter(tags=["mailtrap"], route_class=SendRoute)

MAX_BATCH = 500
BUILD_IN_THREAD = 256 * 1024


@authorisation
async def send_principal(request: Request, service: ServiceDep) -> Principal:
    """The API token of a send request, from its headers (the send API's 401 without)."""
    principal = await token_principal(service.store, token_from_headers(request))
    if principal is None:
        raise SendFailed(401, ["Unauthorized: missing or invalid API token"])
    return principal


SendPrincipalDep = Annotated[Principal, Depends(send_principal)]


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


async def send_inbox(service: Service, principal: Principal, inbox_id: int | None) -> Inbox:
    """The target inbox: the one named, or the token's own sandbox inbox."""
    if inbox_id is None:
        inbox = await inboxes.sandbox_inbox(service, principal, create=True)
        if inbox is None:
            raise SendFailed(404, ["this token has no sandbox inbox: send to /api/send/{id}"])
        return inbox
    try:
        return await inboxes.get_inbox(service, principal, inbox_id)
    except NotFound as exc:
        raise SendFailed(404, [f"inbox {inbox_id} not found"]) from exc


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


def quota_text(inbox: Inbox) -> str:
    return f"inbox {inbox.id} is over its storage quota"


async def build_and_capture(
    service: Service,
    principal: Principal,
    inbox: Inbox,
    request: SendRequest,
    floor: int,
    client_ip: str | None,
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
        message_id = await messages.capture(
            service, principal, inbox.id, raw, envelope, source="send_api"
        )
    except QuotaExceeded as exc:
        raise SendFailed(422, [quota_text(inbox)]) from exc
    except AnalysisQueueFull as exc:
        raise SendFailed(503, [str(exc)], retry_after=exc.retry_after) from exc
    except NotFound as exc:
        raise SendFailed(404, [f"inbox {inbox.id} not found"]) from exc
    return message_id, len(raw)


async def _send(
    request: Request, service: Service, principal: Principal, inbox_id: int | None
) -> JSONResponse:
    inbox = await send_inbox(service, principal, inbox_id)
    data = await read_json(request, service.settings.effective_mailtrap_send_max_bytes)
    client_ip = request.client.host if request.client else None
    send, floor = checked_request(service, data)
    message_id, _ = await build_and_capture(service, principal, inbox, send, floor, client_ip)
    return JSONResponse({"success": True, "message_ids": [str(message_id)]})


async def _batch(
    request: Request, service: Service, principal: Principal, inbox_id: int | None
) -> JSONResponse:
    inbox = await send_inbox(service, principal, inbox_id)
    data = await read_json(request, service.settings.mailtrap_batch_max_bytes)
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
    if (full := service.queue_full()) is not None:  # none of it could be stored now
        raise SendFailed(503, [str(full)], retry_after=full.retry_after)

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
            message_id, size = await build_and_capture(
                service, principal, inbox, one, floor, client_ip
            )
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
async def send_to_inbox(
    inbox_id: int, request: Request, service: ServiceDep, principal: SendPrincipalDep
) -> JSONResponse:
    """Capture one message sent with Mailtrap's send JSON into the inbox (sandbox mode)."""
    return await _send(request, service, principal, inbox_id)


@router.post("/api/send", openapi_extra=SEND_BODY)
async def send_to_sandbox(
    request: Request, service: ServiceDep, principal: SendPrincipalDep
) -> JSONResponse:
    """Capture one message into the token's own sandbox inbox."""
    return await _send(request, service, principal, None)


@router.post("/api/batch/{inbox_id}", openapi_extra=SEND_BODY)
async def batch_to_inbox(
    inbox_id: int, request: Request, service: ServiceDep, principal: SendPrincipalDep
) -> JSONResponse:
    """Capture up to 500 messages (``base`` + ``requests``); one result per request."""
    return await _batch(request, service, principal, inbox_id)


@router.post("/api/batch", openapi_extra=SEND_BODY)
async def batch_to_sandbox(
    request: Request, service: ServiceDep, principal: SendPrincipalDep
) -> JSONResponse:
    return await _batch(request, service, principal, None)
