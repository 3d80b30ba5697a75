"""The default test stack (service, SMTP with STARTTLS, HTTP on loopback) that the
foundation, hardening and HTML API tests run against, and its settings."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trustme

from mailqa.service import Service
from mailqa.settings import Settings

from .servers import serving_stack

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
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=90, **kw)

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


@asynccontextmanager
async def start_stack(settings: Settings) -> AsyncIterator[Running]:
    """The whole stack on ``settings``, its SMTP offering STARTTLS with a throw-away CA."""
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    tls_dir = settings.data_dir / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True)
    cert.private_key_and_cert_chain_pem.write_to_path(str(tls_dir / "server.pem"))
    settings = settings.model_copy(
        update={"smtp_tls_cert": tls_dir / "server.pem", "smtp_tls_key": tls_dir / "server.pem"}
    )
    async with serving_stack(settings) as served:
        yield Running(served.service, served.base_url, served.smtp_port, ADMIN_TOKEN, ca)


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
