"""Pages and browser-only endpoints of the web UI.

The UI is one page (``/``) whose script calls the JSON API with the session cookie. The
routes here are what the API lacks for a browser: sign-in/out, the sandboxed preview
document, and a Server-Sent Events stream of an inbox's changes.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.templating import Jinja2Templates

from mailqa import __version__
from mailqa.api.deps import (
    CSRF_HEADER,
    SESSION_COOKIE,
    PrincipalDep,
    ServiceDep,
    authorisation,
)
from mailqa.api.errors import ApiError
from mailqa.auth import Principal, token_principal
from mailqa.core.errors import NotFound, SourceExpired
from mailqa.service import Service
from mailqa.usecases import inboxes, messages
from mailqa.web.preview import content_security_policy, preview_document

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescapes .html

router = APIRouter(include_in_schema=False)

# An event stream ends after this long; EventSource reconnects on its own. Bounding it lets
# the server shut down gracefully without waiting on idle browsers.
STREAM_SECONDS = 30.0
# How often the stream sends a keep-alive when nothing changed. It reads the inbox again only
# when the inbox changed (writes by other processes are seen through the store's poll).
STREAM_KEEPALIVE_SECONDS = 5.0
# Messages compared between wake-ups (the first page the UI shows).
STREAM_WINDOW = 50
MAX_TOKEN_LENGTH = 512


def _same_origin(request: Request) -> bool:
    """True unless the browser says the request came from another origin."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # Browsers send Origin on every cross-site POST; its absence means same-origin or a
        # non-browser client. "null" comes from sandboxed/opaque contexts: refuse it.
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc.lower() == request.headers.get("host", "").lower()


async def _token_principal(service: Service, plain: str) -> Principal | None:
    """The principal of a token typed in or kept in the session cookie (None if too long)."""
    if len(plain) > MAX_TOKEN_LENGTH:
        return None
    return await token_principal(service.store, plain)


@authorisation
async def page_session(request: Request, service: ServiceDep) -> Principal | None:
    """The session cookie's principal for a page, None when signed out (the page then sends
    the browser to sign in)."""
    return await _token_principal(service, request.cookies.get(SESSION_COOKIE, "").strip())


PageSessionDep = Annotated[Principal | None, Depends(page_session)]


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"version": __version__, **context}, status_code=status
    )


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, session: PageSessionDep) -> Response:
    if session is None:
        return RedirectResponse("/login", status_code=303)
    return _page(request, "app.html", csrf_header=CSRF_HEADER)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    return _page(request, "login.html")


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request, service: ServiceDep, token: Annotated[str, Form(max_length=4096)] = ""
) -> Response:
    if not _same_origin(request):
        return _page(request, "login.html", 403, error="Sign-in from another site is refused.")
    plain = token.strip()
    if await _token_principal(service, plain) is None:
        return _page(request, "login.html", 401, error="That token is not valid.")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        plain,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", status_code=204)
async def logout(request: Request) -> Response:
    if not request.headers.get(CSRF_HEADER) or not _same_origin(request):
        raise ApiError(403, "csrf_header_missing", f"Send the {CSRF_HEADER} header")
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/ui/session")
async def session_info(principal: PrincipalDep) -> dict[str, Any]:
    """Who the UI is signed in as."""
    t = principal.token
    assert t is not None  # an API request's principal is a token
    return {
        "name": t.name,
        "prefix": t.prefix,
        "is_admin": t.is_admin,
        "project_id": t.project_id,
        "version": __version__,
    }


@router.get("/ui/messages/{message_id}/preview", response_class=HTMLResponse)
async def preview(
    message_id: int,
    service: ServiceDep,
    principal: PrincipalDep,
    remote_images: Annotated[bool, Query()] = False,
) -> Response:
    """The HTML part for the sandboxed frame, under a CSP that runs nothing and loads nothing
    (remote images only when asked)."""
    row = await messages.get_message(service, principal, message_id)
    headers = {
        "Content-Security-Policy": content_security_policy(remote_images),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }
    try:
        raw = await messages.raw_source(service, row)
    except SourceExpired:
        note = "<!doctype html><p>Retention has cleaned up the source of this message.</p>"
        return HTMLResponse(note, status_code=410, headers=headers)
    return HTMLResponse(preview_document(await messages.parsed_source(raw, row)), headers=headers)


async def _inbox_state(service: Service, principal: Principal, inbox_id: int) -> dict[str, Any]:
    # NotFound once deleted
    rows, total = await messages.list_messages(service, principal, inbox_id, limit=STREAM_WINDOW)
    state = [[m.id, m.analysis_status, m.is_read, m.score] for m in rows]
    return {
        "total": total,
        "latest_id": rows[0].id if rows else None,
        "unread": sum(1 for m in rows if not m.is_read),
        "state": state,
    }


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get("/ui/inboxes/{inbox_id}/events")
async def inbox_events(inbox_id: int, service: ServiceDep, principal: PrincipalDep) -> Response:
    """Server-Sent Events: ``changed`` whenever the inbox's first page changes (a new
    message, a finished analysis, a read flag), ``gone`` when the inbox is deleted."""
    await inboxes.get_inbox(service, principal, inbox_id)

    async def stream() -> AsyncIterator[str]:
        deadline = time.monotonic() + STREAM_SECONDS
        yield "retry: 1500\n\n"
        last: dict[str, Any] | None = None
        changed = True  # the first state is always sent
        with service.watch(inbox_id) as watch:  # before the first read: miss nothing
            while True:
                if changed:
                    try:
                        state = await _inbox_state(service, principal, inbox_id)
                    except NotFound:
                        yield _event("gone", {"inbox_id": inbox_id})
                        return
                if changed and state != last:
                    last = state
                    summary = {k: v for k, v in state.items() if k != "state"}
                    yield _event("changed", summary)
                else:
                    yield ": keep-alive\n\n"
                if time.monotonic() >= deadline:
                    return
                changed = await watch.changed(STREAM_KEEPALIVE_SECONDS)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
