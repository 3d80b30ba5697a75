"""Webhook subscriptions: create, list, change, delete them; rotate their secrets; read their
delivery log and deliver an event again.

A subscription belongs to a project (its events from every inbox of the project) or to one
inbox, and is visible to whoever may see that project or inbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from mailqa.auth import Principal
from mailqa.core.errors import ConfigError, NotFound
from mailqa.net.http.policy import AddressPolicy, address_class, is_localhost_name, parse_ip_host
from mailqa.service import Service
from mailqa.store.models import WebhookAttempt, WebhookEvent, WebhookSubscription
from mailqa.store.webhooks import EVENT_TYPES
from mailqa.usecases.inboxes import get_inbox, list_inboxes
from mailqa.usecases.projects import require_visible
from mailqa.webhooks.signing import new_secret

MAX_URL = 2000


@dataclass(frozen=True)
class EventLog:
    """An event of a subscription and its delivery attempts, oldest first."""

    event: WebhookEvent
    attempts: list[WebhookAttempt]


def _now() -> datetime:
    return datetime.now(UTC)


def check_url(service: Service, url: str) -> str:
    """An http(s) URL; a literal non-public address (or localhost) only when
    ``MAILQA_WEBHOOK_ALLOW`` allows it (host names are vetted again at each delivery)."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise ConfigError(f"url: longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as exc:
        raise ConfigError(f"url: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("url: an http:// or https:// URL with a host")
    host = parts.hostname
    policy = AddressPolicy.from_entries(service.settings.webhook_allow)
    addr = parse_ip_host(host)
    if addr is None and is_localhost_name(host):
        addr = parse_ip_host("127.0.0.1")
    if addr is not None and address_class(addr) is not None:
        reason = policy.refusal(host, addr)
        if reason is not None:
            raise ConfigError(
                f"url: {host} is a {reason} address; allow it with MAILQA_WEBHOOK_ALLOW"
            )
    return url


def check_events(events: Sequence[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise ConfigError(f"events: unknown {', '.join(unknown)} (known: {', '.join(EVENT_TYPES)})")
    if not events:
        raise ConfigError("events: at least one")
    return list(dict.fromkeys(events))


async def _require_owner(
    service: Service, principal: Principal, project_id: int | None, inbox_id: int | None
) -> None:
    if project_id is not None:
        require_visible(principal, project_id)
        await service.store.get_project(project_id)
    elif inbox_id is not None:
        await get_inbox(service, principal, inbox_id)


async def create_webhook(
    service: Service,
    principal: Principal,
    *,
    url: str,
    events: Sequence[str],
    project_id: int | None = None,
    inbox_id: int | None = None,
) -> WebhookSubscription:
    if (project_id is None) == (inbox_id is None):
        raise ConfigError("give either project_id or inbox_id")
    await _require_owner(service, principal, project_id, inbox_id)
    return await service.store.webhooks.create_subscription(
        url=check_url(service, url),
        events=check_events(events),
        project_id=project_id,
        inbox_id=inbox_id,
        secret=new_secret(),
        enabled=True,
    )


async def list_webhooks(service: Service, principal: Principal) -> Sequence[WebhookSubscription]:
    repo = service.store.webhooks
    if principal.is_admin:
        return await repo.list_subscriptions()
    inboxes = await list_inboxes(service, principal)
    projects = [principal.project_id] if principal.project_id is not None else []
    return await repo.list_subscriptions(project_ids=projects, inbox_ids=[i.id for i in inboxes])


async def get_webhook(
    service: Service, principal: Principal, webhook_id: int
) -> WebhookSubscription:
    sub = await service.store.webhooks.get_subscription(webhook_id)
    try:
        await _require_owner(service, principal, sub.project_id, sub.inbox_id)
    except NotFound:
        raise NotFound(f"webhook {webhook_id} not found") from None
    return sub


async def update_webhook(
    service: Service, principal: Principal, webhook_id: int, **fields: Any
) -> WebhookSubscription:
    """Change url, events or enabled. Enabling a disabled subscription again retries its
    pending events for a full retry horizon from now."""
    await get_webhook(service, principal, webhook_id)
    if "url" in fields:
        fields["url"] = check_url(service, fields["url"])
    if "events" in fields:
        fields["events"] = check_events(fields["events"])
    retry_until = _now() + timedelta(hours=service.settings.webhook_retry_hours)
    return await service.store.webhooks.update_subscription(
        webhook_id, retry_until=retry_until, **fields
    )


async def delete_webhook(service: Service, principal: Principal, webhook_id: int) -> None:
    await get_webhook(service, principal, webhook_id)
    await service.store.webhooks.delete_subscription(webhook_id)


async def rotate_secret(
    service: Service, principal: Principal, webhook_id: int
) -> WebhookSubscription:
    """A new secret; the former one still signs (beside it) for
    ``webhook_secret_overlap_hours``."""
    sub = await get_webhook(service, principal, webhook_id)
    overlap = timedelta(hours=service.settings.webhook_secret_overlap_hours)
    return await service.store.webhooks.update_subscription(
        webhook_id,
        secret=new_secret(),
        previous_secret=sub.secret if overlap else None,
        previous_secret_expires_at=_now() + overlap if overlap else None,
    )


async def list_events(
    service: Service,
    principal: Principal,
    webhook_id: int,
    *,
    limit: int = 50,
    before: int | None = None,
) -> list[EventLog]:
    """The subscription's events, newest first, each with its attempts."""
    await get_webhook(service, principal, webhook_id)
    repo = service.store.webhooks
    events = await repo.list_events(webhook_id, limit=limit, before=before)
    attempts = await repo.attempts([e.id for e in events])
    return [EventLog(e, attempts[e.id]) for e in events]


async def get_event(
    service: Service, principal: Principal, webhook_id: int, event_id: int
) -> EventLog:
    await get_webhook(service, principal, webhook_id)
    repo = service.store.webhooks
    event = await repo.get_event(webhook_id, event_id)
    return EventLog(event, (await repo.attempts([event.id]))[event.id])


async def redeliver(
    service: Service, principal: Principal, webhook_id: int, event_id: int
) -> EventLog:
    """Deliver the event again now, with its id (retried for a full horizon)."""
    await get_webhook(service, principal, webhook_id)
    now = _now()
    retry_until = now + timedelta(hours=service.settings.webhook_retry_hours)
    repo = service.store.webhooks
    event = await repo.redeliver(webhook_id, event_id, now=now, retry_until=retry_until)
    return EventLog(event, (await repo.attempts([event.id]))[event.id])
