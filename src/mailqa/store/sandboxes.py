"""Inboxes created on first use: the default inbox of unauthenticated SMTP mail, and each
token's sandbox. Concurrent first uses race to create them; exactly one creation wins."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update

from mailqa.store.database import Database
from mailqa.store.inboxes import InboxRepository
from mailqa.store.models import ApiToken, Inbox, Project
from mailqa.store.projects import ProjectRepository

DEFAULT_NAME = "Default"  # project and inbox for unauthenticated SMTP mail


class Sandboxes:
    def __init__(self, db: Database, projects: ProjectRepository, inboxes: InboxRepository) -> None:
        self.db = db
        self.projects = projects
        self.inboxes = inboxes
        self._sandbox_lock = asyncio.Lock()

    async def default_inbox(self, quota_bytes: int, inbox_id: int | None = None) -> Inbox:
        """The inbox unauthenticated SMTP mail goes to: ``inbox_id`` when given, else the
        inbox "Default" of the project "Default", created on first use."""
        if inbox_id is not None:
            return await self.inboxes.get_inbox(inbox_id)
        query = (
            select(Inbox)
            .join(Project, Project.id == Inbox.project_id)
            .where(Project.name == DEFAULT_NAME, Inbox.name == DEFAULT_NAME)
            .order_by(Inbox.id)
            .limit(1)
        )
        async with self.db.sessions() as s:
            inbox = await s.scalar(query)
        if inbox is not None:
            return inbox
        async with self._sandbox_lock:  # one creator per process
            async with self.db.sessions() as s:
                inbox = await s.scalar(query)
            if inbox is not None:
                return inbox
            async with self.db.sessions() as s:
                project = await s.scalar(
                    select(Project).where(Project.name == DEFAULT_NAME).order_by(Project.id)
                )
            if project is None:
                project = await self.projects.create_project(DEFAULT_NAME)
            return await self.inboxes.create_inbox(project.id, DEFAULT_NAME, quota_bytes)

    async def _current_sandbox(self, token: ApiToken) -> Inbox | None:
        async with self.db.sessions() as s:
            current = await s.scalar(
                select(ApiToken.sandbox_inbox_id).where(ApiToken.id == token.id)
            )
            inbox = await s.get(Inbox, current) if current is not None else None
        token.sandbox_inbox_id = inbox.id if inbox else None
        return inbox

    async def sandbox_inbox(
        self, token: ApiToken, *, create: bool, quota_bytes: int
    ) -> Inbox | None:
        """The token's sandbox (its default inbox); created on first SMTP delivery.

        Concurrent first deliveries race to create it: exactly one wins, the others use it.
        Finding an existing one takes no lock (every sandbox API request does it).
        """
        inbox = await self._current_sandbox(token)
        if inbox is not None or not create:
            return inbox
        async with self._sandbox_lock:
            inbox = await self._current_sandbox(token)
            if inbox is not None:
                return inbox
            project_id = token.project_id
            new_project = project_id is None
            if project_id is None:
                project_id = (await self.projects.create_project(f"Sandbox of {token.name}")).id
            inbox = await self.inboxes.create_inbox(
                project_id, f"Sandbox ({token.prefix}…)", quota_bytes
            )
            async with self.db.write() as s:
                claimed = await s.execute(
                    update(ApiToken)
                    .where(ApiToken.id == token.id, ApiToken.sandbox_inbox_id.is_(None))
                    .values(sandbox_inbox_id=inbox.id)
                )
            if claimed.rowcount == 0:  # type: ignore[attr-defined]
                # Another process won the race: drop ours and use theirs.
                await self.inboxes.delete_inbox(inbox.id)
                if new_project:
                    await self.projects.delete_project(project_id)
                async with self.db.sessions() as s:
                    winner = await s.scalar(
                        select(Inbox)
                        .join(ApiToken, ApiToken.sandbox_inbox_id == Inbox.id)
                        .where(ApiToken.id == token.id)
                    )
                token.sandbox_inbox_id = winner.id if winner else None
                return winner
            token.sandbox_inbox_id = inbox.id
            return inbox
