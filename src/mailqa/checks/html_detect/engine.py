"""Find every caniemail feature an HTML document uses, with the source offset of each use.

One pass over the tokenizer's start tags, comments and doctypes, and one tinycss2 parse of
each ``<style>`` block and ``style=""`` attribute. Lookups are by exact token through
indexes built once from ``DETECTORS``. Work is bounded: at most ``MAX_CSS_CHARS`` of CSS per
document and ``MAX_LOCATIONS`` offsets kept per feature (all uses are still counted).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import tinycss2

from mailqa.checks.html_detect.detectors import DETECTORS
from mailqa.core.html import HtmlDocument
from mailqa.core.markup import StartTag

MAX_CSS_CHARS = 300_000  # ~3 s of tinycss2 on dense CSS; Gmail clips whole mails at 102 KB
MAX_LOCATIONS = 50

_VENDOR = re.compile(r"^-(?:webkit|moz|ms|o)-")
_CSS_NEWLINE = re.compile(r"\r\n|[\r\n\f]")
_LEGACY_PSEUDO_ELEMENTS = frozenset({"before", "after", "first-letter", "first-line"})
_SELECTOR_FUNCTIONS = frozenset({"not", "has", "is", "where", "matches", "any"})
_RULE_GROUPS = frozenset({"media", "supports", "container", "layer", "document", "scope"})
_COMBINATORS = {">": "child", "+": "adjacent-sibling", "~": "general-sibling"}
_DOCTYPE_HTML5 = re.compile(r"^doctype\s+html\s*$", re.I)
_DATA_IMAGE = re.compile(r"^data:image/([a-z0-9.+-]+)", re.I)
_EXTENSION = re.compile(r"\.([a-z0-9]{2,5})$", re.I)


@dataclass
class Index:
    """Token -> slugs lookups built from the detector table."""

    by_kind: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def get(self, kind: str, key: str) -> list[str]:
        return self.by_kind.get(kind, {}).get(key, [])


@cache
def index() -> Index:
    idx = Index()
    for slug, detector in DETECTORS.items():
        table = idx.by_kind.setdefault(detector.kind, {})
        for key in detector.keys:
            table.setdefault(key, []).append(slug)
    return idx


@dataclass
class Detection:
    """Features found: slug -> count of uses and the first ``MAX_LOCATIONS`` source offsets."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    offsets: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    css_chars: int = 0
    css_truncated: bool = False
    html_truncated: bool = False

    def add(self, slugs: Iterable[str], offset: int) -> None:
        for slug in slugs:
            where = self.offsets[slug]
            if offset in where:  # one token seen by two rules (``&`` in a nested rule)
                continue
            self.counts[slug] += 1
            if len(where) < MAX_LOCATIONS:
                where.append(offset)

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


