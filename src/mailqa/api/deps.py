"""Request dependencies: the service, and the API token behind a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from mailqa.api.errors import ApiError
from mailqa.core.errors import NotFound
from mailqa.service import Service
from mailqa.store.models import ApiToken, Inbox


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def token_from_headers(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    api_token = request.headers.get("api-token", "").strip()
    return api_token or None


@dataclass(frozen=True)
class Principal:
    """The token a request carries, and what it may see."""

    token: ApiToken

    @property
    def is_admin(self) -> bool:
        return self.token.is_admin

    def can_see_inbox(self, inbox: Inbox) -> bool:
        if self.token.is_admin:
            return True
        if self.token.project_id is not None:
            return inbox.project_id == self.token.project_id
        return inbox.id == self.token.sandbox_inbox_id

    def can_see_project(self, project_id: int) -> bool:
        return self.token.is_admin or self.token.project_id == project_id


# The web UI signs in once and keeps the API token in this HttpOnly, SameSite=Strict cookie.
SESSION_COOKIE = "mailqa_session"
# Cookie-authenticated requests that change something must carry this header: a cross-site
# form cannot set it, and a cross-site fetch that sets it fails its CORS preflight.
CSRF_HEADER = "X-Mailqa-Request"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token_from_cookie(request: Request) -> str | None:
    """The session cookie's token; refused (403) on a mutating request without the header."""
    plain = request.cookies.get(SESSION_COOKIE, "").strip()
    if not plain:
        return None
    if request.method not in SAFE_METHODS and not request.headers.get(CSRF_HEADER):
        raise ApiError(
            403,
            "csrf_header_missing",
            f"Requests signed in by the session cookie must send the {CSRF_HEADER} header",
        )
    return plain


async def get_principal(request: Request, service: ServiceDep) -> Principal:
    plain = token_from_headers(request) or token_from_cookie(request)
    token = await service.store.resolve_token(plain) if plain else None
    if token is None:
        raise ApiError(401, "invalid_or_expired_token", "Missing or invalid API token")
    return Principal(token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def visible_inbox(service: Service, principal: Principal, inbox_id: int) -> Inbox:
    """The inbox, or NotFound when it does not exist or belongs to another project."""
    inbox = await service.store.get_inbox(inbox_id)
    if not principal.can_see_inbox(inbox):
        raise NotFound(f"inbox {inbox_id} not found")
    return inbox


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "This needs an admin token")
