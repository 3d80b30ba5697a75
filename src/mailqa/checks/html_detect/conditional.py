"""Conditional comments: which clients see which part of a document.

Outlook for Windows renders with Word and reads conditional comments; every other client
treats them as ordinary comments. So

- *downlevel-hidden* content, ``<!--[if mso]>…<![endif]-->`` (and ``gte mso 9``,
  ``mso | IE``…), is seen only by Outlook for Windows, when the condition holds there;
- *downlevel-revealed* content, ``<!--[if !mso]><!-->…<!--<![endif]-->``, is seen by every
  client, except Outlook for Windows when the condition fails there.

``conditionals(doc)`` finds both kinds in one pass over the document's comments and joins the
Outlook-only bodies into one document (``OutlookContent``), so their features are detected
once, with offsets mapped back into the source. Ghost tables, the tables hybrid layouts open
in one Outlook-only comment and close in a later one, are tracked too: the content between
them is laid out by the table in Outlook.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from mailqa.core.html import HtmlDocument

Scope = Literal["all", "outlook", "not-outlook"]
"""Who sees a piece of the document: everyone, only Outlook for Windows, all but it."""

OUTLOOK_CLIENTS = frozenset({"outlook.windows", "outlook.windows-mail"})
"""The clients that render with Word and obey conditional comments (Outlook 2007–2021 and
Microsoft 365 for Windows; the Windows Mail app shares the engine)."""

MSO_VERSIONS = (12, 14, 15, 16)
"""Word engine versions of the Outlooks in use (2007, 2010, 2013, 2016 and later)."""

MAX_CONDITION_CHARS = 200
_TOKEN = re.compile(r"\s*(\(|\)|!|&|\||[A-Za-z]+|\d+(?:\.\d+)?)")
_TABLE_OPEN = re.compile(r"<table[\s>]", re.I)
_TABLE_CLOSE = re.compile(r"</table\s*>", re.I)
_VML_BACKGROUND = re.compile(r"<v:(?:fill|image|background)[\s>/]|<v:rect[^>]{0,500}\sfill", re.I)
_JOINER = "\n"


def _tokens(condition: str) -> list[str] | None:
    tokens: list[str] = []
    pos = 0
    condition = condition.rstrip()
    while pos < len(condition):
        match = _TOKEN.match(condition, pos)
        if match is None:
            return None
        tokens.append(match.group(1).lower())
        pos = match.end()
    return tokens


class _Condition:
    """``[if …]`` expressions: ``mso``, ``IE``, versions, ``gt``/``gte``/``lt``/``lte``,
    ``!``, ``&``, ``|`` and parentheses, evaluated for one Word engine version."""

    def __init__(self, tokens: list[str], version: int) -> None:
        self.tokens = tokens
        self.version = version
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expression(self) -> bool:
        value = self.term()
        while self.peek() == "|":
            self.take()
            value = self.term() or value
        return value

    def term(self) -> bool:
        value = self.factor()
        while self.peek() == "&":
            self.take()
            value = self.factor() and value
        return value

    def factor(self) -> bool:
        token = self.peek()
        if token is None:
            raise ValueError("condition ends early")
        if token == "!":
            self.take()
            return not self.factor()
        if token == "(":
            self.take()
            value = self.expression()
            if self.peek() != ")":
                raise ValueError("unbalanced parenthesis")
            self.take()
            return value
        operator = None
        if token in ("gt", "gte", "lt", "lte"):
            operator = self.take()
        feature = self.take()
        wanted: float | None = None
        nxt = self.peek()
        if nxt is not None and nxt[0].isdigit():
            wanted = float(self.take())
        if feature != "mso":  # IE, vml and anything else: false in Word
            return False
        if wanted is None:
            return True
        have = self.version
        return {
            None: have == int(wanted),
            "gt": have > wanted,
            "gte": have >= wanted,
            "lt": have < wanted,
            "lte": have <= wanted,
        }[operator]


def true_in_outlook(condition: str) -> bool:
    """Whether Outlook for Windows (some version in use) takes the branch of ``[if condition]``.

    An expression that cannot be read is taken as false: Word shows nothing for it.
    """
    if len(condition) > MAX_CONDITION_CHARS:
        return False
    tokens = _tokens(condition)
    if not tokens:
        return False
    for version in MSO_VERSIONS:
        parser = _Condition(tokens, version)
        try:
            value = parser.expression()
        except (ValueError, IndexError):
            return False
        if parser.peek() is not None:
            return False
        if value:
            return True
    return False


@dataclass(frozen=True)
class OutlookContent:
    """The Outlook-only bodies of a document joined into one, and how to map offsets back."""

    text: str
    joined_starts: list[int]
    source_starts: list[int]

    @cached_property
    def document(self) -> HtmlDocument:
        return HtmlDocument(self.text)

    def source_offset(self, offset: int) -> int:
        i = max(bisect_right(self.joined_starts, offset) - 1, 0)
        return self.source_starts[i] + offset - self.joined_starts[i]


@dataclass
class Conditionals:
    """Where a document's conditional comments put content."""

    outlook_ranges: list[tuple[int, int]] = field(default_factory=list)
    """Source ranges of downlevel-hidden comments Outlook takes (the whole comment)."""
    hidden_from_outlook: list[tuple[int, int]] = field(default_factory=list)
    """Source ranges of downlevel-revealed content Outlook skips."""
    ghost_tables: list[tuple[int, int]] = field(default_factory=list)
    """Source ranges between an Outlook-only table's opening and its closing."""
    outlook: OutlookContent | None = None
    vml_background: bool = False
    """Outlook-only content draws a VML background (``v:fill``, ``v:image``, a filled
    ``v:rect``): Outlook's way to show a background image."""

    def scope_at(self, offset: int) -> Scope:
        if _inside(self.outlook_ranges, offset):
            return "outlook"
        if _inside(self.hidden_from_outlook, offset):
            return "not-outlook"
        return "all"

    def in_ghost_table(self, offset: int) -> bool:
        return _inside(self.ghost_tables, offset)


