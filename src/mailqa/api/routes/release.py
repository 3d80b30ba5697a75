"""Native release: ``POST /api/v1/messages/{id}/release`` forwards a captured message through
the configured SMTP relay (``MAILQA_RELAY_*``) to its original or given recipients."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mailqa.api.deps import PrincipalDep, ServiceDep
from mailqa.api.errors import ApiError
from mailqa.relay import RelayError
from mailqa.usecases import messages

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
    try:
        result = await messages.release(
            service, principal, message_id, list(body.to) if body and body.to else None
        )
    except RelayError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    return Released(message_id=message_id, recipients=result.recipients, relay=result.relay)
