"""Webhook subscriptions, their outbox of events and the delivery log.

Events are written by ``enqueue_events`` inside the transaction of the change that causes
them (a captured message, a saved report, a finished audit): either both are stored or
neither. Delivery takes, per subscription, the oldest pending event (its head): events of a
subscription are delivered in the order they were written, and one that is retried holds
back the ones after it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mailqa.core.errors import NotFound
from mailqa.store.database import OUTBOX, Database
from mailqa.store.models import (
    Inbox,
    WebhookAttempt,
    WebhookEvent,
    WebhookSubscription,
)

EVENT_TYPES = ("message.received", "report.completed", "audit.completed")

INBOXES = cast(Table, Inbox.__table__)
SUBSCRIPTIONS = cast(Table, WebhookSubscription.__table__)
EVENTS = cast(Table, WebhookEvent.__table__)
ATTEMPTS = cast(Table, WebhookAttempt.__table__)


def new_event_uid() -> str:
    return f"msg_{secrets.token_hex(16)}"


@dataclass(frozen=True)
class EventSource:
    """What one event is about: the inbox it concerns and its data (ids, summary, verdict)."""

    inbox_id: int
    data: dict[str, Any]


async def enqueue_events(
    s: AsyncSession, event_type: str, sources: Sequence[EventSource], now: datetime
) -> int:
    """Write one event per source and subscribed subscription (enabled, of the source's inbox
    or its project, taking ``event_type``) in the session's transaction. Returns how many."""
    if not sources:
        return 0
    conn = await s.connection()
    inbox_ids = {src.inbox_id for src in sources}
    projects = dict(
        (
            await conn.execute(
                select(INBOXES.c.id, INBOXES.c.project_id).where(INBOXES.c.id.in_(inbox_ids))
            )
        ).all()
    )
    subs = (
        await conn.execute(
            select(
                SUBSCRIPTIONS.c.id,
                SUBSCRIPTIONS.c.inbox_id,
                SUBSCRIPTIONS.c.project_id,
                SUBSCRIPTIONS.c.events,
            )
            .where(SUBSCRIPTIONS.c.enabled.is_(True))
            .where(
                or_(
                    SUBSCRIPTIONS.c.inbox_id.in_(inbox_ids),
                    SUBSCRIPTIONS.c.project_id.in_(set(projects.values())),
                )
            )
            .order_by(SUBSCRIPTIONS.c.id)
        )
    ).all()
    rows = []
    for src in sources:
        project_id = projects.get(src.inbox_id)
        data = {**src.data, "inbox_id": src.inbox_id, "project_id": project_id}
        for sub in subs:
            if event_type not in (sub.events or ()):
                continue
            if sub.inbox_id != src.inbox_id and (
                sub.project_id is None or sub.project_id != project_id
            ):
                continue
            rows.append(
                {
                    "uid": new_event_uid(),
                    "subscription_id": sub.id,
                    "type": event_type,
                    "payload": data,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "retry_until": None,
                    "lease_until": None,
                    "created_at": now,
                }
            )
    if rows:
        await conn.execute(insert(EVENTS), rows)
        s.info[OUTBOX] = True
    return len(rows)


@dataclass(frozen=True)
class Due:
    """An event to deliver now, with its subscription."""

    event: WebhookEvent
    subscription: WebhookSubscription


class WebhookRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # Subscriptions ------------------------------------------------------------------------

    async def create_subscription(self, **fields: Any) -> WebhookSubscription:
        async with self.db.write() as s:
            sub = WebhookSubscription(**fields)
            s.add(sub)
        return sub

    async def list_subscriptions(
        self, *, project_ids: Sequence[int] | None = None, inbox_ids: Sequence[int] | None = None
    ) -> Sequence[WebhookSubscription]:
        """All of them, or those of the given projects or inboxes."""
        q = select(WebhookSubscription).order_by(WebhookSubscription.id)
        if project_ids is not None or inbox_ids is not None:
            q = q.where(
                or_(
                    WebhookSubscription.project_id.in_(project_ids or ()),
                    WebhookSubscription.inbox_id.in_(inbox_ids or ()),
                )
            )
        async with self.db.sessions() as s:
            return (await s.scalars(q)).all()

    async def get_subscription(self, subscription_id: int) -> WebhookSubscription:
        async with self.db.sessions() as s:
            sub = await s.get(WebhookSubscription, subscription_id)
        if sub is None:
            raise NotFound(f"webhook {subscription_id} not found")
        return sub

    async def update_subscription(
        self, subscription_id: int, *, retry_until: datetime | None = None, **fields: Any
    ) -> WebhookSubscription:
        """Change fields; enabling it again clears the reason it was disabled for and gives
        its pending events until ``retry_until``."""
        async with self.db.write() as s:
            sub = await s.get(WebhookSubscription, subscription_id)
            if sub is None:
                raise NotFound(f"webhook {subscription_id} not found")
            enabling = fields.get("enabled") is True and not sub.enabled
            for key, value in fields.items():
                setattr(sub, key, value)
            if enabling:
                sub.disabled_reason = None
                await s.execute(
                    update(WebhookEvent)
                    .where(WebhookEvent.subscription_id == subscription_id)
                    .where(WebhookEvent.status == "pending")
                    .values(retry_until=retry_until, next_attempt_at=datetime.now(UTC))
                )
                s.info[OUTBOX] = True
        return sub

    async def delete_subscription(self, subscription_id: int) -> None:
        async with self.db.write() as s:
            await s.execute(
                delete(WebhookAttempt).where(
                    WebhookAttempt.event_id.in_(
                        select(WebhookEvent.id).where(
                            WebhookEvent.subscription_id == subscription_id
                        )
                    )
                )
            )
            await s.execute(
                delete(WebhookEvent).where(WebhookEvent.subscription_id == subscription_id)
            )
            gone = await s.execute(
                delete(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
            )
        if gone.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"webhook {subscription_id} not found")

    # Events and the delivery log ----------------------------------------------------------

    async def list_events(
        self, subscription_id: int, *, limit: int = 50, before: int | None = None
    ) -> Sequence[WebhookEvent]:
        """Newest first."""
        q = (
            select(WebhookEvent)
            .where(WebhookEvent.subscription_id == subscription_id)
            .order_by(WebhookEvent.id.desc())
            .limit(limit)
        )
        if before is not None:
            q = q.where(WebhookEvent.id < before)
        async with self.db.sessions() as s:
            return (await s.scalars(q)).all()

    async def get_event(self, subscription_id: int, event_id: int) -> WebhookEvent:
        async with self.db.sessions() as s:
            event = await s.get(WebhookEvent, event_id)
        if event is None or event.subscription_id != subscription_id:
            raise NotFound(f"webhook event {event_id} not found")
        return event

    async def attempts(self, event_ids: Sequence[int]) -> dict[int, list[WebhookAttempt]]:
        """Each event's attempts, oldest first."""
        out: dict[int, list[WebhookAttempt]] = {i: [] for i in event_ids}
        if not event_ids:
            return out
        q = (
            select(WebhookAttempt)
            .where(WebhookAttempt.event_id.in_(event_ids))
            .order_by(WebhookAttempt.id)
        )
        async with self.db.sessions() as s:
            for attempt in (await s.scalars(q)).all():
                out[attempt.event_id].append(attempt)
        return out

    async def redeliver(
        self, subscription_id: int, event_id: int, *, now: datetime, retry_until: datetime
    ) -> WebhookEvent:
        """Deliver the event again (same id: receivers that saw it may skip it)."""
        async with self.db.write() as s:
            event = await s.get(WebhookEvent, event_id)
            if event is None or event.subscription_id != subscription_id:
                raise NotFound(f"webhook event {event_id} not found")
            event.status = "pending"
            event.next_attempt_at = now
            event.retry_until = retry_until
            event.lease_until = None
            s.info[OUTBOX] = True
        return event

    async def due(self, now: datetime, limit: int = 100) -> tuple[list[Due], datetime | None]:
        """The head events of enabled subscriptions that may be attempted now, and when the
        next of the others may (None: nothing is pending)."""
        # Each enabled subscription's oldest pending event, found through the index on
        # (subscription_id, status, id): the cost does not grow with the backlog.
        head = (
            select(WebhookEvent.id)
            .where(WebhookEvent.subscription_id == WebhookSubscription.id)
            .where(WebhookEvent.status == "pending")
            .order_by(WebhookEvent.id)
            .limit(1)
            .correlate(WebhookSubscription)
            .scalar_subquery()
        )
        q = (
            select(WebhookEvent, WebhookSubscription)
            .select_from(WebhookSubscription)
            .join(WebhookEvent, WebhookEvent.id == head)
            .where(WebhookSubscription.enabled.is_(True))
            .order_by(WebhookEvent.id)
        )
        async with self.db.sessions() as s:
            rows = (await s.execute(q)).all()
        due: list[Due] = []
        later: datetime | None = None
        for event, sub in rows:
            at = max(event.next_attempt_at, event.lease_until or event.next_attempt_at)
            if at <= now and len(due) < limit:
                due.append(Due(event, sub))
            elif later is None or at < later:
                later = at
        return due, later

    async def prune(self, older_than: datetime) -> int:
        """Drop delivered and failed events (and their logs) written before ``older_than``."""
        old = select(WebhookEvent.id).where(
            WebhookEvent.status.in_(("delivered", "failed")), WebhookEvent.created_at < older_than
        )
        async with self.db.write() as s:
            await s.execute(delete(WebhookAttempt).where(WebhookAttempt.event_id.in_(old)))
            gone = await s.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(old)))
        return int(gone.rowcount or 0)  # type: ignore[attr-defined]

    async def next_due(self, subscription_id: int, now: datetime) -> Due | None:
        """The subscription's oldest pending event, when it is enabled and that event may be
        attempted now."""
        q = (
            select(WebhookEvent, WebhookSubscription)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookEvent.subscription_id)
            .where(WebhookEvent.subscription_id == subscription_id)
            .where(WebhookEvent.status == "pending")
            .order_by(WebhookEvent.id)
            .limit(1)
        )
        async with self.db.sessions() as s:
            row = (await s.execute(q)).first()
        if row is None:
            return None
        event, sub = row
        at = max(event.next_attempt_at, event.lease_until or event.next_attempt_at)
        return Due(event, sub) if sub.enabled and at <= now else None

    async def claim(self, event_id: int, now: datetime, lease_until: datetime) -> bool:
        """Take the event for one delivery attempt; False when another loop has it."""
        async with self.db.write() as s:
            taken = await s.execute(
                update(EVENTS)
                .where(EVENTS.c.id == event_id)
                .where(EVENTS.c.status == "pending")
                .where(EVENTS.c.next_attempt_at <= now)
                .where(or_(EVENTS.c.lease_until.is_(None), EVENTS.c.lease_until <= now))
                .values(lease_until=lease_until)
            )
        return bool(taken.rowcount)  # type: ignore[attr-defined]

    async def record_attempt(
        self,
        event_id: int,
        attempt: dict[str, Any],
        *,
        delivered: bool,
        next_attempt_at: datetime | None,
        disable_reason: str | None = None,
    ) -> None:
        """Log the attempt and its outcome in one transaction: delivered; retried at
        ``next_attempt_at``; or, with neither, failed for good (and the subscription
        disabled with ``disable_reason``)."""
        values: dict[str, Any] = {"attempts": EVENTS.c.attempts + 1, "lease_until": None}
        if delivered:
            values.update(status="delivered", delivered_at=attempt["attempted_at"])
        elif next_attempt_at is not None:
            values.update(next_attempt_at=next_attempt_at)
        else:
            values.update(status="failed")
        async with self.db.write() as s:
            sub_id = (
                await s.execute(
                    update(EVENTS)
                    .where(EVENTS.c.id == event_id)
                    .values(**values)
                    .returning(EVENTS.c.subscription_id)
                )
            ).scalar()
            if sub_id is None:
                return  # its subscription was deleted meanwhile
            await s.execute(insert(ATTEMPTS), [{"event_id": event_id, **attempt}])
            if not delivered and next_attempt_at is None and disable_reason is not None:
                await s.execute(
                    update(SUBSCRIPTIONS)
                    .where(SUBSCRIPTIONS.c.id == sub_id)
                    .values(enabled=False, disabled_reason=disable_reason)
                )
