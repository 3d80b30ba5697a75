"""The HTML part as a document safe to show in the UI's sandboxed frame.

Defence in layers: the frame has no ``allow-scripts`` and no ``allow-same-origin``; the
response carries a CSP that forbids scripts, frames, forms, fonts and any network fetch
(remote images only in the variant the user asked for) and sandboxes the document even when
opened on its own. Inline parts referenced by ``cid:`` are inlined as ``data:`` URLs, since
a sandboxed (opaque-origin) document may not send the session cookie to fetch them.
"""

from __future__ import annotations

import base64
import html
import re

from mailqa.core.message import Attachment, ParsedMessage

# Links open in a new, unsandboxed tab (the frame itself cannot navigate anywhere).
FRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox"

_BASE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; font-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; "
    f"sandbox {FRAME_SANDBOX}"
)
BLOCKED_IMAGES_POLICY = f"{_BASE_POLICY}; img-src data:"
REMOTE_IMAGES_POLICY = f"{_BASE_POLICY}; img-src * data:"

# Inline images beyond this total stay as cid: references (the frame shows them broken).
MAX_INLINED_BYTES = 10 * 1024 * 1024

_CID_REF = re.compile(r"cid:([^\s\"'()<>]+)", re.IGNORECASE)
_INLINE_TYPES = ("image/",)


def content_security_policy(remote_images: bool) -> str:
    return REMOTE_IMAGES_POLICY if remote_images else BLOCKED_IMAGES_POLICY


def _data_urls(attachments: tuple[Attachment, ...]) -> dict[str, str]:
    """``content-id`` (lower case) → ``data:`` URL for inline images, within the size cap."""
    urls: dict[str, str] = {}
    budget = MAX_INLINED_BYTES
    for att in attachments:
        if not att.content_id or not att.content_type.startswith(_INLINE_TYPES):
            continue
        if att.size > budget:
            continue
        budget -= att.size
        # The content type comes from the message: keep only a plain type/subtype token.
        ctype = re.sub(r"[^a-z0-9.+/-]", "", att.content_type.lower())
        encoded = base64.b64encode(att.payload).decode("ascii")
        urls[att.content_id.lower()] = f"data:{ctype};base64,{encoded}"
    return urls


def inline_cid_images(source: str, attachments: tuple[Attachment, ...]) -> str:
    """Replace ``cid:`` references that name an inline image part with its ``data:`` URL."""
    urls = _data_urls(attachments)
    if not urls:
        return source

    def replace(match: re.Match[str]) -> str:
        return urls.get(match.group(1).lower(), match.group(0))

    return _CID_REF.sub(replace, source)


def preview_document(msg: ParsedMessage) -> str:
    """The HTML to render: the HTML part (cid images inlined), else the text part escaped."""
    if msg.html is not None:
        return inline_cid_images(msg.html, msg.attachments)
    text = msg.text or ""
    return (
        '<!doctype html><meta charset="utf-8">'
        '<pre style="white-space:pre-wrap;font:14px/1.5 ui-monospace,monospace;margin:16px">'
        f"{html.escape(text)}</pre>"
    )
