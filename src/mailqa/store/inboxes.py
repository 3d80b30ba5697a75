"""Inboxes: their settings, SMTP credentials, message counts; deleting one deletes its mail."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mailqa.core.errors import LimitExceeded, NotFound
from mailqa.store.database import Database, touch
from mailqa.store.models import ApiToken, Inbox, Message, Project
from mailqa.store.removal import MessageRemoval


def new_secret(nbytes: int = 12) -> str:
    return secrets.token_hex(nbytes)


@dataclass(frozen=True)
class InboxStats:
    messages: int
    unread: int
    last_message_at: datetime | None


class InboxRepository:
    def __init__(self, db: Database, removal: MessageRemoval) -> None:
        self.db = db
        self.removal = removal

    async def create_inbox(
        self,
        project_id: int,
        name: str,
        quota_bytes: int,
        *,
        max_inboxes: int | None = None,
        **options: Any,
    ) -> Inbox:
        """With ``max_inboxes`` (the global limit), refuse (LimitExceeded) when the project
        has that many already, or as many as its own ``max_inboxes`` when an admin set one;
        concurrent creations in one project take turns, so none slips past."""
        async with self.db.write() as s:
            locked = self.db.engine.dialect.name != "sqlite"  # SQLite: one writer anyway
            project = await s.get(Project, project_id, with_for_update=locked)
            if project is None:
                raise NotFound(f"project {project_id} not found")
            if max_inboxes is not None:
                limit, which = max_inboxes, f"MAILQA_MAX_INBOXES_PER_PROJECT={max_inboxes}"
                if project.max_inboxes is not None:
                    limit = project.max_inboxes
                    which = f"the project's max_inboxes={limit}, set by an admin"
                count = await s.scalar(
                    select(func.count()).select_from(Inbox).where(Inbox.project_id == project_id)
                )
                if int(count or 0) >= limit:
                    raise LimitExceeded(
                        f"project {project_id} has {count} inboxes, the most a project token "
                        f"may create ({which}); an admin token can create more"
                    )
            inbox = Inbox(
                project_id=project_id,
                name=name,
                smtp_username=new_secret(7),
                smtp_password=new_secret(7),
                email_username=new_secret(7),
                email_username_enabled=False,
                quota_bytes=quota_bytes,
                used_bytes=0,
                **options,
            )
            s.add(inbox)
        return inbox

    async def list_inboxes(self, project_id: int | None = None) -> Sequence[Inbox]:
        async with self.db.sessions() as s:
            q = select(Inbox).order_by(Inbox.id)
            if project_id is not None:
                q = q.where(Inbox.project_id == project_id)
            return (await s.scalars(q)).all()

    async def get_inbox(self, inbox_id: int) -> Inbox:
        async with self.db.sessions() as s:
            inbox = await s.get(Inbox, inbox_id)
        if inbox is None:
            raise NotFound(f"inbox {inbox_id} not found")
        return inbox

    async def update_inbox(self, inbox_id: int, **fields: Any) -> Inbox:
        async with self.db.write() as s:
            inbox = await s.get(Inbox, inbox_id)
            if inbox is None:
                raise NotFound(f"inbox {inbox_id} not found")
            for key, value in fields.items():
                setattr(inbox, key, value)
        return inbox

    async def reset_credentials(self, inbox_id: int) -> Inbox:
        return await self.update_inbox(inbox_id, smtp_password=new_secret(7))

    async def toggle_email_username(self, inbox_id: int) -> Inbox:
        """Turn the inbox's e-mail address on when off, off when on."""
        async with self.db.write() as s:
            inbox = await s.get(Inbox, inbox_id)
            if inbox is None:
                raise NotFound(f"inbox {inbox_id} not found")
            inbox.email_username_enabled = not inbox.email_username_enabled
            if inbox.email_username is None:
                inbox.email_username = new_secret(7)
        return inbox

    async def reset_email_username(self, inbox_id: int) -> Inbox:
        """A new random e-mail username; mail to the old address no longer lands here."""
        return await self.update_inbox(inbox_id, email_username=new_secret(7))

    async def inbox_by_email_username(self, email_username: str) -> Inbox | None:
        async with self.db.sessions() as s:
            return await s.scalar(select(Inbox).where(Inbox.email_username == email_username))

    async def inbox_for_recipients(self, recipients: Sequence[str]) -> Inbox | None:
        """The inbox whose enabled e-mail address is the local part of a recipient (the first
        such recipient wins; any domain), or None."""
        local_parts = [r.rpartition("@")[0].lower() for r in recipients if "@" in r]
        if not local_parts:
            return None
        async with self.db.sessions() as s:
            found = {
                inbox.email_username: inbox
                for inbox in await s.scalars(
                    select(Inbox).where(
                        Inbox.email_username_enabled.is_(True),
                        Inbox.email_username.in_(local_parts),
                    )
                )
            }
        return next((found[part] for part in local_parts if part in found), None)

    async def delete_inbox(self, inbox_id: int) -> None:
        async with self.db.write() as s:
            if await s.get(Inbox, inbox_id) is None:
                raise NotFound(f"inbox {inbox_id} not found")
            await self.delete_inbox_rows(s, inbox_id)

    async def delete_inbox_rows(self, s: AsyncSession, inbox_id: int) -> None:
        touch(s, [inbox_id])
        await self.removal.delete_messages(
            s, select(Message.id).where(Message.inbox_id == inbox_id)
        )
        await s.execute(
            update(ApiToken)
            .where(ApiToken.sandbox_inbox_id == inbox_id)
            .values(sandbox_inbox_id=None)
        )
        await s.execute(delete(Inbox).where(Inbox.id == inbox_id))

    async def inbox_stats(self, inbox_ids: Sequence[int]) -> dict[int, InboxStats]:
        """Message counts and newest arrival per inbox (inboxes without mail are absent)."""
        if not inbox_ids:
            return {}
        unread = func.sum(case((Message.is_read.is_(False), 1), else_=0))
        q = (
            select(Message.inbox_id, func.count(), unread, func.max(Message.created_at))
            .where(Message.inbox_id.in_(inbox_ids))
            .group_by(Message.inbox_id)
        )
        async with self.db.sessions() as s:
            rows = (await s.execute(q)).all()
        return {
            int(inbox_id): InboxStats(int(total), int(unread_count or 0), last)
            for inbox_id, total, unread_count, last in rows
        }

    async def find_inbox_by_smtp(self, username: str, password: str) -> Inbox | None:
        async with self.db.sessions() as s:
            inbox = await s.scalar(select(Inbox).where(Inbox.smtp_username == username))
        if inbox is None or not secrets.compare_digest(inbox.smtp_password, password):
            return None
        return inbox