def _inside(ranges: list[tuple[int, int]], offset: int) -> bool:
    i = bisect_right(ranges, (offset, 1 << 62)) - 1
    return i >= 0 and ranges[i][0] <= offset < ranges[i][1]


def _conditional(text: str) -> tuple[bool, str, int] | None:
    """What a comment's text opens, if it is a conditional comment: (revealed, condition,
    body start). Revealed: ``[if !mso]><!`` opens content every client reads; else the
    comment's own body (``[if mso]>…<![endif]``) is for the clients taking the branch."""
    if not text.startswith("[if"):
        return None
    close = text.find("]>", 3, 3 + MAX_CONDITION_CHARS + 2)
    if close < 0:
        return None
    rest = text[close + 2 :].strip()
    revealed = rest.startswith("<!") and "<![endif]" not in rest
    return revealed, text[3:close], close + 2


def _comment_end(source: str, pos: int) -> int:
    """Where a comment whose text ends at ``pos`` ends (after ``-->`` or ``--!>``)."""
    for closer in ("-->", "--!>"):
        if source.startswith(closer, pos):
            return pos + len(closer)
    return min(pos, len(source))


def _endif(text: str) -> bool:
    return text.strip() in ("<![endif]", "<![endif]--", "<! [endif]")


def conditionals(doc: HtmlDocument) -> Conditionals:
    """Conditional-comment scopes of ``doc``, in one pass over its comments."""
    found = Conditionals()
    source = doc.source
    parts: list[str] = []
    joined_starts: list[int] = []
    source_starts: list[int] = []
    joined = 0
    revealed_since: int | None = None
    ghost_depth = 0
    ghost_since = 0
    for comment in doc.scan.comments:
        text = comment.text
        end = _comment_end(source, comment.offset + 4 + len(text))
        if revealed_since is not None:
            if _endif(text):
                found.hidden_from_outlook.append((revealed_since, comment.offset))
                revealed_since = None
            continue
        branch = _conditional(text)
        if branch is None:
            continue
        revealed, condition, start = branch
        if revealed:
            if not true_in_outlook(condition):
                revealed_since = end
            continue
        if not true_in_outlook(condition):
            continue
        body_start = comment.offset + 4 + start
        body = text[start:]
        if body.rstrip().endswith("<![endif]"):
            body = body[: body.rstrip().rfind("<![endif]")]
        found.outlook_ranges.append((comment.offset, end))
        joined_starts.append(joined)
        source_starts.append(body_start)
        parts.append(body)
        joined += len(body) + len(_JOINER)
        if not found.vml_background and _VML_BACKGROUND.search(body):
            found.vml_background = True
        opened = len(_TABLE_OPEN.findall(body)) - len(_TABLE_CLOSE.findall(body))
        if ghost_depth <= 0 < ghost_depth + opened:
            ghost_since = end
        elif ghost_depth > 0 >= ghost_depth + opened:
            found.ghost_tables.append((ghost_since, comment.offset))
        ghost_depth = max(ghost_depth + opened, 0)
    if revealed_since is not None:  # never closed: to the end, as the comment reads
        found.hidden_from_outlook.append((revealed_since, len(source)))
    if ghost_depth > 0:
        found.ghost_tables.append((ghost_since, len(source)))
    if parts:
        found.outlook = OutlookContent(_JOINER.join(parts), joined_starts, source_starts)
    return found
