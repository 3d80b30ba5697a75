"""The ``Store``: every database read and write, one method each. Callers get plain rows; no
SQL leaks out of the store package.

The methods are those of the per-entity repositories of this package (projects, inboxes,
sandboxes, tokens, capture, messages, sources, removal, reports), wired together over one
``Database``; the ``Store`` is the one way to reach them. Webhooks have their repository
as ``store.webhooks``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mailqa.core.message import ParsedMessage
from mailqa.core.report import Report
from mailqa.store.capture import CaptureWriter, NewMessage, StoredMessage
from mailqa.store.database import Database
from mailqa.store.inboxes import InboxRepository, InboxStats
from mailqa.store.messages import MessageFilter, MessageRepository, PendingMessage
from mailqa.store.models import ApiToken, Attachment, Inbox, Message, Project
from mailqa.store.projects import ProjectRepository
from mailqa.store.removal import MessageRemoval
from mailqa.store.reports import ReportRepository
from mailqa.store.sandboxes import Sandboxes
from mailqa.store.sources import SourceRepository
from mailqa.store.tokens import TokenRepository
from mailqa.store.webhooks import WebhookRepository


class Store:
    """The repository over one database."""

    def __init__(self, url: str) -> None:
        self._db = Database(url)
        self.url = url
        self.engine: AsyncEngine = self._db.engine
        self.sessions: async_sessionmaker[AsyncSession] = self._db.sessions
        self.changes = self._db.changes
        self._removal = MessageRemoval(self._db)
        self._inboxes = InboxRepository(self._db, self._removal)
        self._projects = ProjectRepository(self._db, self._inboxes)
        self._sandboxes = Sandboxes(self._db, self._projects, self._inboxes)
        self._tokens = TokenRepository(self._db)
        self._capture = CaptureWriter(self._db)
        self._messages = MessageRepository(self._db)
        self._sources = SourceRepository(self._db)
        self._reports = ReportRepository(self._db)
        self.webhooks = WebhookRepository(self._db)
        """Webhook subscriptions, their outbox and delivery log (``store.webhooks``)."""
        self.outbox_written = self._db.outbox_written
        """Set when this process committed webhook events (the delivery loop clears it)."""
        self.credentials_version = 0
        """Counts changes this process made to who may log in (tokens deleted, inbox
        credentials reset, inboxes or projects changed or deleted): caches of recent
        successful logins hold only while it stays the same."""

    def _credentials_changed(self) -> None:
        self.credentials_version += 1

    async def close(self) -> None:
        await self._db.close()

    async def ping(self) -> None:
        await self._db.ping()

    # Projects (store.projects) -------------------------------------------------------------

    async def create_project(self, name: str, **limits: int | None) -> Project:
        return await self._projects.create_project(name, **limits)

    async def list_projects(self, project_id: int | None = None) -> Sequence[Project]:
        return await self._projects.list_projects(project_id)

    async def get_project(self, project_id: int) -> Project:
        return await self._projects.get_project(project_id)

    async def update_project(self, project_id: int, **fields: Any) -> Project:
        try:
            return await self._projects.update_project(project_id, **fields)
        finally:
            self._credentials_changed()

    async def delete_project(self, project_id: int) -> None:
        try:
            await self._projects.delete_project(project_id)
        finally:
            self._credentials_changed()

    # Inboxes (store.inboxes) ---------------------------------------------------------------

    async def create_inbox(
        self,
        project_id: int,
        name: str,
        quota_bytes: int,
        *,
        max_inboxes: int | None = None,
        **options: Any,
    ) -> Inbox:
        return await self._inboxes.create_inbox(
            project_id, name, quota_bytes, max_inboxes=max_inboxes, **options
        )

    async def list_inboxes(self, project_id: int | None = None) -> Sequence[Inbox]:
        return await self._inboxes.list_inboxes(project_id)

    async def get_inbox(self, inbox_id: int) -> Inbox:
        return await self._inboxes.get_inbox(inbox_id)

    async def update_inbox(self, inbox_id: int, **fields: Any) -> Inbox:
        try:
            return await self._inboxes.update_inbox(inbox_id, **fields)
        finally:
            self._credentials_changed()

    async def reset_credentials(self, inbox_id: int) -> Inbox:
        try:
            return await self._inboxes.reset_credentials(inbox_id)
        finally:
            self._credentials_changed()

    async def toggle_email_username(self, inbox_id: int) -> Inbox:
        return await self._inboxes.toggle_email_username(inbox_id)

    async def reset_email_username(self, inbox_id: int) -> Inbox:
        return await self._inboxes.reset_email_username(inbox_id)

    async def inbox_by_email_username(self, email_username: str) -> Inbox | None:
        return await self._inboxes.inbox_by_email_username(email_username)

    async def inbox_for_recipients(self, recipients: Sequence[str]) -> Inbox | None:
        return await self._inboxes.inbox_for_recipients(recipients)

    async def delete_inbox(self, inbox_id: int) -> None:
        try:
            await self._inboxes.delete_inbox(inbox_id)
        finally:
            self._credentials_changed()

    async def inbox_stats(self, inbox_ids: Sequence[int]) -> dict[int, InboxStats]:
        return await self._inboxes.inbox_stats(inbox_ids)

    async def find_inbox_by_smtp(self, username: str, password: str) -> Inbox | None:
        return await self._inboxes.find_inbox_by_smtp(username, password)

    # Inboxes created on first use (store.sandboxes) ----------------------------------------

    async def default_inbox(self, quota_bytes: int, inbox_id: int | None = None) -> Inbox:
        return await self._sandboxes.default_inbox(quota_bytes, inbox_id)

    async def sandbox_inbox(
        self, token: ApiToken, *, create: bool, quota_bytes: int
    ) -> Inbox | None:
        return await self._sandboxes.sandbox_inbox(token, create=create, quota_bytes=quota_bytes)

    # Tokens (store.tokens) -----------------------------------------------------------------

    async def create_token(
        self,
        name: str,
        *,
        is_admin: bool = False,
        project_id: int | None = None,
        token: str | None = None,
    ) -> tuple[str, ApiToken]:
        return await self._tokens.create_token(
            name, is_admin=is_admin, project_id=project_id, token=token
        )

    async def resolve_token(self, plain: str) -> ApiToken | None:
        return await self._tokens.resolve_token(plain)

    async def delete_token(self, token_id: int) -> None:
        try:
            await self._tokens.delete_token(token_id)
        finally:
            self._credentials_changed()

    async def get_token(self, token_id: int) -> ApiToken | None:
        return await self._tokens.get_token(token_id)

    async def token_exists(self, plain: str) -> bool:
        return await self._tokens.token_exists(plain)

    async def list_tokens(self) -> Sequence[ApiToken]:
        return await self._tokens.list_tokens()

    # Capture (store.capture) ---------------------------------------------------------------

    async def insert_message(self, inbox_id: int, msg: NewMessage) -> StoredMessage:
        return await self._capture.insert_message(inbox_id, msg)

    async def save_body(self, message_id: int, uid: str, msg: ParsedMessage) -> bool:
        return await self._capture.save_body(message_id, uid, msg)

    # Messages (store.messages) -------------------------------------------------------------

    async def list_messages(
        self,
        inbox_id: int,
        *,
        offset: int = 0,
        limit: int = 30,
        filters: MessageFilter | None = None,
    ) -> tuple[Sequence[Message], int]:
        return await self._messages.list_messages(
            inbox_id, offset=offset, limit=limit, filters=filters
        )

    async def latest_message(self, inbox_id: int, filters: MessageFilter | None) -> Message | None:
        return await self._messages.latest_message(inbox_id, filters)

    async def inbox_signatures(self, inbox_ids: Sequence[int]) -> dict[int, Any]:
        return await self._messages.inbox_signatures(inbox_ids)

    async def get_message(self, message_id: int) -> Message:
        return await self._messages.get_message(message_id)

    async def project_of_message(self, message_id: int) -> int:
        return await self._messages.project_of_message(message_id)

    async def message_uids(self, message_ids: Sequence[int]) -> dict[int, str]:
        return await self._messages.message_uids(message_ids)

    async def set_read(self, message_id: int, is_read: bool) -> Message:
        return await self._messages.set_read(message_id, is_read)

    async def mark_all_read(self, inbox_id: int) -> int:
        return await self._messages.mark_all_read(inbox_id)

    async def pending_messages(self, limit: int = 10_000) -> list[PendingMessage]:
        return await self._messages.pending_messages(limit)

    async def count_attempt(self, message_id: int, uid: str) -> bool:
        return await self._messages.count_attempt(message_id, uid)

    # Raw sources and attachments (store.sources) -------------------------------------------

    async def get_raw(self, message_id: int) -> bytes:
        return await self._sources.get_raw(message_id)

    async def get_messages_with_raw(
        self, message_ids: Sequence[int]
    ) -> dict[int, tuple[Message, bytes]]:
        return await self._sources.get_messages_with_raw(message_ids)

    async def get_attachments(self, message_id: int) -> Sequence[Attachment]:
        return await self._sources.get_attachments(message_id)

    # Deletes and retention (store.removal) -------------------------------------------------

    async def unparsed_messages(self, inbox_id: int, older_than: datetime) -> list[int]:
        return await self._removal.unparsed_messages(inbox_id, older_than)

    async def expire_sources(self, inbox_id: int, older_than: datetime) -> int:
        return await self._removal.expire_sources(inbox_id, older_than)

    async def delete_message(self, message_id: int) -> None:
        await self._removal.delete_message(message_id)

    async def purge_inbox(self, inbox_id: int) -> int:
        return await self._removal.purge_inbox(inbox_id)

    async def prune(
        self, inbox_id: int, *, max_messages: int | None, max_age_days: float | None
    ) -> int:
        return await self._removal.prune(
            inbox_id, max_messages=max_messages, max_age_days=max_age_days
        )

    # Reports (store.reports) ---------------------------------------------------------------

    async def save_report(self, message_id: int, uid: str, report: Report) -> None:
        await self._reports.save_report(message_id, uid, report)

    async def get_report(self, message_id: int) -> Report | None:
        return await self._reports.get_report(message_id)

    async def get_reports(
        self, message_ids: Sequence[int], *, only_checks: Collection[str] | None = None
    ) -> dict[int, Report]:
        return await self._reports.get_reports(message_ids, only_checks=only_checks)
