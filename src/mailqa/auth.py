"""Who is asking: API tokens and SMTP credentials become a ``Principal`` here, and only here.

Every front end resolves its caller through this module: the API's dependencies (a header or
the web UI's session cookie), the Mailtrap send API, the web UI's sign-in and SMTP AUTH. The
CLI, run by whoever runs the server, acts as the operator. What a principal may see is
decided here too (``can_see_inbox``, ``can_see_project``); the use cases apply it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from mailqa.core.errors import Forbidden, NotFound
from mailqa.store.models import ApiToken, Inbox
from mailqa.store.repository import Store

# SMTP login name that takes an API token as the password (delivers to the token's sandbox).
SANDBOX_LOGIN = "any"


@dataclass(frozen=True)
class Principal:
    """Who a request, an SMTP session or a CLI command acts as, and what it may see.

    - ``token``: an API token. Admin tokens see everything, project tokens their project,
      others their sandbox inbox.
    - ``smtp_inbox``: an inbox's own SMTP credentials: that inbox.
    - ``operator``: the local CLI: everything.
    """

    kind: Literal["token", "smtp_inbox", "operator"]
    token: ApiToken | None = None
    inbox_id: int | None = None

    @classmethod
    def of_token(cls, token: ApiToken) -> Principal:
        return cls("token", token=token)

    @classmethod
    def of_smtp_inbox(cls, inbox_id: int) -> Principal:
        return cls("smtp_inbox", inbox_id=inbox_id)

    @classmethod
    def operator(cls) -> Principal:
        return cls("operator")

    @property
    def is_admin(self) -> bool:
        if self.kind == "operator":
            return True
        return self.token is not None and self.token.is_admin

    @property
    def project_id(self) -> int | None:
        """The one project a project token is scoped to."""
        return self.token.project_id if self.token is not None else None

    def can_see_inbox(self, inbox: Inbox) -> bool:
        if self.is_admin:
            return True
        if self.token is not None:
            if self.token.project_id is not None:
                return inbox.project_id == self.token.project_id
            return inbox.id == self.token.sandbox_inbox_id
        return self.inbox_id is not None and inbox.id == self.inbox_id

    def can_see_project(self, project_id: int) -> bool:
        return self.is_admin or (self.project_id is not None and self.project_id == project_id)

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("This needs an admin token")


async def token_principal(store: Store, plain: str | None) -> Principal | None:
    """The principal of an API token, or None when there is none or it is not valid."""
    if not plain:
        return None
    token = await store.resolve_token(plain)
    return Principal.of_token(token) if token is not None else None


class AdminTokenRefused(Forbidden):
    """An admin API token used as an SMTP password, which the settings do not allow."""


async def smtp_principal(
    store: Store, user: str, secret: str, *, allow_admin_tokens: bool
) -> Principal | None:
    """The principal of an SMTP login: username ``any`` with an API token as the password, or
    an inbox's SMTP username and password. None when the credentials are not valid."""
    if user == SANDBOX_LOGIN:
        principal = await token_principal(store, secret)
        if principal is not None and principal.is_admin and not allow_admin_tokens:
            raise AdminTokenRefused("admin API tokens are not accepted over SMTP")
        return principal
    inbox = await store.find_inbox_by_smtp(user, secret)
    return Principal.of_smtp_inbox(inbox.id) if inbox is not None else None


def secret_digest(secret: str) -> bytes:
    """SHA-256 of an SMTP password: what is kept of it after the login."""
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


@dataclass(frozen=True)
class SmtpIdentity:
    """Who authenticated an SMTP session, and where their mail goes.

    ``token_id`` for an API token; else ``secret_digest``, the SHA-256 of the inbox password
    used, to notice a reset of the inbox's credentials.
    """

    user: str
    inbox_id: int
    token_id: int | None = None
    secret_digest: bytes = b""

    @classmethod
    def of(cls, principal: Principal, user: str, secret: str, inbox_id: int) -> SmtpIdentity:
        if principal.token is not None:
            return cls(user, inbox_id, token_id=principal.token.id)
        return cls(user, inbox_id, secret_digest=secret_digest(secret))


async def smtp_identity_valid(store: Store, identity: SmtpIdentity) -> bool:
    """Whether the credentials a session authenticated with still hold (the token is not
    revoked, the inbox's password not reset)."""
    if identity.token_id is not None:
        return await store.get_token(identity.token_id) is not None
    try:
        inbox = await store.get_inbox(identity.inbox_id)
    except NotFound:
        return False
    return inbox.smtp_username == identity.user and secrets.compare_digest(
        secret_digest(inbox.smtp_password), identity.secret_digest
    )
