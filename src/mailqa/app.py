"""The composition root: ``create_app(settings)`` builds the HTTP application from its parts
(the API's routers, its error mapping and limits, the docs pages, the web UI); nothing is read
at import. ``ROUTERS`` lists the routers in the order they are mounted."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from mailqa import __version__
from mailqa.api.docs import install_docs
from mailqa.api.errors import install_error_handlers
from mailqa.api.limits import BodyLimitMiddleware
from mailqa.api.routes import (
    audits,
    health,
    mailtrap,
    native,
    previews,
    release,
    sandbox,
    webhooks,
)
from mailqa.api.validation import refuse_lone_surrogates
from mailqa.service import Service, open_service
from mailqa.settings import Settings
from mailqa.web import install_web_ui
from mailqa.worker.selection import select_executor

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    native.router,
    previews.router,
    sandbox.router,
    audits.router,
    webhooks.router,
    release.router,
    mailtrap.router,
)

DESCRIPTION = """Self-hosted email QA: capture mail over SMTP or HTTP, analyse it (HTML client
support, spam, blacklists, authentication, links) and serve the reports.

Authenticate with `Authorization: Bearer TOKEN` or `Api-Token: TOKEN`."""


def operation_id(route: APIRoute) -> str:
    """Unique per path and method set (some routes answer several methods)."""
    methods = "_".join(sorted(m.lower() for m in route.methods or ()))
    return re.sub(r"\W", "_", f"{route.name}_{route.path_format}_{methods}")


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    """The app. Pass a running ``service`` to share it (``mailqa serve``, tests); otherwise the
    app opens its own for its lifespan."""
    settings = settings or (service.settings if service else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if service is not None:
            app.state.service = service
            yield
            return
        async with open_service(settings, executor=select_executor) as own:
            await own.ensure_admin_token()
            app.state.service = own
            yield

    app = FastAPI(
        title="mailqa",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        dependencies=[Depends(refuse_lone_surrogates)],
        docs_url=None,  # served by install_docs, from the package's own files
        redoc_url=None,
    )
    if service is not None:
        app.state.service = service
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    for router in ROUTERS:
        app.include_router(router)
    install_docs(app)
    install_web_ui(app)
    return app
