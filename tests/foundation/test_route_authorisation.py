"""Every route of the app declares its authorisation, or is on the public list below.

A route declares it with one of the dependencies registered in ``api.deps.AUTHORISATION``
(a parameter such as ``PrincipalDep`` / ``AdminDep``, or a route dependency). A new route that
forgets fails here, and so does one whose declared dependency lets an anonymous request in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from tests.support.stack import Running

from mailqa.api.deps import AUTHORISATION, get_admin
from mailqa.api.routes.mailtrap.send import send_principal
from mailqa.app import create_app
from mailqa.settings import Settings
from mailqa.web.routes import page_session

# Reachable without credentials, on purpose: operations, the API's own documentation, the web
# UI's sign-in and its static files.
PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/docs/static",
    "/ui/static",
    "/login",
    "/logout",
    "/api/v1/schema/report",
}


def dependency_calls(dependant: Dependant) -> Iterator[Callable[..., object]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from dependency_calls(dependency)


def declared(route: RouteContext) -> set[Callable[..., object]]:
    """The authorisation dependencies of the route as mounted (its routers' included)."""
    return {call for call in dependency_calls(route.dependant) if call in AUTHORISATION}


def all_routes(app: FastAPI) -> list[RouteContext]:
    """Every route of the app, through the routers it includes."""
    return list(iter_route_contexts(app.routes))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(Settings(data_dir=Path(tmp_path_factory.mktemp("routes"))))


def protected_routes(app: FastAPI) -> list[RouteContext]:
    return [
        r
        for r in all_routes(app)
        if isinstance(r.original_route, APIRoute) and r.path not in PUBLIC
    ]


def test_every_route_declares_authorisation_or_is_public(app: FastAPI) -> None:
    undeclared = []
    for route in all_routes(app):
        if route.path in PUBLIC:
            continue
        if not isinstance(route.original_route, APIRoute) or not declared(route):
            undeclared.append(f"{route.path} {type(route.original_route).__name__}")
    assert undeclared == [], f"routes with neither authorisation nor a public entry: {undeclared}"
    paths = {r.path for r in all_routes(app)}
    assert paths >= PUBLIC, f"public entries that are no route: {PUBLIC - paths}"
    assert len(protected_routes(app)) > 80


def test_admin_routes_are_declared_per_endpoint(app: FastAPI) -> None:
    admin = {
        (method, r.path)
        for r in protected_routes(app)
        if get_admin in declared(r)
        for method in r.methods or ()
    }
    assert admin == {
        ("POST", "/api/v1/projects"),
        ("DELETE", "/api/v1/projects/{project_id}"),
        ("GET", "/api/v1/tokens"),
        ("POST", "/api/v1/tokens"),
        ("DELETE", "/api/v1/tokens/{token_id}"),
        ("POST", "/api/accounts/{account_id}/projects"),
        ("DELETE", "/api/accounts/{account_id}/projects/{project_id}"),
    }


def request_path(route: RouteContext) -> str:
    assert route.path is not None
    return re.sub(r"\{[^}]+\}", "1", route.path)


async def test_declared_routes_refuse_anonymous_requests(app: FastAPI, running: Running) -> None:
    async with running.client(token="") as c:
        for route in protected_routes(app):
            for method in sorted(route.methods or ()):
                r = await c.request(method, request_path(route), follow_redirects=False)
                where = f"{method} {route.path}"
                if page_session in declared(route):
                    assert r.status_code == 303 and r.headers["location"] == "/login", where
                    continue
                assert r.status_code == 401, f"{where}: {r.status_code} {r.text}"
                if send_principal in declared(route):
                    assert r.json()["success"] is False, where
                else:
                    assert "invalid_or_expired_token" in r.text, where


async def test_admin_routes_refuse_other_tokens(app: FastAPI, running: Running) -> None:
    async with running.client() as admin:
        project = (await admin.post("/api/v1/projects", json={"name": "routes"})).json()
        token = (
            await admin.post("/api/v1/tokens", json={"name": "p", "project_id": project["id"]})
        ).json()["token"]
    async with running.client(token) as c:
        for route in protected_routes(app):
            if get_admin not in declared(route):
                continue
            for method in sorted(route.methods or ()):
                r = await c.request(method, request_path(route))
                assert r.status_code == 403, f"{method} {route.path}: {r.status_code} {r.text}"
                assert "This needs an admin token" in r.text
