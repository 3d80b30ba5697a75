"""Turn what the user points at (.eml, .html, stdin) into raw message bytes."""

from __future__ import annotations

import hashlib
import io
import re
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


# A header field's start: its name, then ":". RFC 5322 allows any printable ASCII but ":" in
# the name; real names are tokens (letters, digits, "-"...), and leaving out the characters
# of markup ("<", ">", "=", '"', "/") keeps "<p>Note: ...</p>" from passing for a header.
_HEADER_FIELD = re.compile(rb"[A-Za-z0-9!#$%&'*+.^_`|~-]+[ \t]*:")
# The mbox separator some tools put before a message ("From sender date").
_MBOX_FROM = b"From "


def is_message(data: bytes) -> bool:
    """Whether ``data`` is an RFC 5322 message: header fields (``Name: value`` lines and their
    folded continuations) up to a blank line or the end. Anything else (HTML, however it
    starts: a tag, text, a comment, a byte order mark) is a template."""
    lines = (line.rstrip(b"\r\n") for line in io.BytesIO(data))  # lazily: stops at the body
    first = next(lines, b"")
    if first.startswith(_MBOX_FROM):
        first = next(lines, b"")
    if not _HEADER_FIELD.match(first):
        return False
    for line in lines:
        if not line:
            return True  # the blank line between the header and the body
        if not (line[:1] in (b" ", b"\t") or _HEADER_FIELD.match(line)):
            return False
    return True  # a header with no body


def input_from_bytes(name: str, data: bytes) -> CheckInput:
    """Bytes of unknown kind (stdin): a message if they start with a header, else a template."""
    if not is_message(data):
        html = data.decode("utf-8", errors="replace")
        return CheckInput(name, wrap_html(html, "template"), True)
    return CheckInput(name, data, False)


def load_input(path: str, name: str | None = None) -> CheckInput:
    """Read ``path`` (``-`` for stdin); ``name`` is how reports call it (default the path)."""
    if path == "-":
        data = sys.stdin.buffer.read()
        name = name or "<stdin>"
        template = not is_message(data)
    else:
        p = Path(path)
        data = p.read_bytes()
        name = name or str(p)
        template = p.suffix.lower() in HTML_SUFFIXES
    if template:
        html = data.decode("utf-8", errors="replace")
        return CheckInput(name, wrap_html(html, Path(name).stem or "template"), True)
    return CheckInput(name, data, False)
