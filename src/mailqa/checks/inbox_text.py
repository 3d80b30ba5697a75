"""What an inbox makes of the HTML's text: how much of it is visible, and the preheader.

A preheader is text a template hides near the top of ``<body>`` so that inbox lists show it
next to the subject instead of the first visible words. Read from the shared scan's text
runs (``core.markup.TextVisitor``); the hygiene rules report on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailqa.core.markup import MarkupScan, TextRun

PREHEADER_WINDOW = 150
"""Hidden text counts as a preheader only before this much visible text."""
PREHEADER_CHARS = 200
_PADDING = str.maketrans("", "", "\u200b\u200c\u200d\u034f\u00ad\ufeff\u2007\u00a0")
"""Zero-width and non-breaking padding that templates put after a preheader: not text."""


@dataclass(frozen=True)
class InboxText:
    visible_chars: int
    """Length of the visible text (whitespace folded)."""
    preheader: str | None
    """The hidden text near the top (at most ``PREHEADER_CHARS``); None without any."""

    @classmethod
    def of(cls, scan: MarkupScan) -> InboxText:
        reader = _InboxTextReader()
        scan.visit(reader)
        preheader = " ".join(reader.preheader_parts)[:PREHEADER_CHARS] or None
        return cls(visible_chars=reader.visible_chars, preheader=preheader)


class _InboxTextReader:
    def __init__(self) -> None:
        self.visible_chars = 0
        self.preheader_parts: list[str] = []
        self.preheader_chars = 0

    def text(self, run: TextRun) -> bool:
        if not run.hidden:
            self.visible_chars += len(run.text)
            return True
        words = run.text.translate(_PADDING).strip()
        near_the_top = self.visible_chars < PREHEADER_WINDOW
        if words and near_the_top and self.preheader_chars < PREHEADER_CHARS:
            self.preheader_parts.append(words)
            self.preheader_chars += len(words)
        return True
