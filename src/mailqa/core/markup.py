"""One linear pass over an HTML source: the tokenizer every HTML reader of a message shares.

The stdlib ``HTMLParser`` rescans the rest of the input for some unterminated constructs
(``<!``, ``&``, ``<`` runs), which makes hostile input quadratic. This tokenizer follows the
HTML tokenization rules that matter for email (comments, doctype, bogus comments, raw-text
elements, quoted attributes, end of input inside a construct) and finds every terminator
through ``_Finder``, which never searches the same stretch twice. The open-element tracking
is a reduced HTML tree builder: void elements, optional end tags, the implicit closes of
``<p>``, ``<li>``, ``<dd>``/``<dt>``, table parts and ``<option>``, and scope boundaries for
end tags. Scope searches are bounded (``SCOPE_SEARCH_LIMIT``), so the pass stays linear.

The pass lists every start tag with its attributes (each with source offsets), comments,
doctypes and ``<style>`` bodies (the client-support check reads these), markup issues, the
title, and the document's text as ``TextRun``s: each run says whether an element hides it.
What that text means to a reader (the preview an inbox shows, a hidden preheader) is not the
tokenizer's business: ``TextVisitor``s read it from the runs (``MarkupScan.visit``).

Offsets are into the source; ``HtmlDocument`` turns them into line/column.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Literal, Protocol

from mailqa.core.budget import checkpoint


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


MAX_TAGS = 200_000
"""Start and end tags read before the pass stops (the report says it was truncated)."""
MAX_ISSUES_PER_KIND = 1_000
SCOPE_SEARCH_LIMIT = 512
"""How deep an end tag looks for its element; deeper nesting counts as a stray end tag."""
LINK_TEXT_CHARS = 200

VOID = _names(
    "area base basefont bgsound br col embed frame hr img input keygen link meta param "
    "source track wbr"
)
RAW_TEXT = _names("script style xmp iframe noembed noframes textarea title")
OPTIONAL_END = _names(
    "p li dt dd td th tr tbody thead tfoot option optgroup colgroup rt rp rb rtc html head body"
)
CLOSES_P = _names(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr listing main menu nav ol p pre "
    "section summary table ul li dd dt plaintext xmp"
)
HEAD_CONTENT = _names("base basefont bgsound link meta noscript script style template title")
TABLE_PARENTS = _names("table tbody thead tfoot tr")
TABLE_CHILDREN = _names(
    "caption colgroup col tbody thead tfoot tr td th script style template form input"
)
INTERESTING = _names("html img script form iframe object embed link applet frame frameset")

_DEFAULT_SCOPE = _names("applet caption html table td th marquee object template")
_BUTTON_SCOPE = _DEFAULT_SCOPE | {"button"}
_LIST_SCOPE = _DEFAULT_SCOPE | {"ol", "ul"}
_TABLE_SCOPE = _names("html table template")

_P, _LI, _HEAD, _TR, _OPTGROUP = (frozenset({n}) for n in ("p", "li", "head", "tr", "optgroup"))
_DD_DT = frozenset({"dd", "dt"})
_CELLS = frozenset({"td", "th"})
_SECTIONS = frozenset({"tbody", "thead", "tfoot"})
_MARKUP_START = re.compile(r"<[A-Za-z!/?]")
_SPACE = re.compile(r"[\t\n\f\r ]+")
_TAG_NAME = re.compile(r"[A-Za-z][^\t\n\f\r />]*")
_ATTR_NAME = re.compile(r"[^\t\n\f\r />][^\t\n\f\r />=]*")
_UNQUOTED = re.compile(r"[^\t\n\f\r >]*")
_HIDING_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all|opacity\s*:\s*0(?![.\d])"
    r"|max-height\s*:\s*0(?![.\d])",
    re.I,
)
_UNITS = "abcdefghijklmnopqrstuvwxyz%"
_INHERITED = _names("inherit unset revert revert-layer")
_FONT_SIZE_WORDS = _names(
    "xx-small x-small small medium large x-large xx-large xxx-large smaller larger math "
    "initial caption icon menu message-box small-caption status-bar"
)
"""``font`` shorthand words that set a size: absolute and relative sizes, ``initial``
(medium) and the system fonts."""
_PREHEADER_NAME = re.compile(r"pre-?header|preview", re.I)
_RAW_END: dict[str, re.Pattern[str]] = {
    name: re.compile(rf"</{name}(?=[\t\n\f\r />]|$)", re.I) for name in RAW_TEXT
}


@dataclass(frozen=True, slots=True)
class Attr:
    name: str
    """Lower-cased attribute name."""
    value: str
    """Value with character references resolved ('' for a bare attribute)."""
    offset: int
    """Source offset of the attribute name."""
    value_offset: int = -1
    """Source offset of the first character of the raw value (inside quotes), -1 if none."""
    raw_value: str = ""
    """The value as written (quotes removed, references not resolved)."""


@dataclass(frozen=True, slots=True)
class StartTag:
    name: str
    """Lower-cased tag name."""
    offset: int
    """Source offset of the ``<``."""
    attrs: dict[str, Attr]
    """By name; the first of duplicate attributes wins, as in browsers."""

    def get(self, name: str) -> str | None:
        attr = self.attrs.get(name)
        return attr.value if attr is not None else None

    def attribute(self, name: str) -> Attr | None:
        return self.attrs.get(name)


@dataclass(frozen=True, slots=True)
class TextSpan:
    """A comment, doctype or ``<style>`` body: its text and the source offset of its start."""

    text: str
    offset: int


@dataclass(frozen=True, slots=True)
class TextRun:
    """A run of the document's text outside ``<head>`` and ``<template>``: whitespace folded
    and character references resolved (a ``<textarea>`` body: as written)."""

    text: str
    offset: int
    hidden: bool
    """Inside an element that hides its content: the ``hidden`` attribute, an inline style
    (``display:none``, ``visibility:hidden``, ``mso-hide:all``, zero opacity or height) or a
    preheader/preview class or id, which templates hide from a stylesheet. Or in a zero font
    size (inline ``font-size:0``) that no element in between sets to a size again."""
    element: int = -1
    """Index in ``MarkupScan.elements`` of the innermost element open around the run (-1:
    none): whose styles the text gets."""


class TextVisitor(Protocol):
    """Reads the text runs of a scan in document order (``MarkupScan.visit``)."""

    def text(self, run: TextRun) -> bool:
        """Read one run; False when the visitor needs no more."""
        ...


MarkupKind = Literal["unclosed", "stray", "nesting", "nested-link", "duplicate-id", "unterminated"]


@dataclass(frozen=True, slots=True)
class MarkupIssue:
    kind: MarkupKind
    offset: int
    message: str


@dataclass(slots=True)
class _Open:
    name: str
    offset: int
    index: int
    """Index in ``MarkupScan.elements``."""
    hidden: bool
    """This element or one around it hides its content: nothing inside can show it again."""
    zero_font: bool
    """The font size here is zero: text is hidden until an element inside sets a size again
    (MJML and hybrid layouts zero it on wrappers to close inline-block gaps)."""

    @property
    def hides_text(self) -> bool:
        return self.hidden or self.zero_font


@dataclass
class MarkupScan:
    """What the pass found. ``tags`` indexes the start tags the hygiene rules look at."""

    elements: list[StartTag] = field(default_factory=list)
    """Every start tag, in source order."""
    depths: list[int] = field(default_factory=list)
    """How many elements are open around each of ``elements`` (same index)."""
    comments: list[TextSpan] = field(default_factory=list)
    """``<!-- -->`` comments: the text inside, at the offset of the ``<``."""
    doctypes: list[TextSpan] = field(default_factory=list)
    """``<!DOCTYPE ...>``: the text after ``<!``, at the offset of the ``<``."""
    link_texts: dict[int, str] = field(default_factory=dict)
    """Text inside each ``<a>`` (whitespace folded, at most ``LINK_TEXT_CHARS``), by tag offset."""
    link_images: dict[int, str | None] = field(default_factory=dict)
    """``alt`` of the first ``<img>`` inside each ``<a>`` (None: no alt), by tag offset."""
    tags: dict[str, list[StartTag]] = field(default_factory=dict)
    backgrounds: list[StartTag] = field(default_factory=list)
    issues: list[MarkupIssue] = field(default_factory=list)
    """At most ``MAX_ISSUES_PER_KIND`` of each kind; ``issue_counts`` has the totals."""
    issue_counts: dict[MarkupKind, int] = field(default_factory=dict)
    doctype_offset: int | None = None
    first_tag_offset: int | None = None
    title: str | None = None
    title_offset: int | None = None
    styles: list[TextSpan] = field(default_factory=list)
    """``<style>`` bodies at the offset of their first character."""
    texts: list[TextRun] = field(default_factory=list)
    """The document's text, in source order."""
    tag_count: int = 0
    max_depth: int = 0
    truncated: bool = False

    def named(self, name: str) -> list[StartTag]:
        return self.tags.get(name, [])

    def visit(self, visitor: TextVisitor) -> None:
        """Hand the text runs to ``visitor`` in order, until it has read enough."""
        for index, run in enumerate(self.texts):
            if not index & 1023:
                checkpoint()
            if not visitor.text(run):
                return


