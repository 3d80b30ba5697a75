"""mailqa served over TLS on loopback, an SMTP sink as the relay, and the official SDK.

The server's certificate comes from the local CA of ``mailqa serve --tls-self-signed``; the
SDK is made by ``mailqa.compat.mailtrap_client`` (what the docs tell users to call), which
changes only the host it talks to and the CA it trusts. Everything else (paths, payloads,
the pydantic models that parse every answer) is the SDK's own.

The SDK is synchronous and the server runs on the test loop: call it through ``sdk(...)``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from tests.support.servers import loopback_http, serving_stack

from mailqa.checks import BUILTIN_CHECKS
from mailqa.compat import mailtrap_client
from mailqa.net.local_ca import certificate_names, ensure_local_certificate
from mailqa.net.spamd.process import find_spamd
from mailqa.service import Service
from mailqa.settings import Settings

ADMIN_TOKEN = "mq_mailtrap_admin_token_0123456789"
ACCOUNT_ID = 4242  # any integer: mailqa has one account
ALLOWED = ["*@allowed.example", "qa@example.com"]
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101001829d8a40000000049454e44ae426082"
)

T = TypeVar("T")


async def sdk(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking SDK call off the loop that serves it."""
    return await asyncio.to_thread(fn, *args, **kwargs)


@dataclass
class Delivery:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None


@dataclass
class Sink:
    """Records what the relay delivered."""

    deliveries: list[Delivery] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        login = session.auth_data.login.decode() if session.auth_data else None
        self.deliveries.append(
            Delivery(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, login)
        )
        self.arrived.set()
        return "250 2.0.0 Ok: delivered"

    async def wait(self, count: int, within: float = 10.0) -> list[Delivery]:
        async with asyncio.timeout(within):
            while len(self.deliveries) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.deliveries


def sink_authenticator(login: str, password: str) -> Callable[..., AuthResult]:
    def check(server: SMTP, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == login
            and data.password.decode() == password
        )
        if not ok:
            return AuthResult(success=False, handled=False)  # aiosmtpd answers 535
        return AuthResult(success=True, auth_data=data)

    return check


async def start_sink(
    tls: trustme.LeafCert | None = None, login: tuple[str, str] | None = None
) -> tuple[Sink, asyncio.Server, int]:
    """A real aiosmtpd server on a loopback port; with ``tls`` it offers STARTTLS, with
    ``login`` it requires AUTH."""
    sink = Sink()
    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.configure_cert(context)

    def make() -> SMTP:
        return SMTP(
            sink,
            hostname="sink.test",
            tls_context=context,
            require_starttls=context is not None,
            auth_required=login is not None,
            auth_require_tls=context is not None,
            authenticator=sink_authenticator(*login) if login else None,
            decode_data=False,
        )

    server = await asyncio.get_running_loop().create_server(make, "127.0.0.1", 0)
    return sink, server, server.sockets[0].getsockname()[1]


@dataclass
class Stack:
    service: Service
    base_url: str
    ca_file: Path
    sink: Sink
    settings: Settings
    opened: list[Any] = field(default_factory=list)

    def client(self, token: str | None = ADMIN_TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        verify = ssl.create_default_context(cafile=str(self.ca_file))
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, verify=verify, timeout=30)

    def mailtrap(self, *, inbox_id: int | None = None, token: str = ADMIN_TOKEN) -> Any:
        """The SDK in sandbox mode when ``inbox_id`` is given, else testing-API only."""
        client = mailtrap_client(
            self.base_url, token, inbox_id=inbox_id, account_id=ACCOUNT_ID, ca_file=self.ca_file
        )
        self.opened.append(client)
        return client

    def close_sdk_sessions(self) -> None:
        """Idle TLS connections of the SDK's sessions would hold uvicorn's shutdown for
        asyncio's 30 s SSL shutdown timeout."""
        while self.opened:
            self.opened.pop().close()


def mailqa_checks() -> list[str]:
    """The checks this area runs: real spamd when installed (CI always has it), html once
    the html check exists, headers always."""
    checks = ["headers"]
    if find_spamd() is not None:
        checks.append("spam")
    elif os.environ.get("CI"):
        raise RuntimeError("spamd is not installed: scripts/setup.sh --dev installs it")
    checks += [name for name in ("html", "blacklist") if name in BUILTIN_CHECKS]
    return checks


@pytest_asyncio.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    data_dir = tmp_path_factory.mktemp("mailqa-mailtrap")
    tls = ensure_local_certificate(data_dir / "tls", certificate_names())
    sink, sink_server, sink_port = await start_sink()
    settings = Settings(
        data_dir=data_dir,
        api_token=ADMIN_TOKEN,
        checks=mailqa_checks(),
        offline=True,
        smtp_hostname="127.0.0.1",
        smtp_max_message_size=2_000_000,
        relay_host="127.0.0.1",
        relay_port=sink_port,
        relay_starttls=False,
        relay_allowed_recipients=ALLOWED,
        relay_timeout=5.0,
    )
    https = partial(
        loopback_http,
        timeout_graceful_shutdown=3,
        ssl_certfile=str(tls.cert_file),
        ssl_keyfile=str(tls.key_file),
    )
    try:
        async with serving_stack(settings, smtp=False, http=https) as served:
            running = Stack(
                service=served.service,
                base_url=served.base_url,
                ca_file=tls.ca_file,
                sink=sink,
                settings=settings,
            )
            try:
                yield running
            finally:
                running.close_sdk_sessions()
    finally:
        sink_server.close()
        await sink_server.wait_closed()


@pytest_asyncio.fixture(scope="session")
async def inbox_id(stack: Stack) -> int:
    """A fresh project and inbox for the SDK tests."""
    project = await stack.service.store.create_project("SDK tests")
    inbox = await stack.service.store.create_inbox(project.id, "SDK inbox", 50_000_000)
    return inbox.id


def b64(data: bytes) -> bytes:
    """Attachment content the way the SDK expects it: base64 bytes."""
    return base64.b64encode(data)
