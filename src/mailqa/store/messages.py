"""Messages: listing and filtering, the latest match, read flags, and analysis state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import case, func, or_, select, update

from mailqa.core.errors import NotFound
from mailqa.store.database import Database, touch
from mailqa.store.models import Inbox, Message


@dataclass(frozen=True)
class MessageFilter:
    subject: str | None = None
    from_: str | None = None
    to: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None
    after_id: int | None = None
    before_id: int | None = None


@dataclass(frozen=True)
class PendingMessage:
    """A message stored but not analysed, and how many analyses of it were cut short."""

    id: int
    uid: str
    attempts: int


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class MessageRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _filtered(self, inbox_id: int, f: MessageFilter | None) -> Any:
        q = select(Message).where(Message.inbox_id == inbox_id)
        if f is None:
            return q
        if f.subject:
            q = q.where(Message.subject.ilike(_like(f.subject), escape="\\"))
        if f.from_:
            q = q.where(
                or_(
                    Message.from_header.ilike(_like(f.from_), escape="\\"),
                    Message.mail_from.ilike(_like(f.from_), escape="\\"),
                )
            )
        if f.to:
            q = q.where(
                or_(
                    Message.to_header.ilike(_like(f.to), escape="\\"),
                    Message.cc_header.ilike(_like(f.to), escape="\\"),
                )
            )
        if f.search:
            pattern = _like(f.search)
            q = q.where(
                or_(
                    Message.subject.ilike(pattern, escape="\\"),
                    Message.from_header.ilike(pattern, escape="\\"),
                    Message.to_header.ilike(pattern, escape="\\"),
                )
            )
        if f.since:
            q = q.where(Message.created_at >= f.since)
        if f.until:
            q = q.where(Message.created_at <= f.until)
        if f.after_id is not None:
            q = q.where(Message.id > f.after_id)
        if f.before_id is not None:
            q = q.where(Message.id < f.before_id)
        return q

    async def list_messages(
        self,
        inbox_id: int,
        *,
        offset: int = 0,
        limit: int = 30,
        filters: MessageFilter | None = None,
    ) -> tuple[Sequence[Message], int]:
        """A page of messages, newest first, and the total matching."""
        q = self._filtered(inbox_id, filters)
        async with self.db.sessions() as s:
            total = await s.scalar(select(func.count()).select_from(q.subquery()))
            rows = (
                await s.scalars(q.order_by(Message.id.desc()).offset(offset).limit(limit))
            ).all()
        return rows, int(total or 0)

    async def latest_message(self, inbox_id: int, filters: MessageFilter | None) -> Message | None:
        q = self._filtered(inbox_id, filters).order_by(Message.id.desc()).limit(1)
        async with self.db.sessions() as s:
            return (await s.scalars(q)).first()

    async def inbox_signatures(self, inbox_ids: Sequence[int]) -> dict[int, Any]:
        """A fingerprint of each inbox's mail that any capture, delete, stored analysis,
        score or read flag changes; inboxes that no longer exist are absent. One query for
        all of them (the poll for changes other processes make)."""
        if not inbox_ids:
            return {}
        analyzed = func.sum(case((Message.analysis_status == "analyzed", 1), else_=0))
        read = func.sum(case((Message.is_read.is_(True), 1), else_=0))
        q = (
            select(
                Inbox.id,
                func.count(Message.id),
                func.max(Message.id),
                analyzed,
                read,
                func.sum(Message.score),
            )
            .select_from(Inbox)
            .outerjoin(Message, Message.inbox_id == Inbox.id)
            .where(Inbox.id.in_(inbox_ids))
            .group_by(Inbox.id)
        )
        async with self.db.sessions() as s:
            rows = (await s.execute(q)).all()
        return {row[0]: tuple(row[1:]) for row in rows}

    async def get_message(self, message_id: int) -> Message:
        async with self.db.sessions() as s:
            row = await s.get(Message, message_id)
        if row is None:
            raise NotFound(f"message {message_id} not found")
        return row

    async def message_uids(self, message_ids: Sequence[int]) -> dict[int, str]:
        """The identities of those of ``message_ids`` that still exist."""
        found: dict[int, str] = {}
        ids = list(message_ids)
        async with self.db.sessions() as s:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = await s.execute(select(Message.id, Message.uid).where(Message.id.in_(chunk)))
                found.update({int(mid): str(uid) for mid, uid in rows.all()})
        return found

    async def project_of_message(self, message_id: int) -> int:
        """The project whose inbox holds the message."""
        async with self.db.sessions() as s:
            project_id = await s.scalar(
                select(Inbox.project_id)
                .join(Message, Message.inbox_id == Inbox.id)
                .where(Message.id == message_id)
            )
        if project_id is None:
            raise NotFound(f"message {message_id} not found")
        return int(project_id)

    async def set_read(self, message_id: int, is_read: bool) -> Message:
        async with self.db.write() as s:
            row = await s.get(Message, message_id)
            if row is None:
                raise NotFound(f"message {message_id} not found")
            row.is_read = is_read
            touch(s, [row.inbox_id])
        return row

    async def mark_all_read(self, inbox_id: int) -> int:
        async with self.db.write() as s:
            result = await s.execute(
                update(Message)
                .where(Message.inbox_id == inbox_id, Message.is_read.is_(False))
                .values(is_read=True)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                touch(s, [inbox_id])
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def pending_messages(self, limit: int = 10_000) -> list[PendingMessage]:
        async with self.db.sessions() as s:
            q = (
                select(Message.id, Message.uid, Message.analysis_attempts)
                # Without its source a message can never be analysed: do not queue it.
                .where(Message.analysis_status == "pending", Message.source_expired_at.is_(None))
                .order_by(Message.id)
                .limit(limit)
            )
            return [PendingMessage(*row) for row in (await s.execute(q)).all()]

    async def count_attempt(self, message_id: int, uid: str) -> bool:
        """Record that an analysis of the message starts. False when the message is gone."""
        async with self.db.write() as s:
            done = await s.execute(
                update(Message)
                .where(Message.id == message_id, Message.uid == uid)
                .values(analysis_attempts=Message.analysis_attempts + 1)
            )
        return bool(cast(Any, done).rowcount)
