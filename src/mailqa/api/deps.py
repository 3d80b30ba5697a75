"""Request dependencies: the service, and who a request acts as."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from mailqa.api.errors import ApiError
from mailqa.auth import Principal, token_principal
from mailqa.service import Service

# The dependencies that authorise a request: every route that is not public declares one,
# as a parameter or a route dependency (a test walks every route of the app).
AUTHORISATION: set[Callable[..., object]] = set()
F = TypeVar("F", bound=Callable[..., object])


def authorisation(dependency: F) -> F:
    """Register ``dependency`` as one that authorises the requests of the routes using it."""
    AUTHORISATION.add(dependency)
    return dependency


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


@authorisation
async def get_principal(request: Request, service: ServiceDep) -> Principal:
    """Any valid API token, from a header or the session cookie (401 without one)."""
    plain = token_from_headers(request) or token_from_cookie(request)
    principal = await token_principal(service.store, plain)
    if principal is None:
        raise ApiError(401, "invalid_or_expired_token", "Missing or invalid API token")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


@authorisation
async def get_admin(principal: PrincipalDep) -> Principal:
    """An admin token (403 for any other)."""
    principal.require_admin()
    return principal


AdminDep = Annotated[Principal, Depends(get_admin)]
