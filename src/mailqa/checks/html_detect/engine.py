"""Find every caniemail feature an HTML document uses, with the source offset of each use.

One pass over the tokenizer's start tags, comments and doctypes, and one tinycss2 parse of
each ``<style>`` block and ``style=""`` attribute. Lookups are by exact token through
indexes built once from ``DETECTORS``. Work is bounded: at most ``MAX_CSS_CHARS`` of CSS per
document and ``MAX_LOCATIONS`` offsets kept per feature (all uses are still counted).
"""

from __future__ import annotations

import html
import re
import sys
import threading
from bisect import bisect_right
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from html.entities import html5 as _HTML5_ENTITIES
from typing import Any, Literal, NamedTuple

import tinycss2

from mailqa.checks.html_detect.detectors import DETECTORS
from mailqa.core.budget import checkpoint
from mailqa.core.html import HtmlDocument
from mailqa.core.markup import Attr, StartTag

MAX_CSS_CHARS = 300_000  # ~3 s of tinycss2 on dense CSS; Gmail clips whole mails at 102 KB
MAX_LOCATIONS = 50

_VENDOR = re.compile(r"^-(?:webkit|moz|ms|o)-")
_CSS_NEWLINE = re.compile(r"\r\n|[\r\n\f]")
# Pseudo-elements also written with one colon: CSS2's, and the vendor placeholders
# (``:-ms-input-placeholder``, ``:-moz-placeholder``).
_SINGLE_COLON_PSEUDO_ELEMENTS = frozenset(
    {"before", "after", "first-letter", "first-line", "placeholder", "input-placeholder"}
)
_SELECTOR_FUNCTIONS = frozenset({"not", "has", "is", "where", "matches", "any"})
_RULE_GROUPS = frozenset({"media", "supports", "container", "layer", "document", "scope"})
_COMBINATORS = {">": "child", "+": "adjacent-sibling", "~": "general-sibling"}
_DOCTYPE_HTML5 = re.compile(r"^doctype\s+html\s*$", re.I)
_DATA_IMAGE = re.compile(r"^data:image/([a-z0-9.+-]+)", re.I)
# Elements whose src is no image (caniemail's image-mp4 is an MP4 in <img> or a CSS background).
_NOT_IMAGE_SRC = frozenset({"script", "video", "audio", "source", "track"})
_MEDIA_ELEMENTS = frozenset({"source", "style", "link"})  # whose media="" is a media query list
_EXTENSION = re.compile(r"\.([a-z0-9]{2,5})$", re.I)
# The character references ``html.unescape`` resolves (the tokenizer decodes attributes with it).
_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")

CssKind = Literal["sheet", "style", "media"]
"""A stylesheet, a style attribute's declarations, or a media attribute's query list."""


@dataclass
class Index:
    """Token -> slugs lookups built from the detector table."""

    by_kind: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    def get(self, kind: str, key: str) -> tuple[str, ...]:
        return self.by_kind.get(kind, {}).get(key, ())


@cache
def index() -> Index:
    idx = Index()
    for slug, detector in DETECTORS.items():
        table = idx.by_kind.setdefault(detector.kind, {})
        for key in detector.keys:
            table[key] = (*table.get(key, ()), slug)
    return idx


Gates = tuple[str, ...]
"""The features a stylesheet rule depends on to apply at all: ``html-style``, the at-rules
around it (``css-at-media``...) and its selector's features. A client that lacks one of them
never applies the rule, so what the rule's declarations use does not matter there."""


