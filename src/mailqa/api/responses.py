"""Response pieces several APIs share: the SMTP address to advertise, file downloads."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request, Response

from mailqa.core.message import Attachment
from mailqa.service import Service


def smtp_address(request: Request, service: Service) -> tuple[str, int]:
    """The SMTP host and port clients should use (the live port when the server runs)."""
    live = getattr(request.app.state, "smtp_address", None)
    if live:
        return str(live[0]), int(live[1])
    return service.settings.smtp_hostname, service.settings.smtp_port


def content_disposition(filename: str | None, fallback: str) -> str:
    # Header values cannot carry control characters (an encoded filename may).
    name = "".join(c for c in filename or "" if c.isprintable()) or fallback
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def attachment_download(part: Attachment, fallback: str) -> Response:
    """The attachment's bytes with its type and a download name."""
    return Response(
        part.payload,
        media_type=part.content_type,
        headers={"Content-Disposition": content_disposition(part.filename, fallback)},
    )
