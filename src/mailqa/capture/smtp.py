"""SMTP capture: authenticate to an inbox, store the message, then answer 250.

Credentials are an inbox's SMTP username/password, or username ``any`` with an API token as
the password (delivers to that token's sandbox inbox). With ``smtp_accept_any``,
unauthenticated mail goes to the default inbox.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import ssl
from base64 import b64decode
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from mailqa.capture.spool import SpoolingSMTP
from mailqa.core.errors import NotFound, QuotaExceeded
from mailqa.core.message import Envelope
from mailqa.net.connections import AddressLimiter
from mailqa.service import Service

log = logging.getLogger(__name__)

SANDBOX_LOGIN = "any"


@dataclass(frozen=True)
class SmtpIdentity:
    """Who authenticated, and where their mail goes."""

    user: str
    inbox_id: int


class CaptureHandler:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.settings = service.settings

    # AUTH (async, so credential checks can use the database) ------------------------------

    async def _check(self, login: bytes, password: bytes) -> AuthResult:
        user = login.decode("utf-8", "replace")
        secret = password.decode("utf-8", "replace")
        store = self.service.store
        inbox_id: int | None = None
        if user == SANDBOX_LOGIN:
            token = await store.resolve_token(secret)
            if token is not None:
                inbox = await store.sandbox_inbox(
                    token, create=True, quota_bytes=self.settings.inbox_quota_bytes
                )
                inbox_id = inbox.id if inbox else None
        else:
            found = await store.find_inbox_by_smtp(user, secret)
            inbox_id = found.id if found else None
        if inbox_id is None:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=SmtpIdentity(user, inbox_id))

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False)
        else:
            try:
                blob = b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        try:
            _, login, password = bytes(blob).split(b"\x00")
        except ValueError:
            await server.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False, handled=True)
        return await self._check(login, password)

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            login = await server.challenge_auth(SMTP.AuthLoginUsernameChallenge)
            if login is MISSING:
                return AuthResult(success=False)
        else:
            try:
                login = b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        password = await server.challenge_auth(SMTP.AuthLoginPasswordChallenge)
        if password is MISSING:
            return AuthResult(success=False)
        return await self._check(bytes(login), bytes(password))

    # Transaction --------------------------------------------------------------------------

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: SmtpEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= self.settings.smtp_max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        identity = session.auth_data if isinstance(session.auth_data, SmtpIdentity) else None
        try:
            if identity is not None:
                inbox_id = identity.inbox_id
            elif self.settings.smtp_accept_any:
                inbox_id = (
                    await self.service.store.default_inbox(
                        self.settings.inbox_quota_bytes, self.settings.smtp_default_inbox
                    )
                ).id
            else:
                return "530 5.7.0 Authentication required"
            raw = envelope.original_content or b""
            if isinstance(raw, str):
                raw = raw.encode("utf-8", "surrogateescape")
            peer = session.peer
            client_ip = peer[0] if isinstance(peer, tuple) and peer else None
            env = Envelope(
                mail_from=envelope.mail_from or None,
                rcpt_to=tuple(envelope.rcpt_tos),
                client_ip=client_ip,
                helo=session.host_name or None,
            )
            message_id = await self.service.capture(raw, inbox_id, env, source="smtp")
        except QuotaExceeded:
            self.service.metrics.messages_rejected.labels("smtp", "quota").inc()
            return "552 5.2.2 Mailbox full: inbox storage quota exceeded"
        except NotFound:
            return "550 5.1.1 Inbox no longer exists"
        except Exception:
            log.exception("could not store message")
            self.service.metrics.messages_rejected.labels("smtp", "error").inc()
            return "451 4.3.0 Temporary failure storing the message; try again"
        return f"250 2.0.0 Ok: queued as {message_id}"


class CaptureSMTP(SpoolingSMTP):
    """Lines of up to 1 MiB are taken as sent: a sandbox captures what the application really
    sends, and the headers check reports lines over RFC 5322's 998 characters. DATA is
    spooled, sessions time out when idle and are capped per client address (``spool.py``)."""

    line_length_limit = 1024 * 1024


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def smtp_factory(service: Service) -> Any:
    """A protocol factory for ``loop.create_server``: one SMTP instance per connection."""
    settings = service.settings
    handler = CaptureHandler(service)
    context = None
    if settings.smtp_tls_cert and settings.smtp_tls_key:
        context = tls_context(str(settings.smtp_tls_cert), str(settings.smtp_tls_key))
    limiter = AddressLimiter(settings.smtp_max_connections_per_address)
    large_captures = asyncio.Semaphore(settings.smtp_large_captures)

    def make() -> SMTP:
        return CaptureSMTP(
            handler,
            spool_bytes=settings.smtp_spool_bytes,
            large_captures=large_captures,
            limiter=limiter,
            timeout=settings.smtp_idle_timeout,
            hostname=settings.smtp_hostname,
            ident="mailqa ESMTP",
            data_size_limit=settings.smtp_max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            auth_required=not settings.smtp_accept_any,
            auth_require_tls=False,
            tls_context=context,
            require_starttls=False,
        )

    return make


async def start_smtp_server(service: Service, host: str, port: int) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(smtp_factory(service), host=host, port=port)
