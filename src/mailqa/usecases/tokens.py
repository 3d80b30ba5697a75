"""API tokens: list, create and revoke them (admins and the operator only).

These take the ``Store`` alone: the CLI manages tokens without starting a service.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailqa.auth import Principal
from mailqa.store.models import ApiToken
from mailqa.store.repository import Store


async def list_tokens(store: Store, principal: Principal) -> Sequence[ApiToken]:
    principal.require_admin()
    return await store.list_tokens()


async def create_token(
    store: Store,
    principal: Principal,
    name: str,
    *,
    is_admin: bool,
    project_id: int | None = None,
) -> tuple[str, ApiToken]:
    """A new token and its plain text (shown once; only its hash is stored)."""
    principal.require_admin()
    if project_id is not None:
        await store.get_project(project_id)  # NotFound
    return await store.create_token(name, is_admin=is_admin, project_id=project_id)


async def revoke_token(store: Store, principal: Principal, token_id: int) -> None:
    """Revoke a token; requests and SMTP logins with it fail from now on."""
    principal.require_admin()
    await store.delete_token(token_id)
