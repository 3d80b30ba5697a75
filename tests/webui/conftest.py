"""The web UI against a real running mailqa (service, SMTP, HTTP) and Debian's Chromium.

One server stack and one browser per session; each test gets a fresh page. Every built-in
check runs, the network ones sealed in: DNS goes only to the session's NSD (``dns_lab``: its
test zones, DKIM keys and block lists) and HTTP only to servers on loopback, which is
allow-listed for the link checker.
"""

from __future__ import annotations

import asyncio
import smtplib
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dkim
import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright
from tests.support.servers import loopback_http, serving_stack

from mailqa.checks import BUILTIN_CHECKS
from mailqa.core.report import Report
from mailqa.service import Service
from mailqa.settings import Settings

if TYPE_CHECKING:
    from tests.dnscheck.conftest import DnsLab

ADMIN_TOKEN = "mq_webui_admin_token_0123456789"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "webui"


def png_pixel() -> bytes:
    """A valid 1×1 PNG, so the browser really decodes a loaded image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@dataclass
class ImageServer:
    """A plain HTTP server on loopback that serves one image and counts requests."""

    port: int = 0
    hits: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/pixel.png"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        self.hits.append(request.split(b"\r\n", 1)[0].decode())
        body = png_pixel()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()


@dataclass
class Stack:
    service: Service
    base_url: str
    smtp_port: int
    images: ImageServer
    inbox: dict[str, Any]

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        )

    def smtp_send(self, raw: bytes, rcpt: str = "user@example.com") -> None:
        """Send with the real smtplib client into the test inbox (blocking: use a thread)."""
        smtp = self.inbox["smtp"]
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as client:
            client.ehlo("client.test")
            client.login(smtp["username"], smtp["password"])
            client.sendmail("sender@app.example", [rcpt], raw)

    async def send(self, raw: bytes) -> None:
        await asyncio.to_thread(self.smtp_send, raw)

    async def upload(self, raw: bytes, inbox_id: int | None = None, **envelope: str) -> int:
        """Upload through the API; ``envelope``: client_ip, mail_from, helo (as if sent so)."""
        async with self.api() as c:
            r = await c.post(
                f"/api/v1/inboxes/{inbox_id or self.inbox['id']}/messages",
                content=raw,
                params=envelope,
                headers={"Content-Type": "message/rfc822"},
            )
            r.raise_for_status()
            return int(r.json()["id"])

    async def wait_report(self, message_id: int, within: float = 30) -> dict[str, Any]:
        """Poll the API until the stored report exists."""
        deadline = asyncio.get_running_loop().time() + within
        async with self.api() as c:
            while True:
                r = await c.get(f"/api/v1/messages/{message_id}/report")
                if r.status_code == 200:
                    return dict(r.json())
                assert asyncio.get_running_loop().time() < deadline, "report never arrived"
                await asyncio.sleep(0.1)


def ui_checks() -> list[str]:
    """Every built-in check: the stack's network is the test NSD and loopback only. (Not the
    probe checks other tests register in this process: the server's analysis processes do
    not know them.)"""
    return [name for name, cls in BUILTIN_CHECKS.items() if cls.__module__.startswith("mailqa.")]


async def mutate_report(
    stack: Stack, message_id: int, change: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Wait for the real stored report, let ``change`` edit it (the real shape, as JSON) and
    store it back; returns the report as the API then serves it."""
    body = await stack.wait_report(message_id)
    change(body)
    uid = (await stack.service.store.get_message(message_id)).uid
    await stack.service.store.save_report(message_id, uid, Report.model_validate(body))
    async with stack.api() as c:
        r = await c.get(f"/api/v1/messages/{message_id}/report")
        r.raise_for_status()
        return dict(r.json())


@pytest_asyncio.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory, dns_lab: DnsLab) -> AsyncIterator[Stack]:
    images = ImageServer()
    image_server = await asyncio.start_server(images.handle, "127.0.0.1", 0)
    images.port = image_server.sockets[0].getsockname()[1]
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("webui"),
        api_token=ADMIN_TOKEN,
        checks=ui_checks(),
        offline=False,
        dns_servers=[dns_lab.nsd.address],  # names resolve in the test zones or not at all
        dnsbl_file=dns_lab.dnsbl_file,
        dns_timeout=2.0,
        link_allow=["127.0.0.1/32"],  # the loopback test servers; nothing else is reachable
        link_connect_timeout=2.0,
        link_timeout=3.0,
        link_total_timeout=5.0,
        spamd_network_rules=False,
        smtp_hostname="127.0.0.1",
    )
    quick_shutdown = partial(loopback_http, timeout_graceful_shutdown=2)
    try:
        async with serving_stack(settings, http=quick_shutdown) as served:
            async with httpx.AsyncClient(
                base_url=served.base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            ) as c:
                project = (await c.post("/api/v1/projects", json={"name": "Newsletters"})).json()
                inbox = (
                    await c.post(
                        f"/api/v1/projects/{project['id']}/inboxes", json={"name": "Staging"}
                    )
                ).json()
            yield Stack(served.service, served.base_url, served.smtp_port, images, inbox)
    finally:
        image_server.close()


@pytest_asyncio.fixture(scope="session")
async def browser(stack: Stack) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@dataclass
class Session:
    page: Page
    dialogs: list[str]
    errors: list[str]


@pytest_asyncio.fixture
async def ui(browser: Browser, stack: Stack) -> AsyncIterator[Session]:
    """A signed-in page (fresh context: its own cookie jar) that records dialogs and errors."""
    context = await browser.new_context(viewport={"width": 1360, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(10_000)
    dialogs: list[str] = []
    errors: list[str] = []

    async def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{stack.base_url}/login")
    await page.fill("#token", ADMIN_TOKEN)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#nav-tree a.inbox")
    try:
        yield Session(page, dialogs, errors)
    finally:
        await context.close()


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=False)
    return path


def build_message(
    *,
    subject: str,
    html: str | None = None,
    text: str | None = "Plain text part.",
    from_: str = "Acme News <news@acme.example>",
    to: str = "Customer <user@example.com>",
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
    inline_png_cid: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = from_
    msg["To"] = to
    msg["Date"] = "Mon, 02 Mar 2026 10:00:00 +0000"
    msg["Message-ID"] = "<ui-test@acme.example>"
    for name, value in (headers or {}).items():
        msg[name] = value
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
        if inline_png_cid:
            parts = msg.get_payload()
            html_part = parts[-1] if isinstance(parts, list) else msg
            assert isinstance(html_part, EmailMessage)
            html_part.add_related(
                png_pixel(), maintype="image", subtype="png", cid=f"<{inline_png_cid}>"
            )
    for filename, ctype, payload in attachments or []:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def dkim_signed(raw: bytes, key: bytes, domain: str = "good.example") -> bytes:
    """``raw`` with a DKIM-Signature by ``key`` (published as ``sel._domainkey`` in the lab)."""
    signature = dkim.sign(
        raw,
        b"sel",
        domain.encode(),
        key,
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    return bytes(signature) + raw
