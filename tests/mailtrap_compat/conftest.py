"""mailqa served over TLS on loopback, an SMTP sink as the relay, and the official SDK.

The SDK speaks https to fixed Mailtrap hosts; ``LocalMailtrap`` changes only the host it
talks to (``api_host`` for sending; the same host for the testing API) and trusts the
throw-away CA through ``REQUESTS_CA_BUNDLE``. Everything else (paths, payloads, the pydantic
models that parse every answer) is the SDK's own.

The SDK is synchronous and the server runs on the test loop: call it through ``sdk(...)``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import mailtrap as mt
import pytest
import pytest_asyncio
import trustme
import uvicorn
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from mailtrap.api.sending import SendingApi
from mailtrap.api.testing import TestingApi
from mailtrap.http import HttpClient

from mailqa.app import create_app
from mailqa.checks import BUILTIN_CHECKS
from mailqa.net.spamd import find_spamd
from mailqa.service import Service, open_service
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


OPENED: list[HttpClient] = []


def close_sdk_sessions() -> None:
    """The SDK never closes the requests sessions it opens; their idle TLS connections would
    hold uvicorn's shutdown for asyncio's 30 s SSL shutdown timeout."""
    while OPENED:
        OPENED.pop()._session.close()


class LocalMailtrap(mt.MailtrapClient):
    """The official client pointed at a local host (``127.0.0.1:PORT``)."""

    def _local(self) -> HttpClient:
        assert self.api_host
        client = HttpClient(host=self.api_host, headers=self.headers, timeout=30)
        OPENED.append(client)
        return client

    @property
    def testing_api(self) -> TestingApi:
        self._validate_account_id()
        return TestingApi(
            account_id=str(self.account_id), inbox_id=self.inbox_id, client=self._local()
        )

    @property
    def sending_api(self) -> SendingApi:
        return SendingApi(client=self._local(), inbox_id=self.inbox_id)


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
    host: str  # 127.0.0.1:PORT, as the SDK wants it
    ca: trustme.CA
    ca_file: Path
    sink: Sink
    settings: Settings

    def client(self, token: str | None = ADMIN_TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        verify = ssl.create_default_context(cafile=str(self.ca_file))
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, verify=verify, timeout=30)

    def mailtrap(self, *, inbox_id: int | None = None, token: str = ADMIN_TOKEN) -> LocalMailtrap:
        """The SDK in sandbox mode when ``inbox_id`` is given, else testing-API only."""
        return LocalMailtrap(
            token=token,
            api_host=self.host,
            sandbox=inbox_id is not None,
            inbox_id=str(inbox_id) if inbox_id is not None else None,
            account_id=str(ACCOUNT_ID),
        )


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


@pytest.fixture(scope="session")
def ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, Path]]:
    """A throw-away CA that requests (the SDK's HTTP library) trusts for this session."""
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(path)
    yield ca, path
    if previous is None:
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
    else:
        os.environ["REQUESTS_CA_BUNDLE"] = previous


@pytest_asyncio.fixture(scope="session")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, ca_bundle: tuple[trustme.CA, Path]
) -> AsyncIterator[Stack]:
    ca, ca_file = ca_bundle
    data_dir = tmp_path_factory.mktemp("mailqa-mailtrap")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file = data_dir / "server.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
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
    async with open_service(settings) as service:
        await service.ensure_admin_token()
        app = create_app(settings, service)
        app.state.smtp_address = ("127.0.0.1", 2525)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=0,
                log_level="warning",
                lifespan="on",
                timeout_graceful_shutdown=3,
                ssl_certfile=str(cert_file),
                ssl_keyfile=str(cert_file),
            )
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield Stack(
                service=service,
                base_url=f"https://127.0.0.1:{port}",
                host=f"127.0.0.1:{port}",
                ca=ca,
                ca_file=ca_file,
                sink=sink,
                settings=settings,
            )
        finally:
            close_sdk_sessions()
            server.should_exit = True
            await task
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
