"""All database reads and writes. Callers get plain rows; no SQL leaks out of this module."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mailqa.core.errors import LimitExceeded, NotFound, QuotaExceeded, SourceExpired
from mailqa.core.message import CapturedMessage, ParsedMessage
from mailqa.core.report import Report
from mailqa.store.changes import ChangeHub
from mailqa.store.database import create_engine, session_factory
from mailqa.store.models import (
    ApiToken,
    Attachment,
    Inbox,
    Message,
    MessageBlob,
    Project,
    StoredReport,
    new_uid,
    utcnow,
)

TOKEN_PREFIX = "mq_"
DEFAULT_NAME = "Default"  # project and inbox for unauthenticated SMTP mail
MESSAGES = cast(Table, Message.__table__)
BLOBS = cast(Table, MessageBlob.__table__)
ATTACHMENTS = cast(Table, Attachment.__table__)
REPORTS = cast(Table, StoredReport.__table__)
CAPTURE_BATCH = 200
CHANGED = "mailqa.changed_inboxes"  # session.info key: inboxes a transaction changed


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret(nbytes: int = 12) -> str:
    return secrets.token_hex(nbytes)


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
class InboxStats:
    messages: int
    unread: int
    last_message_at: datetime | None


@dataclass(frozen=True)
class StoredMessage:
    """A freshly stored message and its inbox's own message limit (age limits are the
    retention sweep's business)."""

    id: int
    uid: str
    inbox_id: int
    inbox_max_messages: int | None


@dataclass(frozen=True)
class PendingMessage:
    """A message stored but not analysed, and how many analyses of it were cut short."""

    id: int
    uid: str
    attempts: int


NewMessage = ParsedMessage | CapturedMessage
"""A message to store: parsed in full (uploads, imports), or as capture scanned it."""


def utf8_size(text: str | None) -> int:
    return len(text.encode("utf-8", "replace")) if text else 0


def _message_row(
    inbox_id: int, msg: ParsedMessage | CapturedMessage, now: datetime
) -> dict[str, Any]:
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
        row.update(_body_facts(msg))
    return row


def _body_facts(msg: ParsedMessage) -> dict[str, Any]:
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


def _attachment_rows(message_id: int, msg: ParsedMessage) -> list[dict[str, Any]]:
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


