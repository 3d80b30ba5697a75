"""mailqa's own servers on loopback ports, started and stopped the way `mailqa serve` does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

from mailqa.app import create_app
from mailqa.capture.smtp import start_smtp_server
from mailqa.service import Service, open_service
from mailqa.settings import Settings
from mailqa.worker.selection import select_executor


def loopback_http(app: FastAPI, **options: Any) -> uvicorn.Config:
    """uvicorn on a free loopback port, quiet, running the app's lifespan; ``options`` add
    to or override that (TLS files, a shutdown timeout)."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "log_level": "warning",
        "lifespan": "on",
        **options,
    }
    return uvicorn.Config(app, **values)


@asynccontextmanager
async def serving_http(config: uvicorn.Config) -> AsyncIterator[int]:
    """Serve ``config`` on this loop; yields the bound port."""
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # its start-up error, if it raised one
            raise RuntimeError("uvicorn stopped before it started serving")
        await asyncio.sleep(0.01)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def serving_smtp(service: Service) -> AsyncIterator[int]:
    """mailqa's SMTP capture for ``service`` on a free loopback port; yields the port."""
    server = await start_smtp_server(service, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


@dataclass(frozen=True)
class Served:
    """A running stack: the service, its HTTP API and (when started) its SMTP capture."""

    service: Service
    settings: Settings
    base_url: str
    http_port: int
    smtp_port: int


@asynccontextmanager
async def serving_stack(
    settings: Settings,
    *,
    smtp: bool = True,
    http: Callable[[FastAPI], uvicorn.Config] = loopback_http,
) -> AsyncIterator[Served]:
    """The service on ``settings`` (its admin token made), the SMTP capture unless ``smtp``
    is false, and the API served with the uvicorn configuration ``http`` makes for it.
    Without SMTP, ``smtp_port`` is the configured one (what the API then advertises)."""
    async with (
        open_service(settings, executor=select_executor) as service,
        AsyncExitStack() as running,
    ):
        await service.ensure_admin_token()
        app = create_app(settings, service)
        smtp_port = settings.smtp_port
        if smtp:
            smtp_port = await running.enter_async_context(serving_smtp(service))
            app.state.smtp_address = ("127.0.0.1", smtp_port)
        config = http(app)
        http_port = await running.enter_async_context(serving_http(config))
        scheme = "https" if config.is_ssl else "http"
        yield Served(service, settings, f"{scheme}://127.0.0.1:{http_port}", http_port, smtp_port)
