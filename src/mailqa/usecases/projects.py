"""Projects: list, create, read, change and delete them; the limits an admin sets on one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mailqa.auth import Principal
from mailqa.core.errors import Forbidden, NotFound
from mailqa.service import Service
from mailqa.store.models import Project


async def list_projects(service: Service, principal: Principal) -> Sequence[Project]:
    """Every project for an admin, a project token's own, none for a sandbox token."""
    if principal.is_admin:
        return await service.store.list_projects()
    if principal.project_id is not None:
        return await service.store.list_projects(principal.project_id)
    return []


# A project's limits on what its project tokens may do (None: the global settings apply).
LIMIT_FIELDS = frozenset({"max_inboxes", "max_inbox_quota_bytes"})


async def create_project(
    service: Service,
    principal: Principal,
    name: str,
    *,
    max_inboxes: int | None = None,
    max_inbox_quota_bytes: int | None = None,
) -> Project:
    principal.require_admin()
    return await service.store.create_project(
        name, max_inboxes=max_inboxes, max_inbox_quota_bytes=max_inbox_quota_bytes
    )


def require_visible(principal: Principal, project_id: int) -> None:
    if not principal.can_see_project(project_id):
        raise NotFound(f"project {project_id} not found")


async def get_project(service: Service, principal: Principal, project_id: int) -> Project:
    require_visible(principal, project_id)
    return await service.store.get_project(project_id)


async def rename_project(
    service: Service, principal: Principal, project_id: int, name: str
) -> Project:
    return await update_project(service, principal, project_id, name=name)


async def update_project(
    service: Service, principal: Principal, project_id: int, **fields: Any
) -> Project:
    """Change the given fields (name; ``LIMIT_FIELDS``, which only an admin sets)."""
    require_visible(principal, project_id)
    limits = sorted(LIMIT_FIELDS & fields.keys())
    if limits and not principal.is_admin:
        raise Forbidden(f"{' and '.join(limits)}: a project's limits are set by an admin token")
    return await service.store.update_project(project_id, **fields)


async def delete_project(service: Service, principal: Principal, project_id: int) -> None:
    """Delete the project with its inboxes, their mail and its tokens."""
    principal.require_admin()
    await service.store.delete_project(project_id)
