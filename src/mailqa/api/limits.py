"""Request body limits, enforced while the body streams in, after authentication.

A pure ASGI middleware (it never buffers a body itself):

- a request to an authenticated route (``/api/...``, ``/pro/api/...``) that carries a body
  is authenticated from its headers first: a missing or unknown token answers 401 (a cookie
  sign-in without the CSRF header 403) before a byte of the body is read;
- each route has a body cap: raw message uploads ``MAILQA_SMTP_MAX_MESSAGE_SIZE``, the
  Mailtrap send and batch routes their own, everything else ``MAILQA_HTTP_MAX_BODY_BYTES``.
  A declared ``Content-Length`` over the cap answers 413 unread; a body that grows past it
  while streaming answers 413 as soon as it does, whatever the route was doing with it.

A refused request's unread body is drained and dropped (never held) when it is small enough
(``LINGER_BYTES`` for authenticated requests, ``MAILQA_HTTP_MAX_BODY_BYTES`` otherwise), so
clients that write the whole body before reading still get the answer; a larger or
unbounded one closes the connection instead. Refusals use the error shape
of the route's API: ``{"error": code, "message": text}`` for the native, sandbox and web
routes, ``{"success": false, "errors": [text]}`` for the Mailtrap send API and
``{"error": text, "code": code}`` for the Mailtrap testing API.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailqa.api.deps import token_from_cookie, token_from_headers
from mailqa.api.errors import ApiError
from mailqa.auth import token_principal
from mailqa.settings import Settings

Family = Literal["native", "send", "mailtrap"]

AUTHENTICATED_PREFIXES = ("/api/", "/pro/api/")
_UPLOAD = re.compile(r"^/api/v1/inboxes/[^/]+/messages/?$")
_SEND = re.compile(r"^/api/send(?:/[^/]*)?/?$")
_BATCH = re.compile(r"^/api/batch(?:/[^/]*)?/?$")
_MAILTRAP = ("/api/accounts/", "/api/sandboxes/")
# Unread body bytes drained (and dropped) after refusing an authenticated request, so that
# a client writing its whole body before reading sees the answer; beyond it, close.
LINGER_BYTES = 64 * 1024 * 1024


class BodyTooLarge(Exception):
    """Raised into the app when the streamed body passes the route's cap."""


def family_of(path: str) -> Family:
    if _SEND.match(path) or _BATCH.match(path):
        return "send"
    if path.startswith(_MAILTRAP):
        return "mailtrap"
    return "native"


def error_response(family: Family, code: str, message: str) -> dict[str, Any]:
    if family == "send":
        return {"success": False, "errors": [message]}
    if family == "mailtrap":
        return {"error": message, "code": code}
    return {"error": code, "message": message}


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def limit_for(self, method: str, path: str) -> int:
        settings = self.settings
        if method == "POST" and _UPLOAD.match(path):
            return settings.smtp_max_message_size
        if _SEND.match(path):
            return settings.effective_mailtrap_send_max_bytes
        if _BATCH.match(path):
            return settings.mailtrap_batch_max_bytes
        return settings.http_max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = Headers(scope=scope)
        declared = _content_length(headers)
        has_body = bool(declared) or "transfer-encoding" in headers
        if not has_body:
            await self.app(scope, receive, send)
            return
        family = family_of(path)
        linger = self.settings.http_max_body_bytes
        if path.startswith(AUTHENTICATED_PREFIXES):
            refusal = await self._authenticate(scope, family)
            if refusal is not None:
                await _refuse(send, family, refusal, close=_too_long(declared, 0, linger))
                return
            linger = LINGER_BYTES
        limit = self.limit_for(scope["method"], path)
        if declared is not None and declared > limit:
            message = f"the request body is {declared} bytes; the limit is {limit} bytes"
            refusal = Refusal(413, "payload_too_large", message)
            await _refuse(send, family, refusal, close=_too_long(declared, 0, linger))
            return
        await self._guarded(scope, receive, send, family, limit, declared, linger)

    async def _authenticate(self, scope: Scope, family: Family) -> Refusal | None:
        request = Request(scope)
        try:
            plain = token_from_headers(request)
            if plain is None and family != "send":  # the send API takes header tokens only
                plain = token_from_cookie(request)
        except ApiError as exc:
            return Refusal(exc.status, exc.code, exc.message)
        service = getattr(scope["app"].state, "service", None)
        if service is None:  # not started yet: let the app answer
            return None
        if await token_principal(service.store, plain) is not None:
            return None
        if family == "send":
            message = "Unauthorized: missing or invalid API token"
        else:
            message = "Missing or invalid API token"
        return Refusal(401, "invalid_or_expired_token", message)

    async def _guarded(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        family: Family,
        limit: int,
        declared: int | None,
        linger: int,
    ) -> None:
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the app's answer to a body it could not read: the 413 goes instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            message = f"the request body is over the limit of {limit} bytes"
            refusal = Refusal(413, "payload_too_large", message)
            await _refuse(send, family, refusal, close=_too_long(declared, received, linger))


def _content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None


def _too_long(declared: int | None, received: int, linger: int) -> bool:
    """Whether the unread rest of a body is too long (or unbounded) to drain."""
    return declared is None or declared - received > linger


async def _refuse(send: Send, family: Family, refusal: Refusal, *, close: bool) -> None:
    body = json.dumps(error_response(family, refusal.code, refusal.message)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
