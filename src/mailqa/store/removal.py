"""Every way mail leaves an inbox: deletes, purges and retention (count and age limits,
source expiry). Each gives the bytes it frees back to the inbox quota, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mailqa.core.errors import NotFound
from mailqa.store.database import Database, touch
from mailqa.store.models import Attachment, Inbox, Message, MessageBlob, StoredReport, utcnow


class MessageRemoval:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def delete_messages(self, s: AsyncSession, ids_query: Any) -> int:
        """Delete messages and their rows; give their bytes back to their inbox quota.

        The bytes freed are read from the rows this statement deleted, not from an earlier
        read: a concurrent delete or source expiry cannot make them count twice."""
        ids = (await s.scalars(ids_query)).all()
        if not ids:
            return 0
        for table in (MessageBlob, Attachment, StoredReport):
            await s.execute(delete(table).where(table.message_id.in_(ids)))
        deleted = (
            await s.execute(
                delete(Message)
                .where(Message.id.in_(ids))
                .returning(Message.inbox_id, Message.size, Message.source_expired_at)
            )
        ).all()
        freed: dict[int, int] = {}
        for inbox_id, size, source_expired_at in deleted:
            # An expired source already gave its bytes back.
            freed[inbox_id] = freed.get(inbox_id, 0) + (size if source_expired_at is None else 0)
        for inbox_id, size in freed.items():
            await self._give_back(s, inbox_id, size)
        touch(s, freed)
        return len(deleted)

    async def _give_back(self, s: AsyncSession, inbox_id: int, size: int) -> None:
        """Lower an inbox's used bytes by ``size``, never below zero."""
        floor = func.max if self.db.engine.dialect.name == "sqlite" else func.greatest
        await s.execute(
            update(Inbox)
            .where(Inbox.id == inbox_id)
            .values(used_bytes=floor(Inbox.used_bytes - size, 0))
        )

    async def unparsed_messages(self, inbox_id: int, older_than: datetime) -> list[int]:
        """Messages of the inbox received before ``older_than`` whose body is not parsed."""
        async with self.db.sessions() as s:
            ids = await s.scalars(
                select(Message.id).where(
                    Message.inbox_id == inbox_id,
                    Message.created_at < older_than,
                    Message.body_parsed.is_(False),
                    Message.source_expired_at.is_(None),
                )
            )
            return list(ids)

    async def expire_sources(self, inbox_id: int, older_than: datetime) -> int:
        """Drop the raw source of the inbox's messages received before ``older_than``,
        keeping each message, its attachment list and its report; the bytes go back to the
        inbox quota. Returns how many sources were dropped. A message whose body is not
        parsed yet keeps its source until it is (its attachment list comes from it)."""
        async with self.db.write() as s:
            ids = (
                await s.scalars(
                    select(Message.id).where(
                        Message.inbox_id == inbox_id,
                        Message.created_at < older_than,
                        Message.source_expired_at.is_(None),
                        Message.body_parsed.is_(True),
                    )
                )
            ).all()
            if not ids:
                return 0
            # Blobs first, as deletes do (one lock order). Only the rows the update marks
            # give bytes back: those a concurrent sweep or delete took are not counted again.
            await s.execute(delete(MessageBlob).where(MessageBlob.message_id.in_(ids)))
            expired = (
                await s.execute(
                    update(Message)
                    .where(Message.id.in_(ids), Message.source_expired_at.is_(None))
                    .values(source_expired_at=utcnow())
                    .returning(Message.size)
                )
            ).all()
            await self._give_back(s, inbox_id, sum(size for (size,) in expired))
            touch(s, [inbox_id])
        return len(expired)

    async def delete_message(self, message_id: int) -> None:
        async with self.db.write() as s:
            deleted = await self.delete_messages(
                s, select(Message.id).where(Message.id == message_id)
            )
        if not deleted:
            raise NotFound(f"message {message_id} not found")

    async def purge_inbox(self, inbox_id: int) -> int:
        async with self.db.write() as s:
            count = await self.delete_messages(
                s, select(Message.id).where(Message.inbox_id == inbox_id)
            )
            await s.execute(update(Inbox).where(Inbox.id == inbox_id).values(used_bytes=0))
        return count

    async def prune(
        self, inbox_id: int, *, max_messages: int | None, max_age_days: float | None
    ) -> int:
        """Apply retention: drop messages beyond the newest ``max_messages`` or too old."""
        pruned = 0
        async with self.db.write() as s:
            if max_messages is not None:
                keep = (
                    select(Message.id)
                    .where(Message.inbox_id == inbox_id)
                    .order_by(Message.id.desc())
                    .offset(max_messages)
                    .limit(1)
                )
                cutoff_id = await s.scalar(keep)
                if cutoff_id is not None:
                    pruned += await self.delete_messages(
                        s,
                        select(Message.id).where(
                            Message.inbox_id == inbox_id, Message.id <= cutoff_id
                        ),
                    )
            if max_age_days is not None:
                cutoff = datetime.now(UTC) - timedelta(days=max_age_days)
                pruned += await self.delete_messages(
                    s,
                    select(Message.id).where(
                        Message.inbox_id == inbox_id, Message.created_at < cutoff
                    ),
                )
        return pruned