class _CssWalker:
    """Walks one piece of CSS (a stylesheet or a style attribute) and records features."""

    def __init__(self, found: Detection | _Recorder, idx: Index, css: str, base: int) -> None:
        self.found = found
        self.idx = idx
        self.base = base
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
            self.found.add(slugs, self.offset(node))

    def stylesheet(self, css: str) -> None:
        nodes = tinycss2.parse_stylesheet(css, skip_comments=False, skip_whitespace=True)
        self.rules(nodes, "top")

    def block(self, css: str) -> None:
        self.rules(tinycss2.parse_blocks_contents(css, skip_comments=False), "style")

    def rules(self, nodes: list[Any], context: str) -> None:
        """Rules and declarations, iteratively: nesting depth costs no recursion."""
        stack: list[tuple[list[Any], str]] = [(nodes, context)]
        while stack:
            items, where = stack.pop()
            for node in items:
                kind = node.type
                if kind == "declaration":
                    self.declaration(node)
                elif kind == "comment":
                    self.hit("special", "css-comments", node)
                elif kind == "qualified-rule":
                    if where == "style":
                        self.hit("special", "css-nesting", node)
                    if where != "keyframes":
                        self.selector_list(node.prelude)
                    self.comments_in(node.prelude)
                    content = tinycss2.parse_blocks_contents(node.content, skip_comments=False)
                    stack.append((content, "style"))
                elif kind == "at-rule":
                    self.at_rule(node, where, stack)

    def at_rule(self, node: Any, where: str, stack: list[tuple[list[Any], str]]) -> None:
        name = _VENDOR.sub("", node.lower_at_keyword)
        self.hit("at-rule", name, node)
        if where == "style" and name in _RULE_GROUPS:
            self.hit("special", "css-nesting", node)
        if name == "media":
            self.media_query(node.prelude)
        self.values(node.prelude, prop_name="")
        if node.content is None:
            return
        content = tinycss2.parse_blocks_contents(node.content, skip_comments=False)
        if name == "keyframes":
            stack.append((content, "keyframes"))
        elif name in _RULE_GROUPS:
            stack.append((content, "top" if where != "style" else "style"))
        else:  # @font-face, @page...: declarations
            stack.append((content, "at-block"))

    def comments_in(self, tokens: list[Any]) -> None:
        for token in tokens:
            if token.type == "comment":
                self.hit("special", "css-comments", token)

    def declaration(self, decl: Any) -> None:
        name: str = decl.lower_name
        if name.startswith("--"):
            self.hit("special", "css-variables", decl)
        else:
            bare = _VENDOR.sub("", name)
            self.hit("property", bare, decl)
            name = bare
        if decl.important:
            self.hit("important", "!important", decl)
        self.values(decl.value, prop_name=name)

    def values(self, tokens: list[Any], prop_name: str) -> None:
        stack: list[Any] = list(tokens)
        idx = self.idx
        while stack:
            token = stack.pop()
            kind = token.type
            if kind == "ident":
                keyword = token.lower_value
                for key in (f"{prop_name}={keyword}", f"*={keyword}"):
                    slugs = idx.get("value", key)
                    if slugs:
                        self.found.add(slugs, self.offset(token))
            elif kind == "dimension":
                self.hit("unit", token.lower_unit, token)
            elif kind == "percentage":
                self.hit("unit", "%", token)
            elif kind == "function":
                fname = _VENDOR.sub("", token.lower_name)
                if fname == "var":
                    self.hit("special", "css-variables", token)
                elif fname == "url":
                    self.url(_string_argument(token.arguments), token)
                else:
                    self.hit("function", fname, token)
                    self.hit("value", f"fn={fname}", token)
                stack.extend(token.arguments)
            elif kind == "url":
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
        groups: list[list[Any]] = [[]]
        for token in prelude:
            if token.type == "literal" and token.value == ",":
                self.hit("selector", "grouping", token)
                groups.append([])
            else:
                groups[-1].append(token)
        for group in groups:
            self.selector(group)

    def selector(self, tokens: list[Any]) -> None:
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
                i = self._pseudo(significant, i)
            i += 1
        self._end_compound(simple, significant[-1] if significant else None)

    def _end_compound(self, simple: int, token: Any) -> int:
        if simple >= 2 and token is not None:
            self.hit("selector", "chaining", token)
        return 0

    def _pseudo(self, tokens: list[Any], i: int) -> int:
        """Handle ``:name``, ``:name(...)`` or ``::name`` at ``tokens[i]``; return last index."""
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
                self.selector_list(target.arguments)
        else:
            return j
        if double or name in _LEGACY_PSEUDO_ELEMENTS:
            self.hit("pseudo-element", name, tokens[i])
        else:
            self.hit("pseudo-class", name, tokens[i])
        return j


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
        for el in scan.elements:
            self.element(el)
        for style in scan.styles:
            self.css(style.text, style.offset, inline=False)

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
                base = attr.value_offset if attr.value_offset >= 0 else attr.offset
                self.css(attr.value, base, inline=True)
            elif attr.name in ("src", "background", "poster") and attr.value:
                if name != "script" and (name != "input" or (el.get("type") or "") == "image"):
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
        for slugs, _offset in self._features(css, inline=False):
            self.found.add(slugs, link_offset)

    def css(self, css: str, base: int, *, inline: bool) -> None:
        add = self.found.add
        for slugs, offset in self._features(css, inline=inline):
            add(slugs, base + offset)

    def _features(self, css: str, *, inline: bool) -> tuple[tuple[tuple[str, ...], int], ...]:
        """Features of ``css`` within what is left of the per-document CSS budget."""
        room = MAX_CSS_CHARS - self.found.css_chars
        if room <= 0:
            self.found.css_truncated = True
            return ()
        if len(css) > room:
            css = css[:room]
            self.found.css_truncated = True
        self.found.css_chars += len(css)
        return css_features(css, inline)


class _Recorder:
    """Collects (slugs, offset) pairs relative to the start of one piece of CSS."""

    def __init__(self) -> None:
        self.hits: list[tuple[tuple[str, ...], int]] = []

    def add(self, slugs: Iterable[str], offset: int) -> None:
        self.hits.append((tuple(slugs), offset))


@lru_cache(maxsize=4096)
def css_features(css: str, inline: bool) -> tuple[tuple[tuple[str, ...], int], ...]:
    """Features of one stylesheet or style attribute, with offsets relative to its start.

    Cached: the same inline styles repeat across a template, and the same stylesheets
    across the mails of one sender.
    """
    recorder = _Recorder()
    walker = _CssWalker(recorder, index(), css, 0)
    if inline:
        walker.block(css)
    else:
        walker.stylesheet(css)
    return tuple(recorder.hits)


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
