"""API tokens: stored hashed, resolved from their plain text, revoked by deleting them."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from sqlalchemy import delete, select

from mailqa.core.errors import NotFound
from mailqa.store.database import Database
from mailqa.store.models import ApiToken

TOKEN_PREFIX = "mq_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_token(
        self,
        name: str,
        *,
        is_admin: bool = False,
        project_id: int | None = None,
        token: str | None = None,
    ) -> tuple[str, ApiToken]:
        plain = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self.db.write() as s:
            row = ApiToken(
                name=name,
                token_hash=hash_token(plain),
                prefix=plain[:8],
                is_admin=is_admin,
                project_id=project_id,
            )
            s.add(row)
        return plain, row

    async def resolve_token(self, plain: str) -> ApiToken | None:
        async with self.db.sessions() as s:
            return await s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))

    async def delete_token(self, token_id: int) -> None:
        """Revoke a token: it stops working at once. Its sandbox inbox and mail stay."""
        async with self.db.write() as s:
            deleted = await s.execute(delete(ApiToken).where(ApiToken.id == token_id))
        if deleted.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"token {token_id} not found")

    async def get_token(self, token_id: int) -> ApiToken | None:
        """The token, or None once it has been revoked."""
        async with self.db.sessions() as s:
            return await s.get(ApiToken, token_id)

    async def token_exists(self, plain: str) -> bool:
        return await self.resolve_token(plain) is not None

    async def list_tokens(self) -> Sequence[ApiToken]:
        async with self.db.sessions() as s:
            return (await s.scalars(select(ApiToken).order_by(ApiToken.id))).all()
