"""Every URL of the message and where it occurs: the shared HTML scan (never re-parsed),
its ``<style>`` bodies and Outlook conditional comments, and the text part."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from mailqa.checks.links.details import Kind
from mailqa.core.budget import checkpoint
from mailqa.core.markup import MarkupScan, StartTag
from mailqa.core.message import ParsedMessage
from mailqa.core.report import Location

MAX_LOCATIONS = 5
MAX_TEXTS = 3

# Linear on any CSS: every quantifier is possessive and stops at a character the next token
# needs, so nothing is retried. A quoted value runs to the next quote of its kind, so the runs
# of two matches never overlap; an unquoted one also stops at "(" (not allowed there, CSS
# Syntax 4.3.6), so "url(url(url(..." does not rescan the rest of the text from every "url(".
_CSS_URL = re.compile(r"""url\(\s*+(?:"([^"]*+)"|'([^']*+)'|([^()'"\s]*+))\s*+\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s++(?:"([^"]*+)"|'([^']*+)')""", re.I)
_COMMENT_ATTR = re.compile(r"""\b(href|src)\s*+=\s*+(?:"([^"]*+)"|'([^']*+)')""", re.I)
_TEXT_URL = re.compile(r"""(?i)\b(?:https?://|mailto:)[^\s<>"']+""")
_TRAILING_PUNCT = ".,;:!?'\"]}>*)"


@dataclass
class Occurrence:
    raw: str
    kind: Kind
    part: str
    line: int | None
    column: int | None
    snippet: str | None
    text: str | None = None
    attribute: str | None = None


@dataclass
class Target:
    """A unique URL and every place it occurs."""

    url: str
    kind: Kind
    occurrences: list[Occurrence] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        found = [o.text for o in self.occurrences if o.text]
        return list(dict.fromkeys(found))[:MAX_TEXTS]

    def data(self, **extra: Any) -> dict[str, Any]:
        """A finding's ``data`` about this target: its URL, then ``extra``."""
        return {"url": self.url[:2000], **extra}

    def locations(self) -> list[Location]:
        return [
            Location(part=o.part, line=o.line, column=o.column, snippet=o.snippet)
            for o in self.occurrences[:MAX_LOCATIONS]
        ]


def _srcset_urls(value: str) -> Iterator[str]:
    for candidate in value.split(","):
        parts = candidate.split()
        if parts:
            yield parts[0]


def _after_import(css: str, end: int) -> bool:
    """``css[:end]`` ends with ``@import`` and maybe white space. Looks back over that white
    space only (never copies the prefix), so all calls on one text stay linear."""
    while end > 0 and css[end - 1].isspace():
        end -= 1
    return css[max(0, end - 7) : end].lower() == "@import"


