"""Forward (release) a captured message through a configured SMTP relay.

Captured mail is never delivered on its own. Forwarding re-sends the stored bytes unchanged
to recipients that match ``MAILQA_RELAY_ALLOWED_RECIPIENTS`` (shell-style patterns such as
``*@example.com``; none configured means nobody may receive released mail).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from fnmatch import fnmatchcase

from mailqa.settings import Settings

NOT_CONFIGURED = (
    "No SMTP relay is configured, so captured mail cannot be forwarded. Set MAILQA_RELAY_HOST "
    "(and as needed MAILQA_RELAY_PORT, MAILQA_RELAY_STARTTLS, MAILQA_RELAY_USERNAME, "
    "MAILQA_RELAY_PASSWORD) and list who may receive released mail in "
    "MAILQA_RELAY_ALLOWED_RECIPIENTS (patterns such as *@example.com)."
)


class RelayError(Exception):
    """Forwarding failed. ``status`` is the HTTP status that explains it best."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RelayResult:
    recipients: list[str]
    relay: str


class Relay:
    """The SMTP relay of ``settings``; one short SMTP session per forward."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        return bool(self.settings.relay_host)

    @property
    def address(self) -> str:
        return f"{self.settings.relay_host}:{self.settings.relay_port}"

    def allowed(self, recipient: str) -> bool:
        address = recipient.strip().lower()
        return any(
            fnmatchcase(address, pattern.strip().lower())
            for pattern in self.settings.relay_allowed_recipients
        )

    def vet(self, recipients: list[str]) -> list[str]:
        """The recipients, cleaned; RelayError when the relay is missing or one is refused."""
        if not self.configured:
            raise RelayError(400, "relay_not_configured", NOT_CONFIGURED)
        cleaned = list(dict.fromkeys(r.strip() for r in recipients if r and r.strip()))
        if not cleaned:
            raise RelayError(422, "no_recipients", "no recipient to forward the message to")
        for r in cleaned:
            if "@" not in r or any(c in r for c in "\r\n <>,;"):
                raise RelayError(422, "invalid_recipient", f"'{r}' is not an email address")
        refused = [r for r in cleaned if not self.allowed(r)]
        if refused:
            patterns = ", ".join(self.settings.relay_allowed_recipients) or "none"
            raise RelayError(
                403,
                "recipient_not_allowed",
                f"not allowed to forward to {', '.join(refused)}: "
                f"MAILQA_RELAY_ALLOWED_RECIPIENTS allows {patterns}",
            )
        return cleaned

    async def forward(
        self, raw: bytes, mail_from: str | None, recipients: list[str]
    ) -> RelayResult:
        """Send ``raw`` as is to ``recipients``. Raises RelayError (never hangs: timeouts)."""
        cleaned = self.vet(recipients)
        sender = self.settings.relay_mail_from or mail_from or ""
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._send, raw, sender, cleaned),
                self.settings.relay_timeout * 2,
            )
        except RelayError:
            raise
        except TimeoutError as exc:
            raise RelayError(504, "relay_timeout", f"relay {self.address} timed out") from exc
        return RelayResult(recipients=cleaned, relay=self.address)

    def _tls_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if self.settings.relay_tls_ca_file:
            ctx.load_verify_locations(cafile=str(self.settings.relay_tls_ca_file))
        return ctx

    def _send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        s = self.settings
        assert s.relay_host is not None
        try:
            with smtplib.SMTP(s.relay_host, s.relay_port, timeout=s.relay_timeout) as smtp:
                smtp.ehlo()
                if s.relay_starttls:
                    smtp.starttls(context=self._tls_context())
                    smtp.ehlo()
                if s.relay_username:
                    smtp.login(s.relay_username, s.relay_password or "")
                refused = smtp.sendmail(sender, recipients, raw)
        except smtplib.SMTPAuthenticationError as exc:
            raise RelayError(
                502, "relay_auth_failed", f"relay {self.address} refused the login: {_reply(exc)}"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            refused_all = ", ".join(f"{r} ({_code(v)})" for r, v in exc.recipients.items())
            raise RelayError(
                502, "relay_refused", f"relay {self.address} refused {refused_all}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise RelayError(
                502, "relay_refused", f"relay {self.address} answered {_reply(exc)}"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise RelayError(502, "relay_unsupported", f"relay {self.address}: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise RelayError(
                502, "relay_unreachable", f"cannot deliver through relay {self.address}: {exc}"
            ) from exc
        if refused:
            partial = ", ".join(f"{r} ({_code(v)})" for r, v in refused.items())
            raise RelayError(502, "relay_refused", f"relay {self.address} refused {partial}")


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
    return f"{exc.smtp_code} {text}".strip()


def _code(value: tuple[int, bytes]) -> str:
    code, text = value
    return f"{code} {text.decode('utf-8', 'replace')}".strip()
