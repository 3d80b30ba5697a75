"""The delivery loop: sends the outbox's events to their subscriptions, signed, through the
SSRF-safe poster, and retries what fails.

- Per subscription, events go out one at a time in the order they were written (the head
  pending event first); subscriptions are served concurrently (``webhook_concurrency``),
  each by a task of its own, so a slow receiver delays only its own events.
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
import functools
import json
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from mailqa.metrics import Metrics
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
DRAIN_MOST = 100  # events one subscription's drain delivers before the others get a turn


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
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.repo = store.webhooks
        self.clock = clock
        self.jitter = jitter
        self.metrics = metrics or Metrics()
        self.poster = poster or VettedPoster(
            AddressPolicy.from_entries(settings.webhook_allow),
            connect_timeout=settings.webhook_connect_timeout,
            timeout=settings.webhook_timeout,
            concurrency=settings.webhook_concurrency,
        )
        self.base = public_base(settings)
        self.delivered = 0
        """Events this deliverer delivered (a figure for benchmarks and tests)."""

    async def aclose(self) -> None:
        await self.poster.aclose()

    def backoff(self, attempts: int) -> timedelta:
        """The delay after the ``attempts``-th failed attempt (1, 2, ...), with jitter."""
        s = self.settings
        ceiling = min(
            s.webhook_backoff_seconds * 2 ** min(attempts - 1, 40), s.webhook_backoff_max_seconds
        )
        return timedelta(seconds=ceiling * (0.5 + self.jitter() / 2))

    async def run_once(self) -> tuple[int, datetime | None]:
        """Drain every subscription whose next event is due now (at most
        ``webhook_concurrency`` at once). Returns how many attempts were made and when the
        next event is due (None: nothing pending)."""
        due, later = await self.repo.due(self.clock(), limit=self.settings.webhook_concurrency)
        if not due:
            return 0, later
        counts = await asyncio.gather(*(self.drain(d) for d in due))
        _, later = await self.repo.due(self.clock(), limit=0)
        return sum(counts), later

    async def drain(self, due: Due) -> int:
        """Deliver the subscription's events one after the other while they succeed and are
        due (at most ``DRAIN_MOST``, then the others get their turn). Returns the attempts."""
        attempted = 0
        current: Due | None = due
        while current is not None and attempted < DRAIN_MOST:
            result = await self.deliver(current)
            if result is None:
                break  # another loop has it
            attempted += 1
            if not result.ok:
                break  # backing off
            current = await self.repo.next_due(current.subscription.id, self.clock())
        return attempted

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
        self.metrics.webhook_latency.observe(result.latency_ms / 1000)
        attempt = {
            "attempted_at": now,
            "status_code": result.status_code,
            "error": result.error,
            "latency_ms": result.latency_ms,
            "response_excerpt": result.excerpt,
        }
        if result.ok:
            self.delivered += 1
            self.metrics.webhook_attempts.labels("delivered").inc()
            await self.repo.record_attempt(event.id, attempt, delivered=True, next_attempt_at=None)
            return result
        if result.error is None:
            attempt["error"] = f"answered {result.status_code}"
        retry = self.clock() + self.backoff(event.attempts + 1)
        deadline = event.retry_until or event.created_at + timedelta(
            hours=self.settings.webhook_retry_hours
        )
        if retry <= deadline:
            self.metrics.webhook_attempts.labels("retry").inc()
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
        self.metrics.webhook_attempts.labels("failed").inc()
        await self.repo.record_attempt(
            event.id, attempt, delivered=False, next_attempt_at=None, disable_reason=reason
        )
        return result

    async def run(self) -> None:
        """Deliver for the life of the server: each subscription drained by a task of its
        own, so a slow receiver holds back only its own events."""
        poll = self.settings.webhook_poll_seconds
        signal = self.store.outbox_written
        running: dict[int, asyncio.Task[int]] = {}

        def finished(sub_id: int, task: asyncio.Task[int]) -> None:
            running.pop(sub_id, None)
            if not task.cancelled() and task.exception() is not None:
                log.error("webhook %d: delivery failed", sub_id, exc_info=task.exception())
            signal.set()  # its next events may be due, or another subscription's turn

        try:
            while True:
                signal.clear()
                later: datetime | None = None
                try:
                    free = self.settings.webhook_concurrency - len(running)
                    due, later = await self.repo.due(self.clock(), limit=free + len(running))
                    for d in due:
                        sub_id = d.subscription.id
                        if sub_id in running or len(running) >= self.settings.webhook_concurrency:
                            continue
                        task = asyncio.create_task(self.drain(d))
                        running[sub_id] = task
                        task.add_done_callback(functools.partial(finished, sub_id))
                except Exception:
                    log.exception("webhook delivery round failed")
                wait = poll
                if later is not None:
                    wait = min(wait, max(0.0, (later - self.clock()).total_seconds()))
                try:
                    async with asyncio.timeout(wait):
                        await signal.wait()
                except TimeoutError:
                    pass
        finally:
            for task in running.values():
                task.cancel()
            if running:
                await asyncio.gather(*running.values(), return_exceptions=True)
