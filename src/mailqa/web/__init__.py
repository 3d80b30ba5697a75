"""The browser UI, served by the API app: ``install_web_ui(app)``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from mailqa.web.routes import STATIC_DIR, router
from mailqa.web.security import SecurityHeaders

__all__ = ["install_web_ui"]


def install_web_ui(app: FastAPI) -> None:
    """Add the UI pages, their static assets and the security headers every response gets."""
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
    app.add_middleware(SecurityHeaders)
