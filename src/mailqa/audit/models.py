"""Tables of stored audits (migrations 0002, 0003): one row per audit, one per audited
message."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailqa.store.models import NEVER_REUSE_IDS, Base, SafeText, UTCDateTime, utcnow


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
