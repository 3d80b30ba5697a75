"""Small test messages and what smtplib puts on the wire for them."""

from __future__ import annotations

import uuid


def make_message(subject: str = "Hello", body: str = "Hi there", **headers: str) -> bytes:
    lines = [
        "From: App <app@app.example>",
        "To: user@example.com",
        f"Subject: {subject}",
        "Date: Mon, 23 Nov 2026 10:00:00 +0000",
        f"Message-ID: <{uuid.uuid4().hex}@app.example>",
        *[f"{k.replace('_', '-')}: {v}" for k, v in headers.items()],
        "",
        body,
        "",
    ]
    return "\r\n".join(lines).encode()


def on_wire(data: bytes) -> bytes:
    """What smtplib transmits for a bytes message: the bytes, ending in CRLF."""
    return data if data.endswith(b"\r\n") else data + b"\r\n"
