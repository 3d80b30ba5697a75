"""Projects: create, list, rename, and delete with everything in them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select

from mailqa.core.errors import NotFound
from mailqa.store.database import Database
from mailqa.store.inboxes import InboxRepository
from mailqa.store.models import ApiToken, Inbox, Project


class ProjectRepository:
    def __init__(self, db: Database, inboxes: InboxRepository) -> None:
        self.db = db
        self.inboxes = inboxes

    async def create_project(self, name: str, **limits: int | None) -> Project:
        """A new project; ``limits`` are its admin-set ``max_inboxes`` and
        ``max_inbox_quota_bytes`` (None: the global settings apply)."""
        async with self.db.write() as s:
            project = Project(name=name, **limits)
            s.add(project)
        return project

    async def list_projects(self, project_id: int | None = None) -> Sequence[Project]:
        async with self.db.sessions() as s:
            q = select(Project).order_by(Project.id)
            if project_id is not None:
                q = q.where(Project.id == project_id)
            return (await s.scalars(q)).all()

    async def get_project(self, project_id: int) -> Project:
        async with self.db.sessions() as s:
            project = await s.get(Project, project_id)
        if project is None:
            raise NotFound(f"project {project_id} not found")
        return project

    async def update_project(self, project_id: int, **fields: Any) -> Project:
        """Change the given fields (name, max_inboxes, max_inbox_quota_bytes)."""
        async with self.db.write() as s:
            project = await s.get(Project, project_id)
            if project is None:
                raise NotFound(f"project {project_id} not found")
            for key, value in fields.items():
                setattr(project, key, value)
        return project

    async def delete_project(self, project_id: int) -> None:
        async with self.db.write() as s:
            inbox_ids = (
                await s.scalars(select(Inbox.id).where(Inbox.project_id == project_id))
            ).all()
            for inbox_id in inbox_ids:
                await self.inboxes.delete_inbox_rows(s, inbox_id)
            await s.execute(delete(ApiToken).where(ApiToken.project_id == project_id))
            result = await s.execute(delete(Project).where(Project.id == project_id))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"project {project_id} not found")
