"""The delivery loop: sends the outbox's events to their subscriptions, signed, through the
SSRF-safe poster, and retries what fails.

- Per subscription, events go out one at a time in the order they were written (the head
  pending event first); subscriptions are served concurrently (``webhook_concurrency``).
- A delivery is acknowledged by a 2xx answer. Anything else is retried with exponential
  back-off and jitter (``webhook_backoff_seconds`` doubling up to
  ``webhook_backoff_max_seconds``, each delay drawn between half and all of it) until
  ``webhook_retry_hours`` after the event was written; then the event is ``failed`` and its
  subscription disabled with the reason (its later events wait, none is dropped).
- At least once: each attempt holds a lease on its event; a loop that dies mid-delivery
  (the process killed) leaves the event to be delivered again once the lease ends, with the
  same ``webhook-id`` for the receiver to recognise it.
- Nothing here runs on the capture path: captures only write the outbox rows.

``Deliverer.run_once`` does one round with the injected clock (tests drive it); ``run``
loops for the life of the server, woken by events this process writes and polling for those
other processes (Celery workers, analysis processes) write.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from mailqa.net.http.policy import AddressPolicy
from mailqa.net.http.poster import PostResult, VettedPoster
from mailqa.settings import Settings
from mailqa.store.models import WebhookEvent, WebhookSubscription
from mailqa.store.repository import Store
from mailqa.store.webhooks import Due
from mailqa.webhooks.signing import webhook_headers

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
LEASE_MARGIN_SECONDS = 5.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def public_base(settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    return f"http://{host}:{settings.http_port}"


def api_links(base: str, event_type: str, data: dict[str, Any]) -> dict[str, str]:
    """Where the API serves what the event is about."""
    api = f"{base}/api/v1"
    links: dict[str, str] = {}
    if data.get("inbox_id") is not None:
        links["inbox"] = f"{api}/inboxes/{data['inbox_id']}"
    if "message_id" in data:
        links["message"] = f"{api}/messages/{data['message_id']}"
        links["report"] = f"{api}/messages/{data['message_id']}/report"
    if "audit_id" in data:
        links["audit"] = f"{api}/audits/{data['audit_id']}"
        links["audit_messages"] = f"{api}/audits/{data['audit_id']}/messages"
    return links


def event_body(event: WebhookEvent, base: str) -> bytes:
    """The JSON a delivery of the event carries (the same on every attempt)."""
    data = {**event.payload, "links": api_links(base, event.type, event.payload)}
    document = {
        "type": event.type,
        "timestamp": event.created_at.isoformat(),
        "data": {"event_id": event.uid, **data},
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def signing_secrets(sub: WebhookSubscription, now: datetime) -> list[str]:
    """The subscription's secret, and its former one while the rotation overlap lasts."""
    found = [sub.secret]
    expires = sub.previous_secret_expires_at
    if sub.previous_secret and expires is not None and expires > now:
        found.append(sub.previous_secret)
    return found


class Deliverer:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Clock = utcnow,
        jitter: Callable[[], float] = random.random,
        poster: VettedPoster | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.repo = store.webhooks
        self.clock = clock
        self.jitter = jitter
        self.poster = poster or VettedPoster(
            AddressPolicy.from_entries(settings.webhook_allow),
            connect_timeout=settings.webhook_connect_timeout,
            timeout=settings.webhook_timeout,
            concurrency=settings.webhook_concurrency,
        )
        self.base = public_base(settings)
        self.delivered = 0
        self.failed_attempts = 0

    async def aclose(self) -> None:
        await self.poster.aclose()

    def backoff(self, attempts: int) -> timedelta:
        """The delay after the ``attempts``-th failed attempt (1, 2, ...), with jitter."""
        s = self.settings
        ceiling = min(
            s.webhook_backoff_seconds * 2 ** min(attempts - 1, 40), s.webhook_backoff_max_seconds
        )
        return timedelta(seconds=ceiling * (0.5 + self.jitter() / 2))

    def retry_until(self, now: datetime) -> datetime:
        return now + timedelta(hours=self.settings.webhook_retry_hours)

    async def run_once(self) -> tuple[int, datetime | None]:
        """Attempt every head event due now. Returns how many were attempted and when the
        next one is due (None: nothing pending)."""
        now = self.clock()
        due, later = await self.repo.due(now, limit=self.settings.webhook_concurrency)
        if due:
            await asyncio.gather(*(self.deliver(d) for d in due))
            _, later = await self.repo.due(self.clock(), limit=0)
        return len(due), later

    async def deliver(self, due: Due) -> PostResult | None:
        """One attempt of one event (None: another loop has it)."""
        event, sub = due.event, due.subscription
        now = self.clock()
        lease = now + timedelta(seconds=self.settings.webhook_timeout + LEASE_MARGIN_SECONDS)
        if not await self.repo.claim(event.id, now, lease):
            return None
        body = event_body(event, self.base)
        headers = webhook_headers(signing_secrets(sub, now), event.uid, int(now.timestamp()), body)
        result = await self.poster.post(sub.url, body, headers)
        attempt = {
            "attempted_at": now,
            "status_code": result.status_code,
            "error": result.error,
            "latency_ms": result.latency_ms,
            "response_excerpt": result.excerpt,
        }
        if result.ok:
            self.delivered += 1
            await self.repo.record_attempt(event.id, attempt, delivered=True, next_attempt_at=None)
            return result
        self.failed_attempts += 1
        if result.error is None:
            attempt["error"] = f"answered {result.status_code}"
        retry = self.clock() + self.backoff(event.attempts + 1)
        deadline = event.retry_until or event.created_at + timedelta(
            hours=self.settings.webhook_retry_hours
        )
        if retry <= deadline:
            await self.repo.record_attempt(
                event.id, attempt, delivered=False, next_attempt_at=retry
            )
            return result
        reason = (
            f"event {event.uid} could not be delivered for "
            f"{self.settings.webhook_retry_hours:g} h ({event.attempts + 1} attempts); "
            f"last: {attempt['error']}"
        )
        log.warning("webhook %d disabled: %s", sub.id, reason)
        await self.repo.record_attempt(
            event.id, attempt, delivered=False, next_attempt_at=None, disable_reason=reason
        )
        return result

    async def run(self) -> None:
        """Deliver for the life of the server."""
        poll = self.settings.webhook_poll_seconds
        signal = self.store.outbox_written
        while True:
            signal.clear()
            try:
                attempted, later = await self.run_once()
            except Exception:
                log.exception("webhook delivery round failed")
                attempted, later = 0, None
            if attempted:
                continue  # the next events of those subscriptions may be due at once
            wait = poll
            if later is not None:
                wait = min(wait, max(0.0, (later - self.clock()).total_seconds()))
            try:
                async with asyncio.timeout(wait):
                    await signal.wait()
            except TimeoutError:
                pass
