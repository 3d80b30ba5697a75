"""Native release: ``POST /api/v1/messages/{id}/release`` forwards a captured message through
the configured SMTP relay (``MAILQA_RELAY_*``) to its original or given recipients."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mailqa.api.deps import PrincipalDep, ServiceDep
from mailqa.api.errors import ApiError
from mailqa.api.routes.native import visible_message
from mailqa.capture.relay import Relay, RelayError
from mailqa.core.message import parse_stored
from mailqa.service import envelope_of

router = APIRouter(prefix="/api/v1", tags=["messages"])


class ReleaseIn(BaseModel):
    to: list[str] | None = Field(
        None,
        max_length=100,
        description="Recipients; default the message's envelope recipients (else To and Cc).",
    )


class Released(BaseModel):
    message_id: int
    recipients: list[str]
    relay: str


@router.post(
    "/messages/{message_id}/release",
    response_model=Released,
    responses={
        400: {"description": "No relay configured"},
        403: {"description": "A recipient is not in MAILQA_RELAY_ALLOWED_RECIPIENTS"},
        502: {"description": "The relay refused the message or could not be reached"},
    },
)
async def release_message(
    message_id: int, service: ServiceDep, principal: PrincipalDep, body: ReleaseIn | None = None
) -> Released:
    """Deliver a captured message for real, unchanged, through the SMTP relay."""
    row = await visible_message(service, principal, message_id)
    raw = await service.store.get_raw(message_id)
    recipients = list(body.to) if body and body.to else list(row.rcpt_to or [])
    if not recipients:
        parsed = await parse_stored(raw, envelope_of(row))
        recipients = [*parsed.to, *parsed.cc]
    try:
        result = await Relay(service.settings).forward(
            raw, row.mail_from or row.from_address, recipients
        )
    except RelayError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    return Released(message_id=message_id, recipients=result.recipients, relay=result.relay)
