"""Render previews of a message: list them, read one PNG, render again."""

from __future__ import annotations

from mailqa.auth import Principal
from mailqa.core.errors import NotFound
from mailqa.previews import Crop, Manifest
from mailqa.service import Service
from mailqa.usecases.messages import get_message


async def renders(service: Service, principal: Principal, message_id: int) -> Manifest | None:
    """The message's renders (None: none asked for yet, or renders are off)."""
    row = await get_message(service, principal, message_id)
    return service.previews.manifest(message_id, row.uid)


async def render_png(
    service: Service, principal: Principal, message_id: int, variant: str, crop: Crop
) -> tuple[bytes, str]:
    """One render's PNG and its content address; NotFound when there is none."""
    row = await get_message(service, principal, message_id)
    manifest = service.previews.manifest(message_id, row.uid)
    if manifest is not None:
        for entry in manifest.renders:
            if entry.variant == variant and entry.key:
                data = service.previews.png(manifest, variant, crop)
                if data is not None:
                    return data, entry.key
    raise NotFound(f"message {message_id} has no {variant!r} render")


async def rerender(service: Service, principal: Principal, message_id: int) -> bool:
    """Queue the message's renders again (False: renders are off or unavailable)."""
    row = await get_message(service, principal, message_id)
    return await service.previews.submit(message_id, row.uid, force=True)
