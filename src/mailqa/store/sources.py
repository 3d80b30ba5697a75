"""What was received: a message's raw bytes and its attachment index."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from mailqa.core.errors import NotFound, SourceExpired
from mailqa.store.database import Database
from mailqa.store.models import Attachment, Message, MessageBlob


class SourceRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_raw(self, message_id: int) -> bytes:
        async with self.db.sessions() as s:
            data = await s.scalar(
                select(MessageBlob.data).where(MessageBlob.message_id == message_id)
            )
            if data is None and await s.scalar(
                select(Message.id).where(
                    Message.id == message_id, Message.source_expired_at.is_not(None)
                )
            ):
                raise SourceExpired(f"message {message_id}: its source was cleaned up")
        if data is None:
            raise NotFound(f"message {message_id} source not found")
        return bytes(data)

    async def get_messages_with_raw(
        self, message_ids: Sequence[int]
    ) -> dict[int, tuple[Message, bytes]]:
        """Several messages and their raw bytes in one query (those that still exist)."""
        async with self.db.sessions() as s:
            rows = await s.execute(
                select(Message, MessageBlob.data)
                .join(MessageBlob, MessageBlob.message_id == Message.id)
                .where(Message.id.in_(list(message_ids)))
            )
            return {message.id: (message, bytes(data)) for message, data in rows}

    async def get_attachments(self, message_id: int) -> Sequence[Attachment]:
        async with self.db.sessions() as s:
            q = select(Attachment).where(Attachment.message_id == message_id)
            return (await s.scalars(q.order_by(Attachment.index))).all()
