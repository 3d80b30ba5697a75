"""SMTP capture: authenticate to an inbox, store the message, then answer 250.

Credentials are an inbox's SMTP username/password, or username ``any`` with an API token as
the password (delivers to that token's sandbox inbox; admin tokens only with
``smtp_allow_admin_tokens``). With ``smtp_accept_any``, unauthenticated mail goes to the
default inbox.

Failed AUTH attempts are limited per client address (see :mod:`mailqa.capture.auth_limit`),
and the credentials a session authenticated with are checked again at each MAIL FROM and
DATA: once the token is revoked or the inbox password reset, the session delivers nothing more
until it authenticates again. Successful checks are remembered for a second
(:mod:`mailqa.capture.credential_cache`), so a burst does not look up the same credentials
for every connection and message; failures are never remembered.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import ssl
from base64 import b64decode
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from mailqa.auth import (
    AdminTokenRefused,
    SmtpIdentity,
    secret_digest,
    smtp_identity_valid,
    smtp_principal,
)
from mailqa.capture.auth_limit import AuthFailureLimiter, refusal
from mailqa.capture.credential_cache import RecentlyValid
from mailqa.capture.spool import SpoolingSMTP
from mailqa.core.errors import AnalysisQueueFull, NotFound, QuotaExceeded
from mailqa.core.message import Envelope
from mailqa.net.connections import ConnectionLimiter
from mailqa.service import Service
from mailqa.usecases.inboxes import delivery_inbox

log = logging.getLogger(__name__)

ADMIN_TOKEN_REFUSED = (
    "535 5.7.8 Admin API tokens are not accepted over SMTP: use an inbox's SMTP credentials "
    "or a non-admin token"
)
CREDENTIALS_GONE = "530 5.7.0 Credentials no longer valid: authenticate again"
QUEUE_FULL = "451 4.3.2 Too many messages wait for analysis; try again later"


class _Revoked:
    """``auth_data`` of a session whose credentials were revoked after its AUTH."""


REVOKED = _Revoked()


def _peer_ip(session: Session | None) -> str | None:
    peer = session.peer if session is not None else None
    return str(peer[0]) if isinstance(peer, tuple) and peer else None


class CaptureHandler:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.settings = service.settings
        # (not auth_*: aiosmtpd offers a handler's auth_* attributes as AUTH mechanisms)
        self.failure_limiter = AuthFailureLimiter(
            self.settings.smtp_auth_max_failures,
            self.settings.smtp_auth_failure_window,
            self.settings.smtp_auth_backoff_seconds,
            self.settings.smtp_auth_backoff_max_seconds,
        )
        store = service.store
        self.recent_logins: RecentlyValid[AuthResult] = RecentlyValid(
            lambda: store.credentials_version
        )
        self.recent_identities: RecentlyValid[bool] = RecentlyValid(
            lambda: store.credentials_version
        )

    # AUTH (async, so credential checks can use the database) ------------------------------

    def _backing_off(self, server: SMTP) -> AuthResult | None:
        """Refuse at once, before any challenge, an address in its back-off."""
        wait = self.failure_limiter.retry_after(_peer_ip(server.session))
        return AuthResult(success=False, handled=False, message=refusal(wait)) if wait else None

    async def _check(self, server: SMTP, login: bytes, password: bytes) -> AuthResult:
        limiter = self.failure_limiter
        ip = _peer_ip(server.session)
        async with limiter.turn(ip):
            if refused := self._backing_off(server):
                return refused
            result = await self._authenticate(login, password)
            if result.success:
                limiter.succeeded(ip)
                return result
            limiter.failed(ip)
        if wait := limiter.retry_after(ip):
            log.warning("SMTP AUTH from %s refused for %.0f s: too many failures", ip, wait)
        return result

    async def _authenticate(self, login: bytes, password: bytes) -> AuthResult:
        user = login.decode("utf-8", "replace")
        secret = password.decode("utf-8", "replace")
        key = (user, secret_digest(secret))
        if (recent := self.recent_logins.get(key)) is not None:
            return recent
        version = self.service.store.credentials_version
        result = await self._resolve_login(user, secret)
        if result.success:
            self.recent_logins.remember(key, result, version)
        return result

    async def _resolve_login(self, user: str, secret: str) -> AuthResult:
        try:
            principal = await smtp_principal(
                self.service.store,
                user,
                secret,
                allow_admin_tokens=self.settings.smtp_allow_admin_tokens,
            )
        except AdminTokenRefused:
            return AuthResult(success=False, handled=False, message=ADMIN_TOKEN_REFUSED)
        if principal is None:
            return AuthResult(success=False, handled=False)
        try:
            inbox = await delivery_inbox(self.service, principal)
        except NotFound:
            inbox = None
        if inbox is None:
            return AuthResult(success=False, handled=False)
        return AuthResult(
            success=True, auth_data=SmtpIdentity.of(principal, user, secret, inbox.id)
        )

    async def _refuse_revoked(self, session: Session) -> str | None:
        """The reply refusing a transaction whose AUTH credentials are no longer valid (the
        session may authenticate again), or None to go on."""
        if session.auth_data is REVOKED:
            return CREDENTIALS_GONE
        identity = session.auth_data
        if not isinstance(identity, SmtpIdentity):
            return None
        if self.recent_identities.get(identity):
            return None
        version = self.service.store.credentials_version
        try:
            if await smtp_identity_valid(self.service.store, identity):
                self.recent_identities.remember(identity, True, version)
                return None
        except Exception:
            log.exception("could not check SMTP credentials")
            return "451 4.3.0 Temporary failure checking credentials; try again"
        log.info("SMTP session of %s refused: its credentials were revoked", session.auth_data.user)
        session.authenticated = False
        session.auth_data = REVOKED
        self.service.metrics.messages_rejected.labels("smtp", "revoked").inc()
        return CREDENTIALS_GONE

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if refused := self._backing_off(server):
            return refused
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
        return await self._check(server, login, password)

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if refused := self._backing_off(server):
            return refused
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
        return await self._check(server, bytes(login), bytes(password))

    # Transaction --------------------------------------------------------------------------

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: SmtpEnvelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if refused := await self._refuse_revoked(session):
            return refused
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

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
        if refused := await self._refuse_revoked(session):
            return refused
        identity = session.auth_data if isinstance(session.auth_data, SmtpIdentity) else None
        try:
            addressed = None
            if identity is None:  # an inbox's enabled e-mail address takes mail without a login
                addressed = await self.service.store.inbox_for_recipients(envelope.rcpt_tos)
            if identity is not None:
                inbox_id = identity.inbox_id
            elif addressed is not None:
                inbox_id = addressed.id
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
                tls=session.ssl is not None,
            )
            message_id = await self.service.capture(raw, inbox_id, env, source="smtp")
        except AnalysisQueueFull:
            return QUEUE_FULL
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
    limiter = ConnectionLimiter(
        settings.smtp_max_connections_per_address, settings.smtp_max_connections
    )
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