def _touch(s: AsyncSession, inbox_ids: Iterable[int]) -> None:
    """Note that the transaction changes these inboxes' mail: announced once it commits."""
    s.info.setdefault(CHANGED, set()).update(inbox_ids)


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Store:
    """The repository over one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(url)
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)
        self._sandbox_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        self._capture_queue: list[tuple[int, NewMessage, asyncio.Future[StoredMessage]]] = []
        self._capture_flusher: asyncio.Task[None] | None = None
        self._report_queue: list[tuple[int, str, Report, asyncio.Future[None]]] = []
        self._report_flusher: asyncio.Task[None] | None = None
        # Who waits on which inbox; every committed change to an inbox's mail wakes them.
        self.changes = ChangeHub()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction. SQLite allows one writer at a time: queue writers here
        rather than letting them spin on the database lock (which costs up to seconds).

        The inboxes it changed (``_touch``) are announced once it has committed."""
        if self._write_lock is None:
            async with self.sessions() as s:
                async with s.begin():
                    yield s
                self.changes.notify(s.info.pop(CHANGED, ()))
            return
        async with self._write_lock, self.sessions() as s:
            async with s.begin():
                yield s
            self.changes.notify(s.info.pop(CHANGED, ()))

    async def close(self) -> None:
        await self.changes.close()
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self.sessions() as s:
            await s.execute(select(1))

    # Projects -----------------------------------------------------------------------------

    async def create_project(self, name: str) -> Project:
        async with self._write() as s:
            project = Project(name=name)
            s.add(project)
        return project

    async def list_projects(self, project_id: int | None = None) -> Sequence[Project]:
        async with self.sessions() as s:
            q = select(Project).order_by(Project.id)
            if project_id is not None:
                q = q.where(Project.id == project_id)
            return (await s.scalars(q)).all()

    async def get_project(self, project_id: int) -> Project:
        async with self.sessions() as s:
            project = await s.get(Project, project_id)
        if project is None:
            raise NotFound(f"project {project_id} not found")
        return project

    async def update_project(self, project_id: int, name: str) -> Project:
        async with self._write() as s:
            project = await s.get(Project, project_id)
            if project is None:
                raise NotFound(f"project {project_id} not found")
            project.name = name
        return project

    async def delete_project(self, project_id: int) -> None:
        async with self._write() as s:
            inbox_ids = (
                await s.scalars(select(Inbox.id).where(Inbox.project_id == project_id))
            ).all()
            for inbox_id in inbox_ids:
                await self._delete_inbox_rows(s, inbox_id)
            await s.execute(delete(ApiToken).where(ApiToken.project_id == project_id))
            result = await s.execute(delete(Project).where(Project.id == project_id))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"project {project_id} not found")

    # Inboxes ------------------------------------------------------------------------------

    async def create_inbox(
        self,
        project_id: int,
        name: str,
        quota_bytes: int,
        *,
        max_inboxes: int | None = None,
        **options: Any,
    ) -> Inbox:
        """With ``max_inboxes``, refuse (LimitExceeded) when the project has that many
        already; concurrent creations in one project take turns, so none slips past."""
        async with self._write() as s:
            locked = self.engine.dialect.name != "sqlite"  # SQLite: one writer anyway
            if await s.get(Project, project_id, with_for_update=locked) is None:
                raise NotFound(f"project {project_id} not found")
            if max_inboxes is not None:
                count = await s.scalar(
                    select(func.count()).select_from(Inbox).where(Inbox.project_id == project_id)
                )
                if int(count or 0) >= max_inboxes:
                    raise LimitExceeded(
                        f"project {project_id} has {count} inboxes, the most a project token "
                        f"may create (MAILQA_MAX_INBOXES_PER_PROJECT={max_inboxes}); "
                        "an admin token can create more"
                    )
            inbox = Inbox(
                project_id=project_id,
                name=name,
                smtp_username=new_secret(7),
                smtp_password=new_secret(7),
                quota_bytes=quota_bytes,
                used_bytes=0,
                **options,
            )
            s.add(inbox)
        return inbox

    async def list_inboxes(self, project_id: int | None = None) -> Sequence[Inbox]:
        async with self.sessions() as s:
            q = select(Inbox).order_by(Inbox.id)
            if project_id is not None:
                q = q.where(Inbox.project_id == project_id)
            return (await s.scalars(q)).all()

    async def get_inbox(self, inbox_id: int) -> Inbox:
        async with self.sessions() as s:
            inbox = await s.get(Inbox, inbox_id)
        if inbox is None:
            raise NotFound(f"inbox {inbox_id} not found")
        return inbox

    async def update_inbox(self, inbox_id: int, **fields: Any) -> Inbox:
        async with self._write() as s:
            inbox = await s.get(Inbox, inbox_id)
            if inbox is None:
                raise NotFound(f"inbox {inbox_id} not found")
            for key, value in fields.items():
                setattr(inbox, key, value)
        return inbox

    async def reset_credentials(self, inbox_id: int) -> Inbox:
        return await self.update_inbox(inbox_id, smtp_password=new_secret(7))

    async def delete_inbox(self, inbox_id: int) -> None:
        async with self._write() as s:
            if await s.get(Inbox, inbox_id) is None:
                raise NotFound(f"inbox {inbox_id} not found")
            await self._delete_inbox_rows(s, inbox_id)

    async def _delete_inbox_rows(self, s: AsyncSession, inbox_id: int) -> None:
        _touch(s, [inbox_id])
        await self._delete_messages(s, select(Message.id).where(Message.inbox_id == inbox_id))
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
        async with self.sessions() as s:
            rows = (await s.execute(q)).all()
        return {
            int(inbox_id): InboxStats(int(total), int(unread_count or 0), last)
            for inbox_id, total, unread_count, last in rows
        }

    async def find_inbox_by_smtp(self, username: str, password: str) -> Inbox | None:
        async with self.sessions() as s:
            inbox = await s.scalar(select(Inbox).where(Inbox.smtp_username == username))
        if inbox is None or not secrets.compare_digest(inbox.smtp_password, password):
            return None
        return inbox

    async def default_inbox(self, quota_bytes: int, inbox_id: int | None = None) -> Inbox:
        """The inbox unauthenticated SMTP mail goes to: ``inbox_id`` when given, else the
        inbox "Default" of the project "Default", created on first use."""
        if inbox_id is not None:
            return await self.get_inbox(inbox_id)
        query = (
            select(Inbox)
            .join(Project, Project.id == Inbox.project_id)
            .where(Project.name == DEFAULT_NAME, Inbox.name == DEFAULT_NAME)
            .order_by(Inbox.id)
            .limit(1)
        )
        async with self.sessions() as s:
            inbox = await s.scalar(query)
        if inbox is not None:
            return inbox
        async with self._sandbox_lock:  # one creator per process
            async with self.sessions() as s:
                inbox = await s.scalar(query)
            if inbox is not None:
                return inbox
            async with self.sessions() as s:
                project = await s.scalar(
                    select(Project).where(Project.name == DEFAULT_NAME).order_by(Project.id)
                )
            if project is None:
                project = await self.create_project(DEFAULT_NAME)
            return await self.create_inbox(project.id, DEFAULT_NAME, quota_bytes)

    # Tokens -------------------------------------------------------------------------------

    async def create_token(
        self,
        name: str,
        *,
        is_admin: bool = False,
        project_id: int | None = None,
        token: str | None = None,
    ) -> tuple[str, ApiToken]:
        plain = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self._write() as s:
            row = ApiToken(
                name=name,
                token_hash=hash_token(plain),
                prefix=plain[:8],
                is_admin=is_admin,
                project_id=project_id,
            )
            s.add(row)
        return plain, row

    async def resolve_token(self, plain: str) -> ApiToken | None:
        async with self.sessions() as s:
            return await s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))

    async def delete_token(self, token_id: int) -> None:
        """Revoke a token: it stops working at once. Its sandbox inbox and mail stay."""
        async with self._write() as s:
            deleted = await s.execute(delete(ApiToken).where(ApiToken.id == token_id))
        if deleted.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"token {token_id} not found")

    async def get_token(self, token_id: int) -> ApiToken | None:
        """The token, or None once it has been revoked."""
        async with self.sessions() as s:
            return await s.get(ApiToken, token_id)

    async def token_exists(self, plain: str) -> bool:
        return await self.resolve_token(plain) is not None

    async def list_tokens(self) -> Sequence[ApiToken]:
        async with self.sessions() as s:
            return (await s.scalars(select(ApiToken).order_by(ApiToken.id))).all()

    async def _current_sandbox(self, token: ApiToken) -> Inbox | None:
        async with self.sessions() as s:
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
                project_id = (await self.create_project(f"Sandbox of {token.name}")).id
            inbox = await self.create_inbox(project_id, f"Sandbox ({token.prefix}…)", quota_bytes)
            async with self._write() as s:
                claimed = await s.execute(
                    update(ApiToken)
                    .where(ApiToken.id == token.id, ApiToken.sandbox_inbox_id.is_(None))
                    .values(sandbox_inbox_id=inbox.id)
                )
            if claimed.rowcount == 0:  # type: ignore[attr-defined]
                # Another process won the race: drop ours and use theirs.
                await self.delete_inbox(inbox.id)
                if new_project:
                    await self.delete_project(project_id)
                async with self.sessions() as s:
                    winner = await s.scalar(
                        select(Inbox)
                        .join(ApiToken, ApiToken.sandbox_inbox_id == Inbox.id)
                        .where(ApiToken.id == token.id)
                    )
                token.sandbox_inbox_id = winner.id if winner else None
                return winner
            token.sandbox_inbox_id = inbox.id
            return inbox

    # Messages -----------------------------------------------------------------------------

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
            batch = self._capture_queue[:CAPTURE_BATCH]
            del self._capture_queue[:CAPTURE_BATCH]
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
        async with self._write() as s:
            query = select(Inbox.id, Inbox.used_bytes, Inbox.quota_bytes, Inbox.max_messages).where(
                Inbox.id.in_({inbox_id for inbox_id, _ in items})
            )
            if self.engine.dialect.name != "sqlite":
                query = query.with_for_update()
            inboxes = {row.id: row for row in (await s.execute(query)).all()}
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
                    await s.execute(
                        update(Inbox)
                        .where(Inbox.id == inbox_id)
                        .values(used_bytes=Inbox.used_bytes + delta)
                    )
            now = datetime.now(UTC)
            rows = [_message_row(inbox_id, msg, now) for inbox_id, msg in accepted]
            ids = (
                await s.scalars(
                    insert(MESSAGES).returning(MESSAGES.c.id, sort_by_parameter_order=True), rows
                )
            ).all()
            await s.execute(
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
                for row in _attachment_rows(mid, msg)
            ]
            if attachments:
                await s.execute(insert(ATTACHMENTS), attachments)
            _touch(s, (inbox_id for inbox_id, _ in accepted))
        stored = iter(
            StoredMessage(int(mid), row["uid"], inbox_id, inboxes[inbox_id].max_messages)
            for mid, row, (inbox_id, _) in zip(ids, rows, accepted, strict=True)
        )
        return [next(stored) if r is None else r for r in results]

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
        async with self.sessions() as s:
            total = await s.scalar(select(func.count()).select_from(q.subquery()))
            rows = (
                await s.scalars(q.order_by(Message.id.desc()).offset(offset).limit(limit))
            ).all()
        return rows, int(total or 0)

    async def latest_message(self, inbox_id: int, filters: MessageFilter | None) -> Message | None:
        q = self._filtered(inbox_id, filters).order_by(Message.id.desc()).limit(1)
        async with self.sessions() as s:
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
        async with self.sessions() as s:
            rows = (await s.execute(q)).all()
        return {row[0]: tuple(row[1:]) for row in rows}

    async def save_body(self, message_id: int, uid: str, msg: ParsedMessage) -> bool:
        """Store what the full parse of a captured message found (previews, body sizes, the
        attachment index), once, onto that very message. False when it is gone."""
        async with self._write() as s:
            row = await s.get(Message, message_id)
            if row is None or row.uid != uid:
                return False
            if row.body_parsed:
                return True
            for key, value in _body_facts(msg).items():
                setattr(row, key, value)
            attachments = _attachment_rows(message_id, msg)
            if attachments:
                await s.execute(insert(ATTACHMENTS), attachments)
            _touch(s, [row.inbox_id])
        return True

    async def get_message(self, message_id: int) -> Message:
        async with self.sessions() as s:
            row = await s.get(Message, message_id)
        if row is None:
            raise NotFound(f"message {message_id} not found")
        return row

    async def project_of_message(self, message_id: int) -> int:
        """The project whose inbox holds the message."""
        async with self.sessions() as s:
            project_id = await s.scalar(
                select(Inbox.project_id)
                .join(Message, Message.inbox_id == Inbox.id)
                .where(Message.id == message_id)
            )
        if project_id is None:
            raise NotFound(f"message {message_id} not found")
        return int(project_id)

    async def get_raw(self, message_id: int) -> bytes:
        async with self.sessions() as s:
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
        async with self.sessions() as s:
            rows = await s.execute(
                select(Message, MessageBlob.data)
                .join(MessageBlob, MessageBlob.message_id == Message.id)
                .where(Message.id.in_(list(message_ids)))
            )
            return {message.id: (message, bytes(data)) for message, data in rows}

    async def get_attachments(self, message_id: int) -> Sequence[Attachment]:
        async with self.sessions() as s:
            q = select(Attachment).where(Attachment.message_id == message_id)
            return (await s.scalars(q.order_by(Attachment.index))).all()

    async def set_read(self, message_id: int, is_read: bool) -> Message:
        async with self._write() as s:
            row = await s.get(Message, message_id)
            if row is None:
                raise NotFound(f"message {message_id} not found")
            row.is_read = is_read
            _touch(s, [row.inbox_id])
        return row

    async def mark_all_read(self, inbox_id: int) -> int:
        async with self._write() as s:
            result = await s.execute(
                update(Message)
                .where(Message.inbox_id == inbox_id, Message.is_read.is_(False))
                .values(is_read=True)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                _touch(s, [inbox_id])
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _delete_messages(self, s: AsyncSession, ids_query: Any) -> int:
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
        _touch(s, freed)
        return len(deleted)

    async def _give_back(self, s: AsyncSession, inbox_id: int, size: int) -> None:
        """Lower an inbox's used bytes by ``size``, never below zero."""
        floor = func.max if self.engine.dialect.name == "sqlite" else func.greatest
        await s.execute(
            update(Inbox)
            .where(Inbox.id == inbox_id)
            .values(used_bytes=floor(Inbox.used_bytes - size, 0))
        )

    async def unparsed_messages(self, inbox_id: int, older_than: datetime) -> list[int]:
        """Messages of the inbox received before ``older_than`` whose body is not parsed."""
        async with self.sessions() as s:
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
        async with self._write() as s:
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
            _touch(s, [inbox_id])
        return len(expired)

    async def delete_message(self, message_id: int) -> None:
        async with self._write() as s:
            deleted = await self._delete_messages(
                s, select(Message.id).where(Message.id == message_id)
            )
        if not deleted:
            raise NotFound(f"message {message_id} not found")

    async def purge_inbox(self, inbox_id: int) -> int:
        async with self._write() as s:
            count = await self._delete_messages(
                s, select(Message.id).where(Message.inbox_id == inbox_id)
            )
            await s.execute(update(Inbox).where(Inbox.id == inbox_id).values(used_bytes=0))
        return count

    async def prune(
        self, inbox_id: int, *, max_messages: int | None, max_age_days: float | None
    ) -> int:
        """Apply retention: drop messages beyond the newest ``max_messages`` or too old."""
        pruned = 0
        async with self._write() as s:
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
                    pruned += await self._delete_messages(
                        s,
                        select(Message.id).where(
                            Message.inbox_id == inbox_id, Message.id <= cutoff_id
                        ),
                    )
            if max_age_days is not None:
                cutoff = datetime.now(UTC) - timedelta(days=max_age_days)
                pruned += await self._delete_messages(
                    s,
                    select(Message.id).where(
                        Message.inbox_id == inbox_id, Message.created_at < cutoff
                    ),
                )
        return pruned

    async def pending_messages(self, limit: int = 10_000) -> list[PendingMessage]:
        async with self.sessions() as s:
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
        async with self._write() as s:
            done = await s.execute(
                update(Message)
                .where(Message.id == message_id, Message.uid == uid)
                .values(analysis_attempts=Message.analysis_attempts + 1)
            )
        return bool(cast(Any, done).rowcount)

    # Reports ------------------------------------------------------------------------------

    async def save_report(self, message_id: int, uid: str, report: Report) -> None:
        """Insert or replace the report (idempotent: the same analysis may be written twice).

        Saved only onto the message that was analysed: the row must still carry ``uid``,
        or the report is dropped. Group-committed like captures: concurrent analyses share
        one transaction.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._report_queue.append((message_id, uid, report, future))
        if self._report_flusher is None or self._report_flusher.done():
            self._report_flusher = asyncio.create_task(self._flush_reports())
        await future

    async def _flush_reports(self) -> None:
        while self._report_queue:
            batch = self._report_queue[:CAPTURE_BATCH]
            del self._report_queue[:CAPTURE_BATCH]
            latest = {(mid, uid): report for mid, uid, report, _ in batch}  # last write wins
            try:
                await self._save_reports(latest)
            except Exception as exc:
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for *_, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _save_reports(self, reports: dict[tuple[int, str], Report]) -> None:
        now = datetime.now(UTC)
        async with self._write() as s:
            ids = {mid for mid, _ in reports}
            found = (
                await s.execute(
                    select(Message.id, Message.uid, Message.inbox_id).where(Message.id.in_(ids))
                )
            ).all()
            kept = [(mid, uid, inbox_id) for mid, uid, inbox_id in found if (mid, uid) in reports]
            if not kept:
                return  # every message was deleted while being analysed
            alive = [(mid, uid) for mid, uid, _ in kept]
            _touch(s, (inbox_id for *_, inbox_id in kept))
            rows = [
                {
                    "message_id": mid,
                    "status": reports[mid, uid].status.value,
                    "score": reports[mid, uid].score,
                    "data": reports[mid, uid].model_dump(mode="json", by_alias=True),
                    "updated_at": now,
                }
                for mid, uid in alive
            ]
            table = REPORTS
            upsert = (sqlite_insert if self.engine.dialect.name == "sqlite" else pg_insert)(table)
            await s.execute(
                upsert.on_conflict_do_update(
                    index_elements=[table.c.message_id],
                    set_={
                        "status": upsert.excluded.status,
                        "score": upsert.excluded.score,
                        "data": upsert.excluded.data,
                        "updated_at": upsert.excluded.updated_at,
                    },
                ),
                rows,
            )
            messages = MESSAGES
            await s.execute(
                update(messages)
                .where(messages.c.id == bindparam("mid"))
                .values(analysis_status="analyzed", score=bindparam("new_score")),
                [{"mid": r["message_id"], "new_score": r["score"]} for r in rows],
            )

    async def get_report(self, message_id: int) -> Report | None:
        async with self.sessions() as s:
            row = await s.get(StoredReport, message_id)
        if row is None:
            return None
        return Report.model_validate(row.data)

    async def get_reports(
        self, message_ids: Sequence[int], *, only_checks: Collection[str] | None = None
    ) -> dict[int, Report]:
        """The reports of several messages in one query. With ``only_checks``, each report
        keeps just those sections (a listing validates what it shows, not whole reports)."""
        if not message_ids:
            return {}
        async with self.sessions() as s:
            rows = await s.execute(
                select(StoredReport.message_id, StoredReport.data).where(
                    StoredReport.message_id.in_(message_ids)
                )
            )
            found = rows.all()
        out: dict[int, Report] = {}
        for message_id, data in found:
            if only_checks is not None:
                checks = data.get("checks") or {}
                data = {**data, "checks": {k: v for k, v in checks.items() if k in only_checks}}
            out[message_id] = Report.model_validate(data)
        return out
