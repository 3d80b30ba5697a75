"""A running mailqa (service + SMTP + HTTP on loopback) shared by the foundation tests."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import trustme
import uvicorn
from tests.conftest import throwaway_pg_database

from mailqa.app import create_app
from mailqa.capture.smtp import start_smtp_server
from mailqa.service import Service, open_service
from mailqa.settings import Settings

ADMIN_TOKEN = "mq_test_admin_token_0123456789"


@dataclass
class Running:
    service: Service
    base_url: str
    smtp_port: int
    token: str
    tls_ca: trustme.CA

    def client(self, token: str | None = None, **kw: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token or self.token}"} if token != "" else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30, **kw)

    def smtp_send(
        self,
        raw: bytes,
        *,
        login: tuple[str, str] | None = None,
        mail_from: str = "sender@app.example",
        rcpt: list[str] | None = None,
        starttls: bool = False,
    ) -> dict[str, tuple[int, bytes]]:
        """Send with the real smtplib client (blocking: call it through asyncio.to_thread)."""
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            smtp.ehlo("client.test")
            if starttls:
                ctx = ssl.create_default_context()
                self.tls_ca.configure_trust(ctx)
                smtp.starttls(context=ctx)
                smtp.ehlo("client.test")
            if login:
                smtp.login(*login)
            return smtp.sendmail(mail_from, rcpt or ["user@example.com"], raw)


async def start_stack(settings: Settings) -> AsyncIterator[Running]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    tls_dir = settings.data_dir / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True)
    cert.private_key_and_cert_chain_pem.write_to_path(str(tls_dir / "server.pem"))
    settings = settings.model_copy(
        update={"smtp_tls_cert": tls_dir / "server.pem", "smtp_tls_key": tls_dir / "server.pem"}
    )
    async with open_service(settings) as service:
        await service.ensure_admin_token()
        smtp = await start_smtp_server(service, "127.0.0.1", 0)
        smtp_port = smtp.sockets[0].getsockname()[1]
        app = create_app(settings, service)
        app.state.smtp_address = ("127.0.0.1", smtp_port)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield Running(service, f"http://127.0.0.1:{port}", smtp_port, ADMIN_TOKEN, ca)
        finally:
            server.should_exit = True
            await task
            smtp.close()
            await smtp.wait_closed()


def base_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "api_token": ADMIN_TOKEN,
        "checks": ["headers"],
        "offline": True,
        "smtp_max_message_size": 300_000,
        "smtp_max_recipients": 5,
        "smtp_hostname": "127.0.0.1",
    }
    values.update(overrides)
    return Settings(**values)


@pytest_asyncio.fixture(scope="session")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """The whole stack on SQLite (admin tokens accepted over SMTP: tests send with one)."""
    settings = base_settings(tmp_path_factory.mktemp("mailqa"), smtp_allow_admin_tokens=True)
    async for stack in start_stack(settings):
        yield stack


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session."""
    yield from throwaway_pg_database("mailqa_test")


@pytest_asyncio.fixture(scope="session")
async def running_pg(
    tmp_path_factory: pytest.TempPathFactory, pg_url: str
) -> AsyncIterator[Running]:
    """The whole stack on PostgreSQL (admin tokens accepted over SMTP: tests send with one)."""
    settings = base_settings(
        tmp_path_factory.mktemp("mailqa-pg"), database_url=pg_url, smtp_allow_admin_tokens=True
    )
    async for stack in start_stack(settings):
        yield stack


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest) -> Running:
    """The stack on each database in turn."""
    stack: Running = request.getfixturevalue(
        "running" if request.param == "sqlite" else "running_pg"
    )
    return stack


@pytest.fixture
def sample() -> bytes:
    return (Path(__file__).parent.parent / "samples" / "welcome.eml").read_bytes()
