"""Map a finding's location (a line in the HTML part, a header) to a line in the checked file.

Lines and columns count from 1, in reports and here (as editors and SARIF).

For a template the HTML part *is* the file. In an ``.eml`` the HTML part starts somewhere
below the headers; when it is stored unencoded (7bit/8bit) its lines map one to one, so an
offset is enough. Encoded parts (base64, quoted-printable) have no faithful mapping: their
findings are reported against the file without a line.
"""

from __future__ import annotations

from functools import cached_property

from mailqa.core.message import ParsedMessage
from mailqa.core.report import Finding

_VERBATIM_ENCODINGS = frozenset({"", "7bit", "8bit", "binary"})
_ANCHOR_CHARS = 200


class FilePositions:
    def __init__(self, message: ParsedMessage | None, *, is_template: bool) -> None:
        self.message = message
        self.is_template = is_template

    @cached_property
    def _raw_text(self) -> str:
        if self.message is None:
            return ""
        return self.message.raw.decode("utf-8", errors="replace").replace("\r\n", "\n")

    @cached_property
    def _header_lines(self) -> list[str]:
        return self._raw_text.split("\n\n", 1)[0].split("\n")

    def _part_offset(self, content_type: str, body: str | None) -> int | None:
        """Lines before the first line of the (verbatim) part in the raw file."""
        if self.message is None or not body:
            return None
        part = next((p for p in self.message.parts if p.content_type == content_type), None)
        if part is None or (part.transfer_encoding or "").strip().lower() not in (
            _VERBATIM_ENCODINGS
        ):
            return None
        index = self._raw_text.find(body[:_ANCHOR_CHARS].replace("\r\n", "\n"))
        return None if index < 0 else self._raw_text.count("\n", 0, index)

    @cached_property
    def _html_offset(self) -> int | None:
        return self._part_offset("text/html", self.message.html if self.message else None)

    @cached_property
    def _text_offset(self) -> int | None:
        return self._part_offset("text/plain", self.message.text if self.message else None)

    def _header_line(self, snippet: str | None) -> int | None:
        if not snippet or ":" not in snippet:
            return None
        name = snippet.split(":", 1)[0].strip().lower() + ":"
        for number, line in enumerate(self._header_lines, 1):
            if line.lower().startswith(name):
                return number
        return None

    @cached_property
    def _part_lines(self) -> dict[str, list[str]]:
        """The lines of the parts the checks read, as they read them (decoded)."""
        if self.message is None:
            return {}
        return {
            "html": self.message.html_document.lines,
            "text": (self.message.text or "").split("\n"),
        }

    def text_at(self, finding: Finding) -> str | None:
        """The checked part's text from the finding's position to the end of its line: what
        the finding is about, wherever the line has moved to. ``None`` when the finding has
        no position in an HTML or text part."""
        if not finding.locations:
            return None
        loc = finding.locations[0]
        lines = self._part_lines.get(loc.part)
        if lines is None or loc.line is None or loc.column is None:
            return None
        if not 1 <= loc.line <= len(lines):
            return None
        return lines[loc.line - 1][max(0, loc.column - 1) :]

    def locate(self, finding: Finding) -> tuple[int | None, int | None]:
        """(line, column) in the checked file, 1-based; (None, None) when not placeable."""
        if not finding.locations:
            return None, None
        loc = finding.locations[0]
        column = max(1, loc.column) if loc.column is not None else None
        if loc.part == "html" and loc.line is not None:
            if self.is_template:
                return loc.line, column
            offset = self._html_offset
            return (offset + loc.line, column) if offset is not None else (None, None)
        if loc.part == "text" and loc.line is not None and not self.is_template:
            offset = self._text_offset
            return (offset + loc.line, column) if offset is not None else (None, None)
        if loc.part == "headers" and not self.is_template:
            line = loc.line or self._header_line(loc.snippet)
            return (line, 1) if line is not None else (None, None)
        return None, None