class Extractor:
    """Walks the shared HTML scan (never re-parsed) and the text part for URLs."""

    def __init__(self, msg: ParsedMessage) -> None:
        self.msg = msg
        self.doc = msg.html_document
        self.occurrences: list[Occurrence] = []
        self.anchor_names: set[str] = set()
        self.base_href: str | None = None

    def _position(self, offset: int) -> tuple[int, int]:
        return self.doc.position(offset)

    def _add(
        self,
        raw: str,
        kind: Kind,
        line: int | None,
        column: int | None,
        *,
        text: str | None = None,
        attribute: str | None = None,
    ) -> None:
        snippet = self.doc.snippet(line, column or 1) if line else None
        self.occurrences.append(
            Occurrence(raw, kind, "html", line, column, snippet, text, attribute)
        )

    def _css(self, css: str, line: int | None, column: int | None, start: int | None) -> None:
        """URLs in CSS; ``start`` is the source offset of the CSS when it is known exactly."""
        for pattern in (_CSS_URL, _CSS_IMPORT):
            for match in pattern.finditer(css):
                raw = next((g for g in match.groups() if g is not None), "")
                is_import = pattern is _CSS_IMPORT or _after_import(css, match.start())
                kind: Kind = "stylesheet" if is_import else "image"
                where: tuple[int | None, int | None] = (
                    self._position(start + match.start()) if start is not None else (line, column)
                )
                self._add(raw, kind, where[0] or None, where[1], attribute="css")

    def extract(self) -> list[Occurrence]:
        if self.msg.html:
            scan = self.doc.scan
            for i, tag in enumerate(scan.elements):
                if not i & 255:
                    checkpoint()
                self._tag(tag, scan)
            for style in scan.styles:
                line, column = self._position(style.offset)
                self._css(style.text, line, column, style.offset)
            for comment in scan.comments:
                self._comment(comment.text, comment.offset + 4)
        if self.msg.text:
            self._text(self.msg.text)
        return self.occurrences

    def _tag(self, tag: StartTag, scan: MarkupScan) -> None:
        name = tag.name
        line, column = self._position(tag.offset)
        get = tag.get
        element_id = get("id")
        if element_id:
            self.anchor_names.add(element_id)
        if name == "a" and get("name"):
            self.anchor_names.add(get("name") or "")
        if name == "base" and self.base_href is None:
            self.base_href = get("href")
        href = get("href")
        src = get("src")
        if name in ("a", "area") and href is not None:
            text = scan.link_texts.get(tag.offset) if name == "a" else get("alt")
            if not text and name == "a":
                alt = scan.link_images.get(tag.offset)
                text = f"[image: {alt}]" if alt else None
            self._add(href, "link", line, column, text=(text or None), attribute="href")
        elif name == "link" and href is not None:
            rel = (get("rel") or "").lower().split()
            kind: Kind = "stylesheet" if "stylesheet" in rel else "link"
            self._add(href, kind, line, column, attribute="href")
        elif name.startswith("v:") and href is not None:
            self._add(href, "link", line, column, attribute="href")
        if src is not None and (
            name == "img"
            or name.startswith("v:")
            or (name == "input" and (get("type") or "").lower() == "image")
        ):
            self._add(src, "image", line, column, text=get("alt"), attribute="src")
        srcset = get("srcset")
        if srcset is not None and name in ("img", "source"):
            for url in _srcset_urls(srcset):
                self._add(url, "image", line, column, attribute="srcset")
        background = get("background")
        if background is not None:
            self._add(background, "image", line, column, attribute="background")
        style = tag.attribute("style")
        if style is not None and "url(" in style.value.lower():
            exact = style.value_offset if style.value == style.raw_value else None
            self._css(style.value, line, column, exact)

    def _comment(self, text: str, start: int | None) -> None:
        """Outlook conditional comments hold VML buttons and backgrounds: scan them too."""
        if "[if" not in text.lower():
            return
        for match in _COMMENT_ATTR.finditer(text):
            raw = html.unescape(match.group(2) if match.group(2) is not None else match.group(3))
            kind: Kind = "image" if match.group(1).lower() == "src" else "link"
            line, column = (
                self._position(start + match.start()) if start is not None else (None, None)
            )
            self._add(raw, kind, line, column, attribute=match.group(1).lower())
        if "url(" in text.lower():
            self._css(text, None, None, start)

    def _text(self, text: str) -> None:
        for number, line in enumerate(text.splitlines(), start=1):
            snippet: str | None = None
            for match in _TEXT_URL.finditer(line):
                url = _trim_text_url(match.group(0))
                if snippet is None:
                    snippet = line.strip()[:120]
                self.occurrences.append(
                    Occurrence(
                        url, "link", "text", number, match.start() + 1, snippet, attribute="text"
                    )
                )


def _trim_text_url(url: str) -> str:
    """Drop trailing punctuation from a URL found in text, keeping a ")" that closes a "(" in
    the URL. Counts the parentheses once and walks back, so it is linear in the URL."""
    opened, closed = url.count("("), url.count(")")
    end = len(url)
    while end and url[end - 1] in _TRAILING_PUNCT:
        if url[end - 1] == ")":
            if opened >= closed:
                break
            closed -= 1
        end -= 1
    return url[:end]


def _resolve(raw: str, base: str | None) -> str:
    url = raw.strip()
    if base and url and not urlsplit(url).scheme and not url.startswith("#"):
        try:
            return urljoin(base, url)
        except ValueError:
            return url
    return url


_KIND_RANK: dict[str, int] = {"link": 0, "stylesheet": 1, "image": 2}


def group_targets(occurrences: list[Occurrence], base: str | None) -> list[Target]:
    """De-duplicate by URL, in document order; a URL used as an image counts as an image."""
    targets: dict[str, Target] = {}
    for occ in occurrences:
        url = _resolve(occ.raw, base)
        target = targets.get(url)
        if target is None:
            target = targets[url] = Target(url, occ.kind)
        elif _KIND_RANK[occ.kind] > _KIND_RANK[target.kind]:
            target.kind = occ.kind
        target.occurrences.append(occ)
    return list(targets.values())
