"""The ``details`` payload of the links check (stored in ``CheckResult.details``, validated
back by the adapters)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mailqa.core.clients import RedirectHop
from mailqa.core.report import Location

Kind = Literal["link", "image", "stylesheet"]


class LinkResult(BaseModel):
    """One unique URL of the message, with what the checks found about it."""

    url: str
    kind: Kind
    scheme: str = ""
    checked: bool = Field(default=False, description="Validated over HTTP in this run.")
    final_url: str | None = None
    status_code: int | None = None
    ok: bool | None = Field(default=None, description="None when not validated over HTTP.")
    redirects: list[RedirectHop] = Field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None
    content_type: str | None = None
    size: int | None = None
    method: str | None = None
    from_cache: bool = False
    duration_ms: float = 0.0
    texts: list[str] = Field(default_factory=list, description="Link texts (or image alts).")
    locations: list[Location] = Field(default_factory=list)
    occurrences: int = 1


class LinksDetails(BaseModel):
    links: list[LinkResult] = Field(default_factory=list)
    found: int = Field(0, description="URL occurrences in the message.")
    unique: int = Field(0, description="Distinct URLs.")
    skipped: int = Field(0, description="Distinct URLs over the cap, not analysed.")
    skipped_urls: list[str] = Field(default_factory=list)
    http_validated: bool = False
    http_skipped_reason: str | None = None
    http_checked: int = 0
    broken: int = 0
    cache_hits: int = 0


# Errors that say nothing about the link itself: not fetched by policy (SSRF protection,
# MAILQA_LINK_ALLOW) or not answered in time. Reported as warnings, never counted as broken.
NOT_BROKEN_ERRORS = frozenset({"refused", "timeout", "budget"})


def is_broken(result: LinkResult) -> bool:
    if not result.checked:
        return False
    if result.error_kind is not None:
        return result.error_kind not in NOT_BROKEN_ERRORS
    return (result.status_code or 0) >= 400
