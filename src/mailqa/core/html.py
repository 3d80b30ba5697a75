"""The HTML part parsed once per message, with source positions for findings.

``scan`` is one linear pass of the shared tokenizer (``core.markup``): every start tag with
each attribute's offset, comments, doctypes, ``<style>`` bodies, markup issues, the title and
the text runs. It never recurses and never rescans, so hostile input (deep nesting,
unterminated constructs) costs no more than its length. The client-support, hygiene, links
and blacklist checks read it; ``preview`` (the first visible text, what the message summary
stores) is read from its text runs, as the checks' own text readers are.

Positions: ``line`` (it counts ``\\n``) and ``column`` both count from 1, as editors and SARIF.
"""

from __future__ import annotations

import bisect
from functools import cached_property

from mailqa.core.markup import MarkupScan, TextRun, scan_markup

PREVIEW_CHARS = 200


class _Preview:
    """The first ``PREVIEW_CHARS`` of visible text."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.chars = 0

    def text(self, run: TextRun) -> bool:
        if not run.hidden:
            self.parts.append(run.text)
            self.chars += len(run.text)
        return self.chars < PREVIEW_CHARS


class HtmlDocument:
    """The HTML source, its one scan, and line/column positions for findings."""

    def __init__(self, source: str) -> None:
        self.source = source

    @cached_property
    def line_starts(self) -> list[int]:
        starts = [0]
        find = self.source.find
        index = find("\n")
        while index >= 0:
            starts.append(index + 1)
            index = find("\n", index + 1)
        return starts

    @cached_property
    def lines(self) -> list[str]:
        return self.source.split("\n")

    def position(self, offset: int) -> tuple[int, int]:
        """Line and column of a source offset, both counted from 1 (as editors and SARIF)."""
        index = bisect.bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index] + 1

    def snippet(self, line: int, column: int = 1, width: int = 80) -> str:
        """A short piece of the source at (line, column), both counted from 1."""
        if not 1 <= line <= len(self.lines):
            return ""
        text = self.lines[line - 1]
        start = max(0, column - 11)
        return text[start : start + width].strip()

    def snippet_at(self, offset: int, width: int = 80) -> str:
        line, column = self.position(offset)
        return self.snippet(line, column, width)

    @cached_property
    def scan(self) -> MarkupScan:
        return scan_markup(self.source)

    @cached_property
    def preview(self) -> str:
        """The first visible text: what an inbox shows under the subject without a preheader."""
        reader = _Preview()
        self.scan.visit(reader)
        return " ".join(reader.parts)[:PREVIEW_CHARS]
