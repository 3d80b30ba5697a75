"""Webhook subscriptions, their secrets and their delivery log (see docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from mailqa.api.deps import PrincipalDep, ServiceDep
from mailqa.store.models import WebhookAttempt, WebhookSubscription
from mailqa.usecases import webhooks
from mailqa.usecases.webhooks import EventLog

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

EventType = Literal["message.received", "report.completed", "audit.completed"]
Url = Annotated[str, Field(min_length=1, max_length=2000)]


class WebhookIn(BaseModel):
    url: Url = Field(description="Where events are POSTed (http or https).")
    events: list[EventType] = Field(min_length=1, max_length=3)
    project_id: int | None = Field(default=None, description="Every inbox of this project.")
    inbox_id: int | None = Field(default=None, description="This inbox only.")


class WebhookPatch(BaseModel):
    url: Url | None = None
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=3)
    enabled: bool | None = Field(
        default=None, description="true again after it was disabled: its pending events resume."
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    project_id: int | None
    inbox_id: int | None
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    previous_secret_expires_at: datetime | None = Field(
        description="Until then deliveries are signed with the former secret too."
    )

    @classmethod
    def of(cls, sub: WebhookSubscription) -> WebhookOut:
        return cls(
            id=sub.id,
            url=sub.url,
            events=list(sub.events),
            project_id=sub.project_id,
            inbox_id=sub.inbox_id,
            enabled=sub.enabled,
            disabled_reason=sub.disabled_reason,
            created_at=sub.created_at,
            previous_secret_expires_at=sub.previous_secret_expires_at
            if sub.previous_secret
            else None,
        )


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="whsec_...: verify signatures with it (shown here only).")

    @classmethod
    def of(cls, sub: WebhookSubscription) -> WebhookWithSecret:
        return cls(**WebhookOut.of(sub).model_dump(), secret=sub.secret)


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None = Field(description="The answer's status; null when none came.")
    error: str | None
    latency_ms: float
    response_excerpt: str | None = Field(description="The answer's first bytes.")

    @classmethod
    def of(cls, a: WebhookAttempt) -> AttemptOut:
        return cls(
            attempted_at=a.attempted_at,
            status_code=a.status_code,
            error=a.error,
            latency_ms=a.latency_ms,
            response_excerpt=a.response_excerpt,
        )


class EventOut(BaseModel):
    id: int
    webhook_id_header: str = Field(description="The webhook-id header: the idempotency key.")
    type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    data: dict[str, Any]
    log: list[AttemptOut]

    @classmethod
    def of(cls, entry: EventLog) -> EventOut:
        e = entry.event
        return cls(
            id=e.id,
            webhook_id_header=e.uid,
            type=e.type,
            status=e.status,
            attempts=e.attempts,
            next_attempt_at=e.next_attempt_at if e.status == "pending" else None,
            created_at=e.created_at,
            delivered_at=e.delivered_at,
            data=e.payload,
            log=[AttemptOut.of(a) for a in entry.attempts],
        )


@router.post("/webhooks", response_model=WebhookWithSecret, status_code=201)
async def create_webhook(
    body: WebhookIn, service: ServiceDep, principal: PrincipalDep
) -> WebhookWithSecret:
    """Subscribe a URL to events of a project or of one inbox. The answer carries the
    signing secret."""
    sub = await webhooks.create_webhook(
        service,
        principal,
        url=body.url,
        events=body.events,
        project_id=body.project_id,
        inbox_id=body.inbox_id,
    )
    return WebhookWithSecret.of(sub)


@router.get("/webhooks", response_model=list[WebhookOut])
async def list_webhooks(service: ServiceDep, principal: PrincipalDep) -> list[WebhookOut]:
    return [WebhookOut.of(s) for s in await webhooks.list_webhooks(service, principal)]


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: int, service: ServiceDep, principal: PrincipalDep) -> WebhookOut:
    return WebhookOut.of(await webhooks.get_webhook(service, principal, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookOut)
async def update_webhook(
    webhook_id: int, body: WebhookPatch, service: ServiceDep, principal: PrincipalDep
) -> WebhookOut:
    fields = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return WebhookOut.of(await webhooks.update_webhook(service, principal, webhook_id, **fields))


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: int, service: ServiceDep, principal: PrincipalDep) -> Response:
    await webhooks.delete_webhook(service, principal, webhook_id)
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/rotate_secret", response_model=WebhookWithSecret)
async def rotate_secret(
    webhook_id: int, service: ServiceDep, principal: PrincipalDep
) -> WebhookWithSecret:
    """A new secret; deliveries are signed with both for ``MAILQA_WEBHOOK_SECRET_OVERLAP_HOURS``."""
    return WebhookWithSecret.of(await webhooks.rotate_secret(service, principal, webhook_id))


@router.get("/webhooks/{webhook_id}/events", response_model=list[EventOut])
async def list_events(
    webhook_id: int,
    service: ServiceDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(description="Events older than this id.")] = None,
) -> list[EventOut]:
    """The delivery log: events newest first, each with every attempt (status, latency,
    the answer's first bytes)."""
    found = await webhooks.list_events(service, principal, webhook_id, limit=limit, before=before)
    return [EventOut.of(e) for e in found]


@router.get("/webhooks/{webhook_id}/events/{event_id}", response_model=EventOut)
async def get_event(
    webhook_id: int, event_id: int, service: ServiceDep, principal: PrincipalDep
) -> EventOut:
    return EventOut.of(await webhooks.get_event(service, principal, webhook_id, event_id))


@router.post("/webhooks/{webhook_id}/events/{event_id}/redeliver", response_model=EventOut)
async def redeliver(
    webhook_id: int, event_id: int, service: ServiceDep, principal: PrincipalDep
) -> EventOut:
    """Deliver the event again now (same ``webhook-id``)."""
    return EventOut.of(await webhooks.redeliver(service, principal, webhook_id, event_id))