class _Finder:
    """``str.find`` that remembers the last answer per needle, so no stretch is searched twice.

    A cached hit at ``found`` searched from ``since`` proves there is no occurrence in
    ``[since, found)``, so it answers every later query that starts in that range.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.cache: dict[str, tuple[int, int]] = {}

    def find(self, needle: str, start: int) -> int:
        hit = self.cache.get(needle)
        if hit is not None:
            since, found = hit
            if since <= start and (found == -1 or found >= start):
                return found
        found = self.source.find(needle, start)
        self.cache[needle] = (start, found)
        return found


def _skip_space(source: str, pos: int) -> int:
    match = _SPACE.match(source, pos)
    return match.end() if match else pos


def _hides(tag: StartTag) -> bool:
    if "hidden" in tag.attrs:
        return True
    style = tag.get("style")
    if style and _HIDING_STYLE.search(style):
        return True
    names = f"{tag.get('class') or ''} {tag.get('id') or ''}"
    return bool(_PREHEADER_NAME.search(names))


def _zero_font(tag: StartTag) -> bool | None:
    """Whether the inline style sets a zero (True) or other (False) font size; None when it
    sets none or inherits it. Of several declarations the last wins, an ``!important`` one
    over plain ones, as in CSS."""
    style = tag.get("style")
    if not style or "font" not in style.lower():
        return None
    result: bool | None = None
    important = False
    for declaration in style.split(";"):
        name, colon, value = declaration.partition(":")
        name = name.strip().lower()
        if not colon or name not in ("font-size", "font"):
            continue
        value = value.strip().lower()
        is_important = value.endswith("important") and "!" in value
        if is_important:
            value = value[: value.rindex("!")].strip()
        if not value or (important and not is_important):
            continue
        size = _size_is_zero(value) if name == "font-size" else _shorthand_is_zero(value)
        if size is None:
            continue  # a font shorthand without a size is invalid: ignored
        result = None if size == "inherit" else size
        important = is_important
    return result


def _size_is_zero(value: str) -> bool | Literal["inherit"]:
    """A ``font-size`` value: zero or not; keywords and functions are sizes."""
    if value in _INHERITED:
        return "inherit"
    number = value.rstrip(_UNITS)
    try:
        return float(number) == 0
    except ValueError:
        return False


def _shorthand_is_zero(value: str) -> bool | Literal["inherit"] | None:
    """The size in a ``font`` shorthand (``bold 0/0 a``, ``14px/20px Arial``); None without
    one. A bare number other than 0 is a weight."""
    if value in _INHERITED:
        return "inherit"
    for token in value.split():
        size = token.split("/", 1)[0]
        if size in _FONT_SIZE_WORDS:
            return False
        if not size or size[0] not in "0123456789.+-":
            continue
        number = size.rstrip(_UNITS)
        try:
            zero = float(number) == 0
        except ValueError:
            continue
        if zero or number != size:
            return zero
    return None


class _Scanner:
    def __init__(self, source: str) -> None:
        self.src = source
        self.n = len(source)
        self.finder = _Finder(source)
        self.out = MarkupScan()
        self.stack: list[_Open] = []
        self.names: list[str] = []
        """The names on ``stack``, for searches at C speed."""
        self.counts: dict[str, int] = {}
        self.ids: dict[str, int] = {}
        self.implicit_p_closes = 0
        self.open_links: list[tuple[int, list[str]]] = []
        """Offsets of the open ``<a>`` elements and the text read inside each so far."""

    # -- tokenizer ---------------------------------------------------------------------

    def run(self) -> MarkupScan:
        src, n, out = self.src, self.n, self.out
        pos = text_start = steps = 0
        while pos < n:
            steps += 1
            if not steps & 1023:
                checkpoint()
            lt = src.find("<", pos)
            if lt < 0:
                break
            if not _MARKUP_START.match(src, lt):
                pos = lt + 1  # a '<' that starts nothing is text: keep it in the run
                continue
            if lt > text_start:
                self.text(src[text_start:lt], text_start)
            if out.tag_count >= MAX_TAGS:
                out.truncated = True
                break
            pos = text_start = self.markup(lt)
        else:
            text_start = n
        if not out.truncated and text_start < n:
            self.text(src[text_start:], text_start)
        self.finish()
        return out

    def markup(self, lt: int) -> int:
        """Read the construct at ``<``; return where reading continues."""
        src, n = self.src, self.n
        nxt = src[lt + 1 : lt + 2]
        if nxt == "!":
            if src.startswith("--", lt + 2):
                return self.comment(lt)
            end = self.finder.find(">", lt + 2)
            if src[lt + 2 : lt + 9].lower() == "doctype":
                if self.out.doctype_offset is None:
                    self.out.doctype_offset = lt
                self.out.doctypes.append(TextSpan(src[lt + 2 : n if end < 0 else end], lt))
            return n if end < 0 else end + 1  # bogus comment: to the next '>' or the end
        if nxt == "?":
            end = self.finder.find(">", lt + 2)
            return n if end < 0 else end + 1
        if nxt == "/":
            match = _TAG_NAME.match(src, lt + 2)
            end = self.finder.find(">", lt + 2)
            if end < 0:
                if match:
                    self.issue("unterminated", lt, "end tag never closed with '>'")
                return n
            if match:
                self.out.tag_count += 1
                self.end_tag(match.group().lower(), lt)
            return end + 1  # '</>' and '</ ...>' are ignored
        match = _TAG_NAME.match(src, lt + 1)
        assert match is not None  # run() only calls here for '<' + letter
        return self.start_tag(match.group().lower(), lt, match.end())

    def comment(self, lt: int) -> int:
        src = self.src
        body = lt + 4
        if src.startswith(">", body):
            self.out.comments.append(TextSpan("", lt))
            return body + 1
        if src.startswith("->", body):
            self.out.comments.append(TextSpan("", lt))
            return body + 2
        # '--!>' closes a comment too ("incorrectly closed comment"): whichever comes first.
        end, close = self.finder.find("-->", body), 3
        bang = self.finder.find("--!>", body)
        if bang >= 0 and (end < 0 or bang < end):
            end, close = bang, 4
        if end < 0:
            self.issue(
                "unterminated",
                lt,
                "comment never closed with '-->': everything after it is hidden",
            )
            self.out.comments.append(TextSpan(src[body:], lt))
            return self.n
        self.out.comments.append(TextSpan(src[body:end], lt))
        return end + close

    def start_tag(self, name: str, lt: int, pos: int) -> int:
        src, n = self.src, self.n
        attrs: dict[str, Attr] = {}
        self_closing = False
        while True:
            pos = _skip_space(src, pos)
            if pos >= n:
                self.issue("unterminated", lt, f"<{name}> tag never closed with '>'")
                return n
            char = src[pos]
            if char == ">":
                pos += 1
                break
            if char == "/":
                if src.startswith(">", pos + 1):
                    self_closing = True
                    pos += 2
                    break
                pos += 1
                continue
            match = _ATTR_NAME.match(src, pos)
            assert match is not None  # the class accepts any char but space, '/' and '>'
            attr_name = match.group().lower()
            attr_offset = pos
            pos = match.end()
            after = _skip_space(src, pos)
            raw = ""
            value_offset = -1
            if after < n and src[after] == "=":
                value_start = _skip_space(src, after + 1)
                quote = src[value_start : value_start + 1]
                if quote in ('"', "'"):
                    close = self.finder.find(quote, value_start + 1)
                    if close < 0:
                        self.issue("unterminated", lt, f"<{name}> attribute value never closed")
                        return n
                    raw = src[value_start + 1 : close]
                    value_offset = value_start + 1
                    pos = close + 1
                else:
                    value_match = _UNQUOTED.match(src, value_start)
                    assert value_match is not None  # '*' always matches
                    raw = value_match.group()
                    value_offset = value_start
                    pos = value_match.end()
            if attr_name not in attrs:  # the first of duplicate attributes wins
                value = html.unescape(raw) if "&" in raw else raw
                attrs[attr_name] = Attr(attr_name, value, attr_offset, value_offset, raw)
        self.out.tag_count += 1
        tag = StartTag(name, lt, attrs)
        self.open(tag, self_closing)
        if name in RAW_TEXT and not self_closing:
            return self.raw_text(tag, pos)
        return pos

    def raw_text(self, tag: StartTag, pos: int) -> int:
        """Skip the body of <style>, <script>, <title>...: markup inside is text."""
        match = _RAW_END[tag.name].search(self.src, pos)
        if match is None:
            body_end = end = self.n
            self.issue(
                "unterminated",
                tag.offset,
                f"<{tag.name}> never closed: the rest of the document is inside it",
            )
        else:
            body_end = match.start()
            close = self.finder.find(">", match.end())
            end = self.n if close < 0 else close + 1
        body = self.src[pos:body_end]
        if tag.name == "title" and self.out.title is None:
            self.out.title = html.unescape(body) if "&" in body else body
            self.out.title_offset = tag.offset
        elif tag.name == "style":
            self.out.styles.append(TextSpan(body, pos))
        elif tag.name == "textarea" and not self.hidden_context():
            textarea = self.stack[-1] if self.stack else None  # the textarea is on top
            hidden = textarea is not None and textarea.hides_text
            element = textarea.index if textarea is not None else -1
            self.out.texts.append(TextRun(body, pos, hidden, element))
        self.pop_named(tag.name)
        return end

    # -- tree building ---------------------------------------------------------------

    def open(self, tag: StartTag, self_closing: bool) -> None:
        out, name = self.out, tag.name
        if out.first_tag_offset is None:
            out.first_tag_offset = tag.offset
        out.elements.append(tag)
        if name in INTERESTING:
            out.tags.setdefault(name, []).append(tag)
        if "background" in tag.attrs:
            out.backgrounds.append(tag)
        element_id = tag.get("id")
        if element_id:
            first = self.ids.get(element_id)
            if first is None:
                self.ids[element_id] = tag.offset
            else:
                self.issue("duplicate-id", tag.offset, f'id="{element_id[:60]}" used again')
        self.implicit_closes(tag)
        out.depths.append(len(self.stack))
        if name == "img" and self.open_links:
            out.link_images.setdefault(self.open_links[-1][0], tag.get("alt"))
        if name in VOID or self_closing:
            return
        if name == "a":
            self.open_links.append((tag.offset, []))
        parent = self.stack[-1] if self.stack else None
        hidden = (parent is not None and parent.hidden) or _hides(tag)
        zero_font = _zero_font(tag)
        if zero_font is None:
            zero_font = parent is not None and parent.zero_font
        self.stack.append(_Open(name, tag.offset, len(out.elements) - 1, hidden, zero_font))
        self.names.append(name)
        self.counts[name] = self.counts.get(name, 0) + 1
        if len(self.stack) > out.max_depth:
            out.max_depth = len(self.stack)

    def implicit_closes(self, tag: StartTag) -> None:
        """Close what the start tag ends by HTML rules; report the ones that are misnesting."""
        name = tag.name
        top = self.stack[-1].name if self.stack else None
        if top == "head" and name not in HEAD_CONTENT:
            self.pop_to(len(self.stack) - 1)
            top = self.stack[-1].name if self.stack else None
        if top in TABLE_PARENTS and name not in TABLE_CHILDREN:
            self.issue(
                "nesting",
                tag.offset,
                f"<{name}> directly inside <{top}>: browsers move it out of the table",
            )
        if name == "a" and self.counts.get("a"):
            self.issue("nested-link", tag.offset, "<a> inside another <a>: links cannot nest")
        if name in CLOSES_P:
            index = self.find_open(_P, _BUTTON_SCOPE)
            if index is not None:
                if name != "p" and name not in ("li", "dd", "dt"):
                    self.issue(
                        "nesting",
                        tag.offset,
                        f"<{name}> cannot be inside <p>: the paragraph ends here",
                    )
                    self.implicit_p_closes += 1
                self.pop_to(index)
        if name == "li":
            self.close_sibling(tag, _LI, _LIST_SCOPE | {"dl"})
        elif name in ("dd", "dt"):
            self.close_sibling(tag, _DD_DT, _DEFAULT_SCOPE | {"ol", "ul", "dl"})
        elif name in ("td", "th"):
            self.close_sibling(tag, _CELLS, _TABLE_SCOPE | {"tr"})
        elif name == "tr":
            self.close_sibling(tag, _TR, _TABLE_SCOPE | _SECTIONS)
        elif name in _SECTIONS:
            self.close_sibling(tag, _SECTIONS, _TABLE_SCOPE)
        elif name in ("option", "optgroup"):
            if top == "option":
                self.pop_to(len(self.stack) - 1)
            if name == "optgroup":
                self.close_sibling(tag, _OPTGROUP, frozenset({"select"}))
        elif name == "body":
            index = self.find_open(_HEAD, frozenset({"html"}))
            if index is not None:
                self.pop_to(index)

    def close_sibling(self, tag: StartTag, names: frozenset[str], scope: frozenset[str]) -> None:
        """A start tag that ends an open sibling (<td> after <td>): pop to that sibling."""
        index = self.find_open(names, scope)
        if index is not None:
            self.pop_to(index, closed_by=f"<{tag.name}>")

    def find_open(self, names: frozenset[str], scope: frozenset[str]) -> int | None:
        """Stack index of the nearest open element in ``names``, unless a ``scope``
        boundary is nearer. Looks ``SCOPE_SEARCH_LIMIT`` deep, with list operations in C."""
        if not any(self.counts.get(name) for name in names):
            return None
        if self.names[-1] in names:
            return len(self.names) - 1  # the usual case: closing the current element
        window = self.names[-SCOPE_SEARCH_LIMIT:]
        window.reverse()
        nearest = None
        for name in names:
            try:
                distance = window.index(name, 0, len(window) if nearest is None else nearest)
            except ValueError:
                continue
            nearest = distance
        if nearest is None or not scope.isdisjoint(window[:nearest]):
            return None
        return len(self.names) - 1 - nearest

    def end_tag(self, name: str, lt: int) -> None:
        if name in VOID:
            if name != "br":  # </br> is read as <br>
                self.issue("stray", lt, f"</{name}>: <{name}> has no end tag")
            return
        if name in ("html", "body", "head") and not self.counts.get(name):
            return  # optional structure the template never opened
        if name == "p":
            scope = _BUTTON_SCOPE
        elif name == "li":
            scope = _LIST_SCOPE
        elif name in ("td", "th", "tr", "tbody", "thead", "tfoot", "table"):
            scope = _TABLE_SCOPE
        else:
            scope = _DEFAULT_SCOPE
        index = self.find_open(frozenset({name}), scope)
        if index is None:
            if name == "p" and self.implicit_p_closes:
                self.implicit_p_closes -= 1  # already reported as the nesting that closed it
                return
            self.issue("stray", lt, f"</{name}> closes nothing that is open")
            return
        self.pop_to(index, closed_by=f"</{name}>")

    def pop_named(self, name: str) -> None:
        """Close a raw-text element just opened (it is on top)."""
        if self.stack and self.stack[-1].name == name:
            self.pop_to(len(self.stack) - 1)

    def pop_to(self, index: int, closed_by: str | None = None) -> None:
        """Pop the stack down to (and including) ``index``; report skipped required ends."""
        while len(self.stack) > index:
            element = self.stack.pop()
            self.names.pop()
            self.counts[element.name] -= 1
            if element.name == "a" and self.open_links:
                self.close_link()
            if closed_by and len(self.stack) > index and element.name not in OPTIONAL_END:
                self.issue(
                    "unclosed", element.offset, f"<{element.name}> not closed before {closed_by}"
                )

    def close_link(self) -> None:
        offset, parts = self.open_links.pop()
        self.out.link_texts[offset] = " ".join(" ".join(parts).split())[:LINK_TEXT_CHARS]

    def finish(self) -> None:
        while self.open_links:
            self.close_link()
        if not self.out.truncated:  # a cut-off document is not "unclosed"
            for element in self.stack:
                if element.name not in OPTIONAL_END:
                    self.issue(
                        "unclosed", element.offset, f"<{element.name}> not closed by the end"
                    )

    # -- text ------------------------------------------------------------------------

    def hidden_context(self) -> bool:
        return bool(self.counts.get("head") or self.counts.get("template"))

    def text(self, data: str, offset: int) -> None:
        if self.open_links:
            parts = self.open_links[-1][1]
            if len(parts) < 8 and sum(map(len, parts)) < LINK_TEXT_CHARS:
                part = data[: LINK_TEXT_CHARS * 2]
                parts.append(html.unescape(part) if "&" in part else part)
        if data.isspace() or self.hidden_context():
            return
        if self.stack and self.stack[-1].name in TABLE_PARENTS:
            top = self.stack[-1].name
            self.issue("nesting", offset, f"text directly inside <{top}>: browsers move it out")
        words = " ".join((html.unescape(data) if "&" in data else data).split())
        if words:
            innermost = self.stack[-1] if self.stack else None
            hidden = innermost is not None and innermost.hides_text
            element = innermost.index if innermost is not None else -1
            self.out.texts.append(TextRun(words, offset, hidden, element))

    def issue(self, kind: MarkupKind, offset: int, message: str) -> None:
        count = self.out.issue_counts.get(kind, 0)
        self.out.issue_counts[kind] = count + 1
        if count < MAX_ISSUES_PER_KIND:
            self.out.issues.append(MarkupIssue(kind, offset, message))


def scan_markup(source: str) -> MarkupScan:
    """Tokenize ``source`` once and track open elements. Linear in the input."""
    return _Scanner(source).run()
