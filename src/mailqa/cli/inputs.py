"""Turn what the user points at (.eml, .html, stdin) into raw message bytes."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime
from pathlib import Path

HTML_SUFFIXES = {".html", ".htm"}


@dataclass(frozen=True)
class CheckInput:
    name: str
    raw: bytes
    is_template: bool


def wrap_html(html: str, subject: str) -> bytes:
    """A minimal, well-formed message around a bare HTML template.

    Built by hand rather than with ``EmailMessage.set_content``: the body goes in as UTF-8
    8bit, unchanged, so line numbers stay the template's (and it is ~20x faster).
    """
    # Derived from the content, so a template's report is the same from run to run.
    body = html.encode("utf-8", errors="surrogateescape")
    digest = hashlib.sha256(body).hexdigest()[:24]
    subject_header = subject if subject.isascii() else Header(subject, "utf-8").encode()
    head = (
        "From: Template <template@mailqa.invalid>\r\n"
        "To: recipient@mailqa.invalid\r\n"
        f"Subject: {subject_header}\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: <{digest}@mailqa.invalid>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def _looks_like_html(data: bytes) -> bool:
    head = data[:512].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<table", b"<div", b"<body", b"<head"))


def input_from_bytes(name: str, data: bytes) -> CheckInput:
    """Bytes of unknown kind (stdin): a template if they look like HTML, else a message."""
    if _looks_like_html(data):
        html = data.decode("utf-8", errors="replace")
        return CheckInput(name, wrap_html(html, "template"), True)
    return CheckInput(name, data, False)


def load_input(path: str, name: str | None = None) -> CheckInput:
    """Read ``path`` (``-`` for stdin); ``name`` is how reports call it (default the path)."""
    if path == "-":
        data = sys.stdin.buffer.read()
        name = name or "<stdin>"
        template = _looks_like_html(data)
    else:
        p = Path(path)
        data = p.read_bytes()
        name = name or str(p)
        template = p.suffix.lower() in HTML_SUFFIXES
    if template:
        html = data.decode("utf-8", errors="replace")
        return CheckInput(name, wrap_html(html, Path(name).stem or "template"), True)
    return CheckInput(name, data, False)
