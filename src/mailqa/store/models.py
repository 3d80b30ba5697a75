"""Tables: projects → inboxes → messages (+ raw bytes, attachments, report); API tokens;
audits (migrations 0002, 0003: one row per audit, one per audited message); webhook
subscriptions, their outbox of events and the delivery log (0011)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # SQLite compares the stored text: every value must be in UTC to compare right.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class SafeText(TypeDecorator[str]):
    """Text that comes from outside (mail headers, envelopes, API input). It may carry NUL
    characters and be of any length; PostgreSQL refuses both, so NUL becomes U+FFFD and
    values are cut to the column's length."""

    impl: TypeEngine[Any] | type[TypeEngine[Any]] = String
    cache_ok = True

    def __init__(self, length: int | None = None) -> None:
        super().__init__(length)
        self.length = length
        if length is None:  # unbounded text is TEXT, as the migrations create it
            self.impl = Text()

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        value = value.replace("\x00", "\ufffd")
        return value[: self.length] if self.length else value


class Base(DeclarativeBase):
    pass


# Ids are never reused: SQLite without AUTOINCREMENT hands a deleted row's id to the next
# insert, and anything still holding the old id (a queued analysis, a client's URL) would
# then reach the new row. PostgreSQL sequences never go back.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


def new_uid() -> str:
    """A message's identity beyond its id: what an analysis result must match to be saved."""
    return secrets.token_hex(16)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(SafeText(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Admin-set limits on what project tokens may do here; None: the global setting applies.
    max_inboxes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_inbox_quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Inbox(Base):
    __tablename__ = "inboxes"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(SafeText(200))
    smtp_username: Mapped[str] = mapped_column(String(64), unique=True)
    smtp_password: Mapped[str] = mapped_column(String(128))
    # The inbox's e-mail address (Mailtrap's): unauthenticated SMTP mail to this local part
    # lands here while enabled. Every inbox has one; nullable only for the migration.
    email_username: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    email_username_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    quota_bytes: Mapped[int] = mapped_column(BigInteger)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    max_messages: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_age_days: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(SafeText(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=True
    )
    sandbox_inbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("inboxes.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_inbox_created", "inbox_id", "id"),
        Index("ix_messages_uid", "uid", unique=True),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), default=new_uid)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    subject: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    from_header: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    from_address: Mapped[str | None] = mapped_column(SafeText(320), nullable=True)
    to_header: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    cc_header: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    message_id_header: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    preview_text: Mapped[str] = mapped_column(SafeText(), default="")
    has_html: Mapped[bool] = mapped_column(Boolean, default=False)
    has_text: Mapped[bool] = mapped_column(Boolean, default=False)
    # Decoded body sizes (UTF-8 bytes), so listings need not read the source; None on rows
    # stored before they were kept.
    html_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    text_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    mail_from: Mapped[str | None] = mapped_column(SafeText(320), nullable=True)
    rcpt_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    client_ip: Mapped[str | None] = mapped_column(SafeText(64), nullable=True)
    client_name: Mapped[str | None] = mapped_column(SafeText(255), nullable=True)
    helo: Mapped[str | None] = mapped_column(SafeText(255), nullable=True)
    smtp_tls: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    analysis_status: Mapped[str] = mapped_column(String(16), default="pending")
    # Analyses started and not finished: counted when a job starts, so a message whose
    # analysis keeps killing the server is recognised at start-up and not queued again.
    analysis_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    parse_defects: Mapped[list[str]] = mapped_column(JSON, default=list)
    # False while only the headers are read (capture scans them; the analysis job parses the
    # body and fills in the preview, body sizes, defects and attachment index).
    body_parsed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Set when retention dropped the raw source; the row and its report stay.
    source_expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MessageBlob(Base):
    """The raw bytes exactly as received, apart from the row so listings stay light."""

    __tablename__ = "message_blobs"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    index: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    content_type: Mapped[str] = mapped_column(SafeText(255))
    size: Mapped[int] = mapped_column(Integer)
    content_id: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    disposition: Mapped[str | None] = mapped_column(SafeText(32), nullable=True)
    transfer_encoding: Mapped[str | None] = mapped_column(SafeText(32), nullable=True)


class StoredReport(Base):
    __tablename__ = "reports"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Audit(Base):
    __tablename__ = "audits"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    executor: Mapped[str] = mapped_column(String(16), default="inline")
    """Where its messages are analysed: ``inline`` (the server that started it) or ``celery``."""
    imported: Mapped[bool] = mapped_column(default=False)
    """Its inbox holds mail imported for it (``mailqa audit FILES --executor celery``): each
    message's audit report is stored as the message's report."""
    checks: Mapped[list[str]] = mapped_column(JSON, default=list)
    online: Mapped[bool] = mapped_column(default=False)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """The summary, stored once the audit is done (it no longer changes)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditResult(Base):
    __tablename__ = "audit_results"
    __table_args__ = (
        UniqueConstraint("audit_id", "message_id", name="uq_audit_results_message"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookSubscription(Base):
    """Where events of one project or one inbox are delivered (exactly one of the two ids)."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=True, index=True
    )
    inbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("inboxes.id", ondelete="CASCADE"), nullable=True, index=True
    )
    url: Mapped[str] = mapped_column(SafeText(2000))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(128))
    # After a rotation the former secret still signs (beside the new one) until it expires.
    previous_secret: Mapped[str | None] = mapped_column(String(128), nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookEvent(Base):
    """The outbox: one event for one subscription, written in the transaction of the change
    that caused it, delivered (in id order per subscription) until it is acknowledged."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_due", "subscription_id", "status", "id"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    """The ``webhook-id``: the same on every attempt (the receiver's idempotency key)."""
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending`` (to deliver), ``delivered``, or ``failed`` (retries ran out)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retry_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """Retried until then; None: until ``created_at`` plus the configured retry horizon."""
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """Set while a delivery of it is under way: another delivery loop leaves it alone until
    then (a loop killed mid-delivery leaves it to the next after that)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookAttempt(Base):
    """The delivery log: one row per attempt."""

    __tablename__ = "webhook_attempts"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float)
    response_excerpt: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
