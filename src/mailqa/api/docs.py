"""The API documentation pages (``/docs``, ``/redoc``) with their assets served by the app.

Swagger UI and ReDoc come from the ``fastapi-offline`` package, not a CDN: no third party's
script runs on the origin of the cookie-authenticated UI, and the pages work offline. Each
page carries a CSP allowing its own files and its one inline script (by hash), nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
STATIC_URL = "/docs/static"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _csp(html: str, *, inline_styles: bool) -> str:
    """Own files only, plus the page's inline scripts by their hash. ReDoc writes its styles
    into ``<style>`` elements at run time, which only 'unsafe-inline' allows."""
    scripts = ["'self'"] + [
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html)
    ]
    style = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    return (
        f"default-src 'none'; script-src {' '.join(scripts)}; style-src {style}; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _page(html: HTMLResponse, *, inline_styles: bool = False) -> HTMLResponse:
    text = bytes(html.body).decode()
    return HTMLResponse(
        text,
        headers={
            "Content-Security-Policy": _csp(text, inline_styles=inline_styles),
            "X-Frame-Options": "DENY",
        },
    )


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI), ``/redoc`` and their assets under ``/docs/static``.
    Create the app with ``docs_url=None, redoc_url=None``."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url
    oauth2_redirect_url = "/docs/oauth2-redirect"
    app.mount(STATIC_URL, StaticFiles(directory=ASSETS), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            # No badge fetched from the public validator service.
            swagger_ui_parameters={"validatorUrl": None},
        )
        return _page(page)

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _page(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )
        return _page(page, inline_styles=True)
