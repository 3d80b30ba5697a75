"""Tag=value lists, the syntax of DKIM signatures and DMARC records."""

from __future__ import annotations


def parse_tags(value: str) -> dict[str, str]:
    """Tag=value list (DKIM signatures, DMARC records); later duplicates are ignored."""
    out: dict[str, str] = {}
    for item in value.split(";"):
        name, sep, val = item.partition("=")
        key = name.strip().lower()
        if sep and key:
            out.setdefault(key, "".join(val.split()) if key in ("b", "bh", "h") else val.strip())
    return out
