"""Projects: list, create, read, rename and delete them."""

from __future__ import annotations

from collections.abc import Sequence

from mailqa.auth import Principal
from mailqa.core.errors import NotFound
from mailqa.service import Service
from mailqa.store.models import Project


async def list_projects(service: Service, principal: Principal) -> Sequence[Project]:
    """Every project for an admin, a project token's own, none for a sandbox token."""
    if principal.is_admin:
        return await service.store.list_projects()
    if principal.project_id is not None:
        return await service.store.list_projects(principal.project_id)
    return []


async def create_project(service: Service, principal: Principal, name: str) -> Project:
    principal.require_admin()
    return await service.store.create_project(name)


def require_visible(principal: Principal, project_id: int) -> None:
    if not principal.can_see_project(project_id):
        raise NotFound(f"project {project_id} not found")


async def get_project(service: Service, principal: Principal, project_id: int) -> Project:
    require_visible(principal, project_id)
    return await service.store.get_project(project_id)


async def rename_project(
    service: Service, principal: Principal, project_id: int, name: str
) -> Project:
    require_visible(principal, project_id)
    return await service.store.update_project(project_id, name)


async def delete_project(service: Service, principal: Principal, project_id: int) -> None:
    """Delete the project with its inboxes, their mail and its tokens."""
    principal.require_admin()
    await service.store.delete_project(project_id)
