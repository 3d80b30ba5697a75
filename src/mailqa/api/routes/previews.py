"""Render previews of a message: emulated client renders as PNGs."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from mailqa.api.deps import PrincipalDep, ServiceDep
from mailqa.api.errors import ApiError
from mailqa.checks.accessibility.axe import AxeAudit
from mailqa.core.errors import NotFound
from mailqa.previews import Manifest, PreviewState, RenderEntry
from mailqa.usecases import previews

router = APIRouter(prefix="/api/v1", tags=["previews"])


class RenderOut(RenderEntry):
    url: str | None = Field(None, description="The full-length PNG.")
    fold_url: str | None = Field(None, description="The above-the-fold crop.")


class RendersOut(BaseModel):
    """A message's render previews. Every render is **emulated**: Chromium laying out the HTML
    as the variant's client would be given it, not a screenshot of that client."""

    state: Literal["on", "off", "unavailable"]
    reason: str = Field(description="'on', or why renders do not run.")
    status: Literal["none", "pending", "done", "no-html", "errored"]
    renders: list[RenderOut] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    axe: AxeAudit | None = Field(
        None,
        description="axe-core's violations in the desktop render, merged into the report's "
        "accessibility section (docs/accessibility.md).",
    )
    axe_error: str | None = Field(None, description="Why axe-core gave no audit.")


def renders_out(
    request: Request, message_id: int, manifest: Manifest | None, state: PreviewState, reason: str
) -> RendersOut:
    out = RendersOut(state=state, reason=reason, status=manifest.status if manifest else "none")
    if manifest is None:
        return out
    base = str(request.url_for("render_png", message_id=message_id, variant="VARIANT"))
    for entry in manifest.renders:
        url = base.replace("VARIANT", entry.variant) if entry.key else None
        out.renders.append(
            RenderOut(
                **entry.model_dump(),
                url=url,
                fold_url=f"{url}?crop=fold" if url else None,
            )
        )
    out.warnings = list(manifest.warnings)
    out.axe, out.axe_error = manifest.axe, manifest.axe_error
    return out


@router.get("/messages/{message_id}/renders", response_model=RendersOut)
async def list_renders(
    message_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> RendersOut:
    """The message's render variants (desktop, mobile, dark mode, images off, client
    emulations), their status, labels and warnings, with the URL of each PNG."""
    manifest = await previews.renders(service, principal, message_id)
    p = service.previews
    return renders_out(request, message_id, manifest, p.state, p.reason)


@router.get(
    "/messages/{message_id}/renders/{variant}.png",
    name="render_png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def render_png(
    message_id: int,
    variant: str,
    service: ServiceDep,
    principal: PrincipalDep,
    crop: Literal["full", "fold"] = Query("full", description="Full length or above the fold."),
) -> Response:
    """One render as PNG (emulated; its PNG text chunk says what it shows)."""
    try:
        data, key = await previews.render_png(service, principal, message_id, variant, crop)
    except NotFound as exc:
        raise ApiError(404, "render_not_found", str(exc)) from exc
    return Response(
        data,
        media_type="image/png",
        headers={"ETag": f'"{key}.{crop}"', "Cache-Control": "private, max-age=3600"},
    )


@router.post("/messages/{message_id}/renders", response_model=RendersOut, status_code=202)
async def rerender(
    message_id: int, request: Request, service: ServiceDep, principal: PrincipalDep
) -> RendersOut:
    """Render the message again, every variant (queued; poll the list)."""
    if not await previews.rerender(service, principal, message_id):
        p = service.previews
        raise ApiError(409, "renders_unavailable", f"renders are {p.reason}")
    manifest = await previews.renders(service, principal, message_id)
    p = service.previews
    return renders_out(request, message_id, manifest, p.state, p.reason)