@dataclass
class Detection:
    """Features found: slug -> count of uses and the first ``MAX_LOCATIONS`` source offsets,
    and for uses in a stylesheet, the gates of the rule they are in (by offset)."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    offsets: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    gates: dict[int, Gates] = field(default_factory=dict)
    css_chars: int = 0
    css_truncated: bool = False
    html_truncated: bool = False

    def add(self, slugs: Iterable[str], offset: int, gates: Gates = ()) -> None:
        for slug in slugs:
            where = self.offsets[slug]
            if offset in where:  # one token seen by two rules (``&`` in a nested rule)
                continue
            self.counts[slug] += 1
            if len(where) < MAX_LOCATIONS:
                where.append(offset)
        if gates:
            self.gates[offset] = gates

    @property
    def slugs(self) -> list[str]:
        return sorted(self.counts)


def image_formats(url: str) -> list[str]:
    """Image-format keys of a URL: the data: subtype (and 'base64'), else the file extension."""
    url = url.strip()
    if url[:5].lower() == "data:":
        keys: list[str] = []
        match = _DATA_IMAGE.match(url)
        if match:
            keys.append(match.group(1).lower())
        header = url.split(",", 1)[0].lower()
        if header.endswith(";base64"):
            keys.append("base64")
        return keys
    path = url.split("#", 1)[0].split("?", 1)[0]
    match = _EXTENSION.search(path)
    return [match.group(1).lower()] if match else []


def srcset_urls(srcset: str) -> list[str]:
    urls = []
    for candidate in srcset.split(","):
        parts = candidate.split()
        if parts:
            urls.append(parts[0])
    return urls


class RawOffsets:
    """Maps offsets in an attribute's decoded value to offsets in its value as written.

    A character reference (``&quot;``) maps to its ``&``; text around it maps one to one.
    """

    def __init__(self, raw: str) -> None:
        decoded_starts: list[int] = []
        raw_starts: list[int] = []
        literal: list[bool] = []

        def segment(decoded_at: int, raw_at: int, is_literal: bool) -> None:
            decoded_starts.append(decoded_at)
            raw_starts.append(raw_at)
            literal.append(is_literal)

        decoded = written = 0
        for match in _CHARREF.finditer(raw):
            if match.start() > written:
                segment(decoded, written, True)
                decoded += match.start() - written
            text = match.group()
            replacement = html.unescape(text)
            tail = _literal_tail(text)
            if tail < len(text):
                segment(decoded, match.start(), False)
            if tail:
                segment(decoded + len(replacement) - tail, match.end() - tail, True)
            decoded += len(replacement)
            written = match.end()
        segment(decoded, written, True)
        self._decoded_starts = decoded_starts
        self._raw_starts = raw_starts
        self._literal = literal

    def __call__(self, offset: int) -> int:
        i = max(bisect_right(self._decoded_starts, offset) - 1, 0)
        start = self._raw_starts[i]
        return start + offset - self._decoded_starts[i] if self._literal[i] else start


def _literal_tail(ref: str) -> int:
    """How many trailing characters of a matched reference ``html.unescape`` leaves as they
    are: a named reference without ``;`` decodes its longest known prefix (``&ampx`` is
    ``&x``); an unknown name stays as written."""
    name = ref[1:]
    if name.startswith("#") or name in _HTML5_ENTITIES:
        return 0
    for end in range(len(name) - 1, 1, -1):
        if name[:end] in _HTML5_ENTITIES:
            return len(name) - end
    return len(ref)


class _CssWalker:
    """Walks one piece of CSS (a stylesheet or a style attribute) and records features."""

    def __init__(self, found: Detection | _Recorder, idx: Index, css: str, base: int) -> None:
        self.found = found
        self.idx = idx
        self.base = base
        self.gates: Gates = ()
        """The gates of the rule being walked."""
        self.selector_slugs: list[str] | None = None
        """While a selector is walked: the features it uses."""
        starts = [0]
        starts.extend(m.end() for m in _CSS_NEWLINE.finditer(css))
        self.starts = starts

    def offset(self, node: Any) -> int:
        """Source offset of a tinycss2 node (its line/column are 1-based, within the CSS)."""
        line = getattr(node, "source_line", 1) or 1
        column = getattr(node, "source_column", 1) or 1
        if line > len(self.starts):
            return self.base
        return self.base + self.starts[line - 1] + column - 1

    def hit(self, kind: str, key: str, node: Any) -> None:
        slugs = self.idx.get(kind, key)
        if slugs:
            self.found.add(slugs, self.offset(node), self.gates)
            if self.selector_slugs is not None:
                self.selector_slugs.extend(slugs)

    def stylesheet(self, css: str) -> None:
        nodes = tinycss2.parse_stylesheet(css, skip_comments=False, skip_whitespace=True)
        self.rules(nodes, "top", ("html-style",))

    def block(self, css: str) -> None:
        self.rules(tinycss2.parse_blocks_contents(css, skip_comments=False), "style", ())

    def rules(self, nodes: list[Any], context: str, gates: Gates) -> None:
        """Rules and declarations, iteratively: nesting depth costs no recursion."""
        stack: list[tuple[list[Any], str, Gates]] = [(nodes, context, gates)]
        while stack:
            checkpoint()
            items, where, self.gates = stack.pop()
            for node in items:
                kind = node.type
                if kind == "declaration":
                    self.declaration(node, fonts=where == "font-face")
                elif kind == "comment":
                    self.hit("special", "css-comments", node)
                elif kind == "qualified-rule":
                    if _template_tag(node):  # {% if %}, {{ var }}: a template's, not CSS
                        continue
                    if where == "style":
                        self.hit("special", "css-nesting", node)
                    rule_gates = self.gates
                    if where != "keyframes":
                        self.selector_slugs = []
                        self.selector_list(node.prelude)
                        rule_gates = _gates(self.gates, self.selector_slugs)
                        self.selector_slugs = None
                    self.comments_in(node.prelude)
                    content = tinycss2.parse_blocks_contents(node.content, skip_comments=False)
                    stack.append((content, "style", rule_gates))
                elif kind == "at-rule":
                    self.at_rule(node, where, stack)

    def at_rule(self, node: Any, where: str, stack: list[tuple[list[Any], str, Gates]]) -> None:
        name = _VENDOR.sub("", node.lower_at_keyword)
        self.selector_slugs = []  # the at-rule and its query's features gate its content
        self.hit("at-rule", name, node)
        if where == "style" and name in _RULE_GROUPS:
            self.hit("special", "css-nesting", node)
        if name in ("media", "import"):  # @import url(x) (prefers-color-scheme: dark)
            self.media_query(node.prelude)
        if name == "media" and _narrow_only(node.prelude):
            self.selector_slugs.append(MOBILE_ONLY)
        gates = _gates(self.gates, self.selector_slugs)
        self.selector_slugs = None
        outer, self.gates = self.gates, gates  # a unit in a query only matters with the query
        self.values(node.prelude, prop_name="")
        self.gates = outer
        if node.content is None:
            return
        content = tinycss2.parse_blocks_contents(node.content, skip_comments=False)
        if name == "keyframes":
            stack.append((content, "keyframes", gates))
        elif name in _RULE_GROUPS:
            stack.append((content, "top" if where != "style" else "style", gates))
        elif name == "font-face":  # descriptors: its src urls are fonts, not images
            stack.append((content, "font-face", gates))
        else:  # @page...: declarations
            stack.append((content, "at-block", gates))

    def comments_in(self, tokens: list[Any]) -> None:
        for token in tokens:
            if token.type == "comment":
                self.hit("special", "css-comments", token)

    def declaration(self, decl: Any, fonts: bool = False) -> None:
        name: str = decl.lower_name
        if name.startswith("--"):
            self.hit("special", "css-variables", decl)
        else:
            bare = _VENDOR.sub("", name)
            self.hit("property", bare, decl)
            name = bare
        if decl.important:
            self.hit("important", "!important", decl)
        self.values(decl.value, prop_name=name, fonts=fonts)

    def values(self, tokens: list[Any], prop_name: str, fonts: bool = False) -> None:
        """Keywords, units, functions and URLs of a value; ``fonts``: an ``@font-face``
        descriptor, whose URLs are fonts (a ``data:`` or ``.svg`` font is no image)."""
        stack: list[Any] = list(tokens)
        idx = self.idx
        while stack:
            token = stack.pop()
            kind = token.type
            if kind == "ident":
                keyword = _VENDOR.sub("", token.lower_value)  # display: -webkit-flex
                for key in (f"{prop_name}={keyword}", f"*={keyword}"):
                    slugs = idx.get("value", key)
                    if slugs:
                        self.found.add(slugs, self.offset(token), self.gates)
            elif kind == "dimension":
                self.hit("unit", token.lower_unit, token)
            elif kind == "percentage":
                self.hit("unit", "%", token)
            elif kind == "function":
                fname = _VENDOR.sub("", token.lower_name)
                if fname == "var":
                    self.hit("special", "css-variables", token)
                elif fname == "url":
                    if not fonts:
                        self.url(_string_argument(token.arguments), token)
                else:
                    if fname == "image-set":  # image-set("a.avif" 1x): a string is a URL
                        for arg in token.arguments:
                            if arg.type == "string":
                                self.url(arg.value, arg)
                    self.hit("function", fname, token)
                    self.hit("value", f"fn={fname}", token)
                stack.extend(token.arguments)
            elif kind == "url":
                if not fonts:
                    self.url(token.value, token)
            elif kind in ("() block", "[] block", "{} block"):
                stack.extend(token.content)
            elif kind == "comment":
                self.hit("special", "css-comments", token)

    def url(self, url: str, token: Any) -> None:
        for key in image_formats(url):
            self.hit("image", key, token)

    def media_query(self, prelude: list[Any]) -> None:
        stack: list[Any] = list(prelude)
        while stack:
            token = stack.pop()
            if token.type == "() block":
                first = next((t for t in token.content if t.type != "whitespace"), None)
                if first is not None and first.type == "ident":
                    feature = _VENDOR.sub("", first.lower_value)
                    if feature.startswith(("min-", "max-")):
                        feature = _VENDOR.sub("", feature[4:])
                    self.hit("media-feature", feature, first)
                stack.extend(t for t in token.content if t.type == "() block")

    def selector_list(self, prelude: list[Any]) -> None:
        """A comma-separated selector list, iteratively: the arguments of ``:not()``,
        ``:is()``, ``:has()``... go on a stack, so nesting depth costs no recursion."""
        stack: list[list[Any]] = [prelude]
        while stack:
            tokens = stack.pop()
            group: list[Any] = []
            for token in tokens:
                if token.type == "literal" and token.value == ",":
                    self.hit("selector", "grouping", token)
                    self.selector(group, stack)
                    group = []
                else:
                    group.append(token)
            self.selector(group, stack)

    def selector(self, tokens: list[Any], nested: list[list[Any]]) -> None:
        """One complex selector; selector lists inside it are appended to ``nested``."""
        significant = [t for t in tokens if t.type != "comment"]
        while significant and significant[0].type == "whitespace":
            significant.pop(0)
        while significant and significant[-1].type == "whitespace":
            significant.pop()
        simple = 0  # simple selectors in the current compound (for chaining)
        after_combinator = True
        i = 0
        count = len(significant)
        while i < count:
            token = significant[i]
            kind = token.type
            if kind == "whitespace":
                nxt = significant[i + 1] if i + 1 < count else None
                is_explicit = (
                    nxt is not None and nxt.type == "literal" and nxt.value in _COMBINATORS
                )
                if not is_explicit and not after_combinator:
                    self.hit("selector", "descendant", token)
                    simple, after_combinator = self._end_compound(simple, token), True
                i += 1
                continue
            if kind == "literal" and token.value in _COMBINATORS:
                self.hit("selector", _COMBINATORS[token.value], token)
                simple, after_combinator = self._end_compound(simple, token), True
                i += 1
                continue
            after_combinator = False
            if kind == "ident":
                self.hit("selector", "type", token)
                simple += 1
            elif kind == "hash":
                self.hit("selector", "id", token)
                simple += 1
            elif kind == "[] block":
                self.hit("selector", "attribute", token)
                simple += 1
            elif kind == "literal" and token.value == "*":
                self.hit("selector", "universal", token)
                simple += 1
            elif kind == "literal" and token.value == "&":
                self.hit("special", "css-nesting", token)
                simple += 1
            elif kind == "literal" and token.value == ".":
                if i + 1 < count and significant[i + 1].type == "ident":
                    self.hit("selector", "class", token)
                    simple += 1
                    i += 1
            elif kind == "literal" and token.value == ":":
                i = self._pseudo(significant, i, nested)
            i += 1
        self._end_compound(simple, significant[-1] if significant else None)

    def _end_compound(self, simple: int, token: Any) -> int:
        if simple >= 2 and token is not None:
            self.hit("selector", "chaining", token)
        return 0

    def _pseudo(self, tokens: list[Any], i: int, nested: list[list[Any]]) -> int:
        """Handle ``:name``, ``:name(...)`` or ``::name`` at ``tokens[i]``; return last index.

        The argument of a selector function (``:not(...)``) is appended to ``nested``."""
        double = (
            i + 1 < len(tokens) and tokens[i + 1].type == "literal" and tokens[i + 1].value == ":"
        )
        j = i + 2 if double else i + 1
        if j >= len(tokens):
            return j
        target = tokens[j]
        if target.type == "ident":
            name = _VENDOR.sub("", target.lower_value)
        elif target.type == "function":
            name = _VENDOR.sub("", target.lower_name)
            if name in _SELECTOR_FUNCTIONS:
                nested.append(target.arguments)
        else:
            return j
        if double or name in _SINGLE_COLON_PSEUDO_ELEMENTS:
            self.hit("pseudo-element", name, tokens[i])
        else:
            self.hit("pseudo-class", name, tokens[i])
        return j


MOBILE_ONLY = "@narrow-screens"
"""The gate of rules under a ``max-width`` query for phone widths (``max-width: 480px``):
desktop and webmail clients, whose windows are wider, never apply them."""
NARROW_MAX_PX = 640.0


def _narrow_only(prelude: list[Any]) -> bool:
    """Whether every query of a media query list asks for a width of at most
    ``NARROW_MAX_PX`` (``max-width``/``max-device-width`` in px)."""
    queries: list[list[Any]] = [[]]
    for token in prelude:
        if token.type == "literal" and token.value == ",":
            queries.append([])
        else:
            queries[-1].append(token)
    for query in queries:
        narrow = False
        for token in query:
            if token.type != "() block":
                continue
            parts = [t for t in token.content if t.type not in ("whitespace", "comment")]
            if (
                len(parts) == 3
                and parts[0].type == "ident"
                and parts[0].lower_value in ("max-width", "max-device-width")
                and parts[2].type == "dimension"
                and parts[2].lower_unit == "px"
                and parts[2].value <= NARROW_MAX_PX
            ):
                narrow = True
        if not narrow:
            return False
    return bool(prelude)


def _gates(outer: Gates, slugs: list[str]) -> Gates:
    """``outer`` and ``slugs``, each once, in order (the tuples are shared by every hit)."""
    if not slugs:
        return outer
    return tuple(dict.fromkeys((*outer, *slugs)))


def _template_tag(node: Any) -> bool:
    """A "rule" that is template syntax: ``{% ... %}`` or ``{{ ... }}`` in CSS."""
    first = next((t for t in node.content if t.type != "whitespace"), None)
    if first is None:
        return False
    return bool((first.type == "literal" and first.value == "%") or first.type == "{} block")


def _string_argument(arguments: list[Any]) -> str:
    for token in arguments:
        if token.type in ("string", "ident", "url"):
            return str(token.value)
    return ""


class _HtmlWalker:
    def __init__(self, doc: HtmlDocument, found: Detection, idx: Index) -> None:
        self.doc = doc
        self.found = found
        self.idx = idx

    def run(self) -> None:
        scan = self.doc.scan
        self.found.html_truncated = scan.truncated
        for comment in scan.comments:
            self.found.add(self.idx.get("special", "html-comments"), comment.offset)
        for doctype in scan.doctypes:
            if _DOCTYPE_HTML5.match(doctype.text.strip()):
                self.found.add(self.idx.get("special", "html5-doctype"), doctype.offset)
        for i, el in enumerate(scan.elements):
            if not i & 255:
                checkpoint()
            self.element(el)
        for style in scan.styles:
            self.css(style.text, style.offset, None, "sheet")

    def special(self, name: str, offset: int) -> None:
        self.found.add(self.idx.get("special", name), offset)

    def element(self, el: StartTag) -> None:
        idx = self.idx
        add = self.found.add
        name = el.name
        slugs = idx.get("element", name)
        if slugs:
            add(slugs, el.offset)
        for attr in el.attrs.values():
            slugs = idx.get("attribute", attr.name)
            if slugs:
                add(slugs, attr.offset)
            if attr.name == "usemap":
                add(idx.get("element", "@usemap"), attr.offset)
            elif attr.name == "style" and attr.value.strip():
                if ":" not in name:  # v:rect, o:p: VML and Office styles, not CSS
                    self.css(attr.value, *_value_position(attr), "style")
            elif attr.name == "media" and name in _MEDIA_ELEMENTS and attr.value.strip():
                self.css(attr.value, *_value_position(attr), "media")
            elif attr.name in ("src", "background", "poster") and attr.value:
                if attr.name == "src" and name in _NOT_IMAGE_SRC:
                    continue
                if name != "input" or (el.get("type") or "").strip().lower() == "image":
                    self.image(attr.value, attr.offset)
            elif attr.name == "srcset" and attr.value:
                for url in srcset_urls(attr.value):
                    self.image(url, attr.offset)
        if name == "input":
            kind = (el.get("type") or "text").strip().lower()
            self.special(f"input-{kind}", el.offset)
        elif name == "button":
            kind = (el.get("type") or "submit").strip().lower()
            self.special(f"button-{kind}", el.offset)
        elif name == "meta":
            meta_name = (el.get("name") or "").strip().lower()
            if meta_name in ("color-scheme", "supported-color-schemes"):
                self.special("meta-color-scheme", el.offset)
        elif name in ("a", "area"):
            href_attr = el.attribute("href")
            if href_attr is not None:
                href = href_attr.value.strip()
                if len(href) > 1 and href.startswith("#"):
                    self.special("anchor-links", href_attr.offset)
                elif href[:7].lower() == "mailto:":
                    self.special("mailto-links", href_attr.offset)
        elif name == "html" and any(a in ("amp4email", "⚡4email", "⚡", "amp") for a in el.attrs):
            self.special("amp", el.offset)

    def image(self, url: str, offset: int) -> None:
        for key in image_formats(url):
            slugs = self.idx.get("image", key)
            if slugs:
                self.found.add(slugs, offset)

    def linked(self, css: str, link_offset: int) -> None:
        """A linked stylesheet: every feature is placed at its ``<link>`` tag."""
        for slugs, _offset, _gates in self._features(css, "sheet"):
            self.found.add(slugs, link_offset)

    def css(self, css: str, base: int, raw: str | None, kind: CssKind) -> None:
        """Features of ``css`` placed at ``base`` plus their offset; ``raw``: the attribute
        value as written when ``css`` is its decoded text, whose offsets are mapped back
        (``RawOffsets``, built only when there is a feature to place)."""
        hits = self._features(css, kind)
        to_raw = RawOffsets(raw) if raw is not None and hits else None
        add = self.found.add
        for slugs, offset, gates in hits:
            add(slugs, base + (to_raw(offset) if to_raw is not None else offset), gates)

    def _features(self, css: str, kind: CssKind) -> Hits:
        """Features of ``css`` within what is left of the per-document CSS budget."""
        room = MAX_CSS_CHARS - self.found.css_chars
        if room <= 0:
            self.found.css_truncated = True
            return ()
        if len(css) > room:
            css = css[:room]
            self.found.css_truncated = True
        self.found.css_chars += len(css)
        return css_features(css, kind)


def _value_position(attr: Attr) -> tuple[int, str | None]:
    """Where an attribute's value starts in the source, and the value as written when it
    differs from the decoded one (None when they are the same)."""
    if attr.value_offset < 0:
        return attr.offset, None
    if attr.raw_value == attr.value:
        return attr.value_offset, None
    return attr.value_offset, attr.raw_value


class _Recorder:
    """Collects (slugs, offset, gates) relative to the start of one piece of CSS."""

    def __init__(self) -> None:
        self.hits: list[tuple[tuple[str, ...], int, Gates]] = []

    def add(self, slugs: Iterable[str], offset: int, gates: Gates = ()) -> None:
        # The index's own tuples: a cached hit costs one triple and one int, not a new tuple.
        self.hits.append((slugs if isinstance(slugs, tuple) else tuple(slugs), offset, gates))


Hits = tuple[tuple[tuple[str, ...], int, Gates], ...]
"""(slugs, offset, gates) found in one piece of CSS, offsets relative to its start."""

MAX_CACHED_CSS_CHARS = 8 * 1024
"""Longer CSS is analysed every time: a distinct 300 KB sheet would hold ~10 MB of hits."""
CSS_CACHE_BYTES = 16 * 1024 * 1024
"""Estimated memory of all cached entries (keys and hits); least recently used go first."""
_HIT_BYTES = 100  # one (slugs, offset) pair and its int; the slug tuples are shared


class CssCacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int
    """The byte budget (``functools.lru_cache`` counts entries; this counts bytes)."""
    currsize: int
    """Entries."""
    bytes: int
    """Estimated bytes of the entries."""
    uncached: int
    """Calls with CSS over ``max_chars``, analysed without caching."""


def _analyse_css(css: str, kind: CssKind) -> Hits:
    recorder = _Recorder()
    walker = _CssWalker(recorder, index(), css, 0)
    if kind == "style":
        walker.block(css)
    elif kind == "media":
        walker.media_query(tinycss2.parse_component_value_list(css))
    else:
        walker.stylesheet(css)
    return tuple(recorder.hits)


class CssFeatures:
    """Features of one stylesheet, style attribute or media attribute, with offsets relative
    to its start; ``css_features(css, kind)``.

    Small CSS is cached, an LRU bounded by estimated bytes: the same inline styles repeat
    across a template and the same small sheets across the mails of one sender. CSS over
    ``max_chars`` is never kept, so a stream of big distinct sheets costs no memory.
    Thread-safe (the check runs in worker threads).
    """

    def __init__(self, max_chars: int = MAX_CACHED_CSS_CHARS, max_bytes: int = CSS_CACHE_BYTES):
        self.max_chars = max_chars
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], tuple[Hits, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = self._hits = self._misses = self._uncached = 0

    def __call__(self, css: str, kind: CssKind) -> Hits:
        if len(css) > self.max_chars:
            with self._lock:
                self._uncached += 1
            return _analyse_css(css, kind)
        key = (kind, css)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self._hits += 1
                return entry[0]
        hits = _analyse_css(css, kind)
        size = sys.getsizeof(css) + sys.getsizeof(hits) + _HIT_BYTES * len(hits) + 100
        with self._lock:
            self._misses += 1
            if key not in self._entries and size <= self.max_bytes:
                self._entries[key] = (hits, size)
                self._bytes += size
                while self._bytes > self.max_bytes:
                    _, (_, dropped) = self._entries.popitem(last=False)
                    self._bytes -= dropped
        return hits

    def cache_info(self) -> CssCacheInfo:
        with self._lock:
            return CssCacheInfo(
                self._hits,
                self._misses,
                self.max_bytes,
                len(self._entries),
                self._bytes,
                self._uncached,
            )

    def cache_clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = self._hits = self._misses = self._uncached = 0


css_features = CssFeatures()


def detect(doc: HtmlDocument, linked_css: Iterable[tuple[str, int]] = ()) -> Detection:
    """Every feature ``doc`` uses, with where.

    ``linked_css``: the text of linked stylesheets, each with the source offset of the
    ``<link>`` that pulls it in; their features are placed at that tag.
    """
    found = Detection()
    walker = _HtmlWalker(doc, found, index())
    walker.run()
    for css, offset in linked_css:
        walker.linked(css, offset)
    return found
