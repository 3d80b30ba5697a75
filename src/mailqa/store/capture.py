"""Storing captured messages: the row, the raw bytes and (for a message parsed in full) the
attachment index in one transaction, charged to the inbox quota. Concurrent captures are
group-committed. A message capture only scanned gets its body's facts later (``save_body``).
Its ``message.received`` webhook events are written in the same transaction."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update

from mailqa.core.errors import NotFound, QuotaExceeded
from mailqa.core.message import CapturedMessage, ParsedMessage
from mailqa.store.database import GROUP_COMMIT_BATCH, Database, touch
from mailqa.store.models import Attachment, Inbox, Message, MessageBlob, new_uid
from mailqa.store.webhooks import EventSource, enqueue_events

INBOXES = cast(Table, Inbox.__table__)
MESSAGES = cast(Table, Message.__table__)
BLOBS = cast(Table, MessageBlob.__table__)
ATTACHMENTS = cast(Table, Attachment.__table__)


@dataclass(frozen=True)
class StoredMessage:
    """A freshly stored message and its inbox's own message limit (age limits are the
    retention sweep's business)."""

    id: int
    uid: str
    inbox_id: int
    inbox_max_messages: int | None


def utf8_size(text: str | None) -> int:
    return len(text.encode("utf-8", "replace")) if text else 0


NewMessage = ParsedMessage | CapturedMessage
"""A message to store: parsed in full (uploads, imports), or as capture scanned it."""


def _message_row(inbox_id: int, msg: NewMessage, now: datetime) -> dict[str, Any]:
    """The row of a new message: from a full parse, or from capture's header scan (then the
    body's facts come with its analysis, ``body_parsed`` False until then)."""
    head = msg.head if isinstance(msg, CapturedMessage) else msg
    env = msg.envelope
    row = {
        "uid": new_uid(),
        "inbox_id": inbox_id,
        "created_at": now,
        "subject": head.subject,
        "from_header": head.from_,
        "from_address": head.from_address,
        "to_header": head.header("To"),
        "cc_header": head.header("Cc"),
        "message_id_header": head.message_id,
        "size": len(msg.raw),
        "is_read": False,
        "mail_from": env.mail_from,
        "rcpt_to": list(env.rcpt_to),
        "client_ip": env.client_ip,
        "client_name": env.client_name,
        "helo": env.helo,
        "smtp_tls": env.tls,
        "analysis_status": "pending",
    }
    if isinstance(msg, CapturedMessage):
        row.update(
            preview_text="",
            has_html=False,
            has_text=False,
            html_size=None,
            text_size=None,
            parse_defects=list(msg.defects),
            body_parsed=False,
        )
    else:
        row.update(body_facts(msg))
    return row


def received_data(message_id: int, row: dict[str, Any]) -> dict[str, Any]:
    """What a ``message.received`` event says of the new message."""
    return {
        "message_id": message_id,
        "summary": {
            "subject": row["subject"],
            "from": row["from_header"],
            "to": row["to_header"],
            "message_id": row["message_id_header"],
            "size": row["size"],
            "received_at": row["created_at"].isoformat(),
        },
    }


def body_facts(msg: ParsedMessage) -> dict[str, Any]:
    """The columns a full parse fills in."""
    return {
        "preview_text": msg.preview_text,
        "has_html": msg.html is not None,
        "has_text": msg.text is not None,
        "html_size": utf8_size(msg.html),
        "text_size": utf8_size(msg.text),
        "parse_defects": list(msg.defects),
        "body_parsed": True,
    }


def attachment_rows(message_id: int, msg: ParsedMessage) -> list[dict[str, Any]]:
    return [
        {
            "message_id": message_id,
            "index": a.index,
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
            "content_id": a.content_id,
            "disposition": a.disposition,
            "transfer_encoding": a.transfer_encoding,
        }
        for a in msg.attachments
    ]


class CaptureWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._capture_queue: list[tuple[int, NewMessage, asyncio.Future[StoredMessage]]] = []
        self._capture_flusher: asyncio.Task[None] | None = None

    async def save_body(self, message_id: int, uid: str, msg: ParsedMessage) -> bool:
        """Store what the full parse of a captured message found (previews, body sizes, the
        attachment index), once, onto that very message. False when it is gone."""
        async with self.db.write() as s:
            # One conditional UPDATE: of two writers (the server answering a request and an
            # analysis process, each in its own process) only the first fills the facts in
            # and writes the attachment index; a read-then-write let both insert it.
            marked = await s.execute(
                update(MESSAGES)
                .where(
                    MESSAGES.c.id == message_id,
                    MESSAGES.c.uid == uid,
                    MESSAGES.c.body_parsed.is_(False),
                )
                .values(**body_facts(msg))
                .returning(MESSAGES.c.inbox_id)
            )
            inbox_id = marked.scalar_one_or_none()
            if inbox_id is None:  # gone, another message now, or parsed already
                found = await s.execute(
                    select(MESSAGES.c.id).where(MESSAGES.c.id == message_id, MESSAGES.c.uid == uid)
                )
                return found.first() is not None
            attachments = attachment_rows(message_id, msg)
            if attachments:
                await s.execute(insert(ATTACHMENTS), attachments)
            touch(s, [inbox_id])
        return True

    async def insert_message(self, inbox_id: int, msg: NewMessage) -> StoredMessage:
        """Store a message and its raw bytes; charge the inbox quota. Committed on return.

        Concurrent calls are group-committed: whoever arrives while a transaction is open
        joins the next one, so a burst of captures costs a few statements, not a few each.
        """
        future: asyncio.Future[StoredMessage] = asyncio.get_running_loop().create_future()
        self._capture_queue.append((inbox_id, msg, future))
        if self._capture_flusher is None or self._capture_flusher.done():
            self._capture_flusher = asyncio.create_task(self._flush_captures())
        return await future

    async def _flush_captures(self) -> None:
        while self._capture_queue:
            batch = self._capture_queue[:GROUP_COMMIT_BATCH]
            del self._capture_queue[:GROUP_COMMIT_BATCH]
            try:
                results = await self._insert_batch([(i, m) for i, m, _ in batch])
            except Exception as exc:  # the whole transaction failed
                results = [exc] if len(batch) == 1 else await self._insert_one_by_one(batch)
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _insert_one_by_one(
        self, batch: list[tuple[int, NewMessage, asyncio.Future[StoredMessage]]]
    ) -> list[StoredMessage | Exception]:
        """After a failed group commit: one transaction per message, so that one message
        the database refuses does not take the others down with it."""
        results: list[StoredMessage | Exception] = []
        for inbox_id, msg, _ in batch:
            try:
                results += await self._insert_batch([(inbox_id, msg)])
            except Exception as exc:
                results.append(exc)
        return results

    async def _insert_batch(
        self, items: list[tuple[int, NewMessage]]
    ) -> list[StoredMessage | Exception]:
        results: list[StoredMessage | Exception | None] = []  # None: accepted, id to come
        async with self.db.write() as s:
            # Core statements on the session's connection: no ORM layer per statement.
            conn = await s.connection()
            query = select(
                INBOXES.c.id, INBOXES.c.used_bytes, INBOXES.c.quota_bytes, INBOXES.c.max_messages
            ).where(INBOXES.c.id.in_({inbox_id for inbox_id, _ in items}))
            if self.db.engine.dialect.name != "sqlite":
                query = query.with_for_update()
            inboxes = {row.id: row for row in (await conn.execute(query)).all()}
            used = {inbox_id: row.used_bytes for inbox_id, row in inboxes.items()}
            accepted: list[tuple[int, NewMessage]] = []
            for inbox_id, msg in items:
                inbox = inboxes.get(inbox_id)
                if inbox is None:
                    results.append(NotFound(f"inbox {inbox_id} not found"))
                elif used[inbox_id] + len(msg.raw) > inbox.quota_bytes:
                    results.append(QuotaExceeded(f"inbox {inbox_id} is over its storage quota"))
                else:
                    used[inbox_id] += len(msg.raw)
                    accepted.append((inbox_id, msg))
                    results.append(None)
            if not accepted:
                return [r for r in results if r is not None]
            for inbox_id, total in used.items():
                delta = total - inboxes[inbox_id].used_bytes
                if delta:
                    await conn.execute(
                        update(INBOXES)
                        .where(INBOXES.c.id == inbox_id)
                        .values(used_bytes=INBOXES.c.used_bytes + delta)
                    )
            now = datetime.now(UTC)
            rows = [_message_row(inbox_id, msg, now) for inbox_id, msg in accepted]
            ids = (
                (
                    await conn.execute(
                        insert(MESSAGES).returning(MESSAGES.c.id, sort_by_parameter_order=True),
                        rows,
                    )
                )
                .scalars()
                .all()
            )
            await conn.execute(
                insert(BLOBS),
                [
                    {"message_id": mid, "data": msg.raw}
                    for mid, (_, msg) in zip(ids, accepted, strict=True)
                ],
            )
            attachments = [
                row
                for mid, (_, msg) in zip(ids, accepted, strict=True)
                if isinstance(msg, ParsedMessage)
                for row in attachment_rows(mid, msg)
            ]
            if attachments:
                await conn.execute(insert(ATTACHMENTS), attachments)
            await enqueue_events(
                s,
                "message.received",
                [
                    EventSource(inbox_id, received_data(int(mid), row))
                    for mid, row, (inbox_id, _) in zip(ids, rows, accepted, strict=True)
                ],
                now,
            )
            touch(s, (inbox_id for inbox_id, _ in accepted))
        stored = iter(
            StoredMessage(int(mid), row["uid"], inbox_id, inboxes[inbox_id].max_messages)
            for mid, row, (inbox_id, _) in zip(ids, rows, accepted, strict=True)
        )
        return [next(stored) if r is None else r for r in results]
