"""The HTML part parsed once per message, with source positions for findings.

Two views of the same source, both lazy:

- ``scan``: a flat, position-exact list of start tags (with each attribute's offset),
  comments, doctypes and ``<style>`` blocks, from one pass of the stdlib tokenizer. It is
  linear in the input and never recurses, so hostile nesting costs nothing extra. The
  client-support check reads this.
- ``soup``: a BeautifulSoup tree (html.parser, with ``sourceline``/``sourcepos``) for checks
  that need parent/child relations.

Positions: ``line`` is 1-based and counts ``\\n`` (as the tokenizer does), ``column`` is
0-based. Never mutate ``soup``.
"""

from __future__ import annotations

import bisect
import html
import re
from dataclasses import dataclass
from functools import cached_property
from html.parser import HTMLParser
from typing import Any

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, ProcessingInstruction

_INVISIBLE_PARENTS = frozenset({"style", "script", "head", "title", "template"})
_NON_TEXT = (Comment, Doctype, Declaration, ProcessingInstruction)

# One attribute inside a raw start tag: name, then optionally = and a (quoted) value.
_ATTR = re.compile(
    r"""([^\s/>"'=][^\s/>=]*)"""  # name
    r"""(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?"""  # value
)
_TAG_NAME = re.compile(r"<[^\s/>]+")
MAX_ELEMENTS = 100_000


class _TooManyElements(Exception):
    """Stops the tokenizer once ``MAX_ELEMENTS`` tags were listed."""


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    """Lower-cased attribute name."""
    value: str
    """Value with character references resolved ('' for a bare attribute)."""
    offset: int
    """Source offset of the attribute name."""
    value_offset: int
    """Source offset of the first character of the raw value (inside quotes), -1 if none."""
    raw_value: str
    """The value as written (quotes removed, references not resolved)."""


@dataclass(frozen=True, slots=True)
class Element:
    name: str
    """Lower-cased tag name."""
    offset: int
    """Source offset of the ``<``."""
    attrs: tuple[Attribute, ...]

    def get(self, name: str) -> str | None:
        for attr in self.attrs:
            if attr.name == name:
                return attr.value
        return None

    def attribute(self, name: str) -> Attribute | None:
        for attr in self.attrs:
            if attr.name == name:
                return attr
        return None


@dataclass(frozen=True, slots=True)
class TextSpan:
    """A comment, doctype or ``<style>`` body: text and the source offset where it starts."""

    text: str
    offset: int


@dataclass(frozen=True, slots=True)
class HtmlScan:
    elements: tuple[Element, ...]
    comments: tuple[TextSpan, ...]
    doctypes: tuple[TextSpan, ...]
    styles: tuple[TextSpan, ...]
    truncated: bool
    """True when the document had more than ``MAX_ELEMENTS`` tags (the rest was not read)."""


class _Scanner(HTMLParser):
    """Collects tags, comments, doctypes and style bodies with absolute source offsets."""

    def __init__(self, line_starts: list[int]) -> None:
        super().__init__(convert_charrefs=False)
        self.line_starts = line_starts
        self.elements: list[Element] = []
        self.comments: list[TextSpan] = []
        self.doctypes: list[TextSpan] = []
        self.styles: list[TextSpan] = []
        self.truncated = False
        self._in_style = False

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag)

    def _start(self, tag: str) -> None:
        self._in_style = tag == "style"
        if len(self.elements) >= MAX_ELEMENTS:
            self.truncated = True
            raise _TooManyElements
        start = self._offset()
        raw = self.get_starttag_text() or ""
        name_match = _TAG_NAME.match(raw)
        pos = name_match.end() if name_match else 0
        attrs: list[Attribute] = []
        for match in _ATTR.finditer(raw, pos):
            name = match.group(1).lower()
            raw_value = match.group(2)
            if raw_value is None:
                attrs.append(Attribute(name, "", start + match.start(1), -1, ""))
                continue
            value_offset = start + match.start(2)
            if raw_value[:1] in ("'", '"'):
                raw_value = raw_value[1:-1]
                value_offset += 1
            value = html.unescape(raw_value) if "&" in raw_value else raw_value
            attrs.append(Attribute(name, value, start + match.start(1), value_offset, raw_value))
        self.elements.append(Element(tag, start, tuple(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and self.cdata_elem == "style":
            offset = self._offset()
            last = self.styles[-1] if self.styles else None
            if last is not None and last.offset + len(last.text) == offset:
                self.styles[-1] = TextSpan(last.text + data, last.offset)  # one body, two chunks
            else:
                self.styles.append(TextSpan(data, offset))

    def handle_comment(self, data: str) -> None:
        self.comments.append(TextSpan(data, self._offset()))

    def handle_decl(self, decl: str) -> None:
        self.doctypes.append(TextSpan(decl, self._offset()))

    def unknown_decl(self, data: str) -> None:  # <![CDATA[...]]> and friends
        self.comments.append(TextSpan(data, self._offset()))


class HtmlDocument:
    """Parsed HTML plus its source text (for line/column snippets). Never mutate ``soup``."""

    def __init__(self, source: str) -> None:
        self.source = source

    @cached_property
    def soup(self) -> Any:
        # html.parser records sourceline/sourcepos for every tag.
        return BeautifulSoup(self.source, "html.parser")

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
        """1-based line and 0-based column of a source offset."""
        index = bisect.bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index]

    def snippet(self, line: int, column: int = 0, width: int = 80) -> str:
        """A short piece of the source at (line, column): 1-based line, 0-based column."""
        if not 1 <= line <= len(self.lines):
            return ""
        text = self.lines[line - 1]
        start = max(0, column - 10)
        return text[start : start + width].strip()

    def snippet_at(self, offset: int, width: int = 80) -> str:
        line, column = self.position(offset)
        return self.snippet(line, column, width)

    @cached_property
    def scan(self) -> HtmlScan:
        scanner = _Scanner(self.line_starts)
        try:
            scanner.feed(self.source)
            scanner.close()
        except _TooManyElements:
            pass
        else:
            if scanner.cdata_elem == "style" and scanner.rawdata:
                # An unterminated <style>: the tokenizer keeps its body unread.
                scanner.handle_data(scanner.rawdata)
        return HtmlScan(
            elements=tuple(scanner.elements),
            comments=tuple(scanner.comments),
            doctypes=tuple(scanner.doctypes),
            styles=tuple(scanner.styles),
            truncated=scanner.truncated,
        )

    def visible_text(self) -> str:
        parts: list[str] = []
        for node in self.soup.find_all(string=True):
            if isinstance(node, _NON_TEXT):
                continue
            if any(p.name in _INVISIBLE_PARENTS for p in node.parents if p is not None):
                continue
            text = node.strip()
            if text:
                parts.append(text)
        return " ".join(parts)
