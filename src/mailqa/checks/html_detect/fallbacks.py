"""Fallbacks: where a use of a feature is covered for the clients that lack the feature.

Email developers rarely rely on one feature alone where clients differ. For one use of a
feature (a slug at a source offset), ``Fallbacks.covers`` names the usual fallbacks present:

- a background image with a background colour on the same element or rule (``bgcolor``,
  ``background-color``): a client without the image shows the colour, so text over it stays
  readable (degraded); with a VML background for Outlook (``v:fill``, ``v:image``, a filled
  ``v:rect``) Outlook draws the image too;
- an image format some clients lack, offered through ``<picture><source srcset>`` or ``srcset``
  with a JPEG, PNG or GIF ``<img src>``: the others load that;
- ``<video>`` with an ``<img>`` inside: clients without video show that image;
- hybrid layouts: widths and ``display`` between the opening and closing of an Outlook-only
  ghost table, which lays the content out in Outlook;
- hiding chains (hidden preheaders): ``display:none``, ``max-height:0``, ``overflow:hidden``,
  ``mso-hide:all``, ``visibility:hidden``, ``opacity:0``, zero or 1px sizes on one element or
  rule; a client that lacks one link of the chain is covered when another link works there.

A cover says for which clients (None: all) and whether nothing is lost (``full``) or an
acceptable base is shown instead (the colour without the image).
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import tinycss2
import tinycss2.color3

from mailqa.checks.html_detect.conditional import OUTLOOK_CLIENTS, Conditionals
from mailqa.checks.html_detect.detectors import DETECTORS
from mailqa.checks.html_detect.engine import image_formats
from mailqa.core.html import HtmlDocument
from mailqa.core.markup import StartTag


@dataclass(frozen=True)
class Cover:
    """A fallback present for one use of a feature."""

    clients: frozenset[str] | None
    """The clients it covers; None: every client."""
    full: bool
    """Nothing is lost (True) or an acceptable base is shown instead (False)."""
    reason: str


BACKGROUND_IMAGES = frozenset({"css-background-image", "html-background"})
CLASSIC_FORMATS = frozenset({"jpg", "jpeg", "jpe", "png", "gif"})
HYBRID = frozenset(
    {"css-max-width", "css-min-width", "css-width", "css-display", "css-float", "css-overflow"}
)
CHAIN = frozenset(
    {
        "html-hidden",
        "css-display",
        "css-display-none",
        "css-max-height",
        "css-height",
        "css-overflow",
        "css-visibility",
        "css-opacity",
        "css-font-size",
        "css-line-height",
        "css-width",
        "css-max-width",
    }
)
_ZERO = frozenset({"0", "0px", "0em", "0rem", "0%", "0pt"})
_TINY = _ZERO | {"1px"}
_NO_COLOUR = frozenset({"", "transparent", "none", "inherit", "initial", "unset", "currentcolor"})
_PICTURE_END = re.compile(r"</picture[\s>]", re.I)
_VIDEO_END = re.compile(r"</video[\s>]", re.I)
MAX_BLOCK_CHARS = 8_000
"""Longest rule block or style attribute read declaration by declaration."""
MAX_BLOCK_SEARCH = 20_000
"""How far back or ahead of a use in a stylesheet its rule's braces are looked for."""

Supported = Callable[[str], frozenset[str]]
"""The target clients that support a feature slug, at least in part."""
INITIAL_VALUES: dict[str, tuple[str, frozenset[str]]] = {
    "css-float": ("float", frozenset({"none", "initial", "unset"})),
    "css-position": ("position", frozenset({"static", "initial", "unset"})),
    "css-overflow": ("overflow", frozenset({"visible", "initial", "unset"})),
    "css-max-height": ("max-height", frozenset({"none", "initial", "unset"})),
    "css-max-width": ("max-width", frozenset({"none", "initial", "unset"})),
    "css-min-width": ("min-width", frozenset({"0", "0px", "auto", "initial", "unset"})),
    "css-min-height": ("min-height", frozenset({"0", "0px", "auto", "initial", "unset"})),
    "css-visibility": ("visibility", frozenset({"visible", "initial", "unset"})),
    "css-opacity": ("opacity", frozenset({"1", "initial", "unset"})),
    "css-clear": ("clear", frozenset({"none", "initial", "unset"})),
    "css-z-index": ("z-index", frozenset({"auto", "initial", "unset"})),
}
"""Properties set to their initial value: a client that ignores the declaration renders
what it asks for anyway (``float: none`` resetting a float only matters where the float
itself applies, and that use is judged on its own)."""


@lru_cache(maxsize=4096)
def declarations(css: str) -> dict[str, str]:
    """Property -> value (serialised, lower-cased) of a declaration list; the last wins.

    Values with blocks or functions inside are left out: no fallback reads them, and
    serialising deep nesting would recurse.
    """
    found: dict[str, str] = {}
    for node in tinycss2.parse_blocks_contents(css, skip_comments=True, skip_whitespace=True):
        if node.type == "declaration" and _shallow(node.value):
            found[node.lower_name] = tinycss2.serialize(node.value).strip().lower()
    return found


_FLAT = frozenset(
    {"ident", "dimension", "number", "percentage", "hash", "whitespace", "literal", "string", "url"}
)


def _shallow(tokens: list[Any]) -> bool:
    """Plain tokens and functions of plain tokens (``rgb(0, 0, 0)``, ``url("x")``) only."""
    return all(
        t.type in _FLAT or (t.type == "function" and all(a.type in _FLAT for a in t.arguments))
        for t in tokens
    )


def _has_colour(value: str) -> bool:
    if value in _NO_COLOUR:
        return False

    for token in tinycss2.parse_component_value_list(value):
        if token.type in ("whitespace", "comment"):
            continue
        colour = tinycss2.color3.parse_color(token)
        if colour is not None and colour != "currentColor" and getattr(colour, "alpha", 1) > 0:
            return True
    return False


def _background_colour(element: StartTag) -> tuple[str, tuple[float, float, float]] | None:
    """The background colour an element sets (``bgcolor`` or inline CSS), as written and
    as RGB."""
    bgcolor = (element.get("bgcolor") or "").strip()
    decls = declarations(element.get("style") or "")
    for value in (decls.get("background-color", ""), decls.get("background", ""), bgcolor):
        value = value.removesuffix("!important").strip()
        rgb = _rgb(value) if value and value.lower() not in _NO_COLOUR else None
        if rgb is not None:
            return value, rgb
    return None


def _rgb(value: str) -> tuple[float, float, float] | None:
    """The first opaque colour in a CSS value or ``bgcolor`` (channels 0..1)."""
    for token in tinycss2.parse_component_value_list(value):
        if token.type in ("whitespace", "comment"):
            continue
        colour = tinycss2.color3.parse_color(token)
        if colour is not None and colour != "currentColor" and getattr(colour, "alpha", 1) > 0:
            return (colour.red, colour.green, colour.blue)
    return None


def _luminance(rgb: tuple[float, float, float]) -> float:
    """Relative luminance (WCAG 2)."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


READABLE_CONTRAST = 3.0
"""WCAG's floor for large text: below it, text on the colour that shows is unreadable."""
_BLACK = (0.0, 0.0, 0.0)


@lru_cache(maxsize=4096)
def _declaration_starts(css: str) -> list[tuple[int, str]]:
    """(offset, property) of each declaration in a declaration list, in order."""
    starts = [0]
    starts.extend(m.end() for m in _NEWLINE.finditer(css))
    found = []
    for node in tinycss2.parse_blocks_contents(css, skip_comments=True, skip_whitespace=True):
        if node.type == "declaration":
            line = min(max(node.source_line, 1), len(starts))
            found.append((starts[line - 1] + node.source_column - 1, node.lower_name))
    return found


_NEWLINE = re.compile(r"\r\n|[\r\n\f]")


@lru_cache(maxsize=4096)
def chain_links(css: str) -> tuple[str | None, ...]:
    """``_chain_links`` of a declaration list's text."""
    return tuple(_chain_links(declarations(css)))


def _chain_links(decls: dict[str, str]) -> list[str | None]:
    """The hiding declarations of a block, as the slug whose support decides whether each
    hides in a client (None: ``mso-hide:all``, which only Outlook for Windows reads)."""
    links: list[str | None] = []
    if decls.get("display", "").removesuffix("!important").strip() == "none":
        links.append("css-display-none")
    for prop, slug, values in (
        ("max-height", "css-max-height", _ZERO),
        ("height", "css-height", _ZERO),
        ("max-width", "css-max-width", _ZERO),
        ("width", "css-width", _ZERO),
        ("font-size", "css-font-size", _TINY),
        ("line-height", "css-line-height", _TINY),
    ):
        if decls.get(prop, "").removesuffix("!important").strip() in values:
            links.append(slug)
    if decls.get("overflow", "").removesuffix("!important").strip() == "hidden":
        links.append("css-overflow")
    if decls.get("visibility", "").removesuffix("!important").strip() == "hidden":
        links.append("css-visibility")
    if decls.get("opacity", "").removesuffix("!important").strip() in ("0", "0.0", "0%"):
        links.append("css-opacity")
    if decls.get("mso-hide", "").removesuffix("!important").strip() == "all":
        links.append(None)
    return links


DEPENDS: dict[str, tuple[str, str]] = {
    "css-clear": ("css-float", "without floats there is nothing to clear"),
    "css-z-index": ("css-position", "without positioning there is nothing to stack"),
    "css-left-right-top-bottom": ("css-position", "without positioning the offsets do nothing"),
}
"""Features that only act through another: where that one is not supported, they are moot."""
REDECLARED = frozenset(
    slug for slug, d in DETECTORS.items() if d.kind in ("unit", "function", "value")
)
"""Value features: an earlier declaration of the same property in the same block is the
fallback a client that drops the declaration keeps (``width:100px; width:calc(...)``)."""
_OFFSETS = frozenset({"top", "right", "bottom", "left", "inset"})
SOFT = frozenset(
    {
        "font-size",
        "line-height",
        "letter-spacing",
        "word-spacing",
        "text-indent",
        "border-spacing",
        "border-radius",
        "gap",
    }
)
"""Properties whose value, when a client drops it, leaves a readable base (the inherited
size, no extra space): a unit or function lost there degrades the message, no more."""
_SOFT_PREFIXES = (
    "padding",
    "margin",
    "border-radius",
    "border-top-",
    "border-bottom-",
    "max-",  # a lost cap: the box may grow to its container
    "min-",
)
FLEX_CONTAINER = frozenset(
    {
        "css-flex-wrap",
        "css-flex-direction",
        "css-justify-content",
        "css-align-items",
        "css-align-content",
    }
)
"""Properties that act only on a flex or grid container."""
_CONTAINER_DISPLAYS = frozenset({"flex", "inline-flex", "grid", "inline-grid"})
SIZES = frozenset({"css-width", "css-height"})
SELECTORS = frozenset(slug for slug, d in DETECTORS.items() if d.kind == "selector")
"""Selector features: a client that lacks one drops the whole rule."""
ONE_ITEM = FLEX_CONTAINER | {"css-display-flex", "css-display-grid"}
"""Flex and grid features: on a container of one item they only align that item."""
BACKGROUND_VALUES = frozenset({"css-variables"})
"""Value features whose loss in a background colour costs only that colour on an empty box."""
_COLOUR_PROPERTIES = frozenset({"background", "background-color"})
_TABLE_ELEMENTS = frozenset({"table", "tbody", "thead", "tfoot", "tr", "td", "th"})
_INLINE_ELEMENTS = frozenset(
    {"span", "a", "img", "b", "strong", "i", "em", "small", "sup", "sub", "font", "u", "br"}
    | {"s", "code", "abbr", "label", "time", "mark"}
)
# An item's own display that keeps it on the line once its container's flex is dropped (a
# nested flex box is dropped by the same clients).
_INLINE_DISPLAYS = frozenset({"", "inline", "inline-block", "inline-flex", "flex"})
_BLOCK_ELEMENTS = frozenset(
    {"div", "p", "section", "article", "header", "footer", "main", "center", "blockquote"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li"}
)
_FULL_WIDTH_CALC = re.compile(r"calc\(\s*100%\s*[-+]", re.I)
MAX_CHILD_SCAN = 20_000
ICON_PX = 48
"""The largest width and height of an inline ``<svg>`` read as an icon."""
"""Elements read to count the children of flex containers, in all: hostile nesting stops there."""
_SIMPLE_SELECTOR = re.compile(r"([a-z][a-z0-9]*)?(?:\.([a-z_-][a-z0-9_-]*))?", re.I)
"""A type, a class or both (``img``, ``.btn``, ``td.btn``): what ``_selected`` can match."""
_INVISIBLE = frozenset(
    " \t\n\r\f\u00a0\u034f\u180e\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u200b\u200c\u200d\u2028\u2029"
    "\u202f\u205f\u2060\u3000\ufeff"
)
_HANDLED = frozenset(
    BACKGROUND_IMAGES
    | HYBRID
    | CHAIN
    | set(INITIAL_VALUES)
    | set(DEPENDS)
    | REDECLARED
    | SIZES
    | FLEX_CONTAINER
    | SELECTORS
    | ONE_ITEM
    | BACKGROUND_VALUES
    | {
        "html-video",
        "html-svg",
        "css-position",
        "css-left-right-top-bottom",
        "css-max-height",
        "css-unit-vw",
    }
)


def block_bounds(text: str, local: int) -> tuple[int, int]:
    """Where the rule block holding ``local`` opens (its ``{``, -1 when none is near) and
    closes (its ``}``, or the end). Braces inside parentheses, such as a template's
    ``url({0})``, are not the block's (a few of them are skipped, not a hostile run)."""
    floor, ceiling = max(local - MAX_BLOCK_SEARCH, 0), local + MAX_BLOCK_SEARCH
    start = text.rfind("{", floor, local)
    for _ in range(_MAX_BRACES_IN_PARENS):
        if start < 0 or text.find(")", start, local) < 0:  # the usual case: nothing to count
            break
        if text.count(")", start, local) <= text.count("(", start, local):
            break
        start = text.rfind("{", floor, start)
    else:
        start = -1
    end = text.find("}", local, ceiling)
    for _ in range(_MAX_BRACES_IN_PARENS):
        if end < 0 or text.find("(", local, end) < 0:
            break
        if text.count("(", local, end) <= text.count(")", local, end):
            break
        end = text.find("}", end + 1, ceiling)
    else:
        end = -1
    return start, end if end >= 0 else len(text)


_MAX_BRACES_IN_PARENS = 4


class Fallbacks:
    """The fallbacks of one document; ``covers(slug, offset)`` for one use."""

    def __init__(
        self,
        doc: HtmlDocument,
        conds: Conditionals,
        supported: Supported,
        targets: frozenset[str] = frozenset(),
    ) -> None:
        self.doc = doc
        self.conds = conds
        self.supported = supported
        self.targets = targets
        self._chains: dict[tuple[str | None, ...], list[Cover]] = {}
        self._inline_cache: dict[tuple[str, str], list[Cover]] = {}
        self._tag_ends: dict[int, int] = {}

    @cached_property
    def _element_offsets(self) -> list[int]:
        return [el.offset for el in self.doc.scan.elements]

    @cached_property
    def _style_offsets(self) -> list[int]:
        return [span.offset for span in self.doc.scan.styles]

    @staticmethod
    def handles(slug: str) -> bool:
        """Whether some fallback exists for ``slug`` (else ``covers`` is always empty)."""
        return slug in _HANDLED or slug.startswith("image-")

    def covers(self, slug: str, offset: int) -> list[Cover]:
        found: list[Cover] = []
        if slug in BACKGROUND_IMAGES:
            found.extend(self._background(offset))
        elif slug.startswith("image-"):
            found.extend(self._alternative_format(offset))
            if self.property_at(offset) in ("background", "background-image"):
                # An image format as a CSS background: lost where the format is, like any
                # background image, and covered the same way (a colour, VML).
                found.extend(self._background(offset))
        elif slug == "html-video":
            found.extend(self._video(offset))
        if slug in HYBRID and self.conds.in_ghost_table(offset):
            found.append(
                Cover(OUTLOOK_CLIENTS, True, "an Outlook-only ghost table lays it out in Outlook")
            )
        if slug in CHAIN:
            found.extend(self._chain(offset))
        if slug in INITIAL_VALUES:
            found.extend(self._initial_value(slug, offset))
        if slug == "css-float":
            found.extend(self._aligned(offset))
        elif slug == "css-overflow":
            found.extend(self._clips_corners(offset))
        elif slug in ("css-position", "css-left-right-top-bottom"):
            found.extend(self._relative_in_place(offset))
        if slug in ("css-max-height", "css-max-width", "css-unit-vw"):
            found.extend(self._capped(slug, offset))
        if slug in DEPENDS:
            needed, reason = DEPENDS[slug]
            lacking = self.targets - self.supported(needed)
            if lacking:
                found.append(Cover(lacking, True, reason))
        if slug in FLEX_CONTAINER:
            found.extend(self._not_a_container(offset))
        if slug in ONE_ITEM:
            found.extend(self._one_item(offset))
            found.extend(self._table_layout(offset))
            found.extend(self._inline_items(offset))
        if slug in SELECTORS:
            found.extend(self._soft_rule(offset))
        if slug in BACKGROUND_VALUES:
            found.extend(self._colour_of_an_empty_box(offset))
        if slug in REDECLARED:
            found.extend(self._redeclared(offset))
            found.extend(self._soft_property(offset))
        if slug in REDECLARED or slug in SIZES:
            found.extend(self._size_attribute(offset))
        if slug in REDECLARED or slug in SIZES or slug in HYBRID:
            found.extend(self._inlined(offset))
        if slug in CHAIN:
            found.extend(self._hides_white_space(offset))
        if slug.startswith("image-"):
            found.extend(self._decorative(offset))
        elif slug == "html-svg":
            found.extend(self._icon(offset))
        return found

    # -- where a use is ----------------------------------------------------------------

    def element_at(self, offset: int) -> StartTag | None:
        """The start tag whose markup holds ``offset``."""
        i = bisect_right(self._element_offsets, offset) - 1
        if i < 0:
            return None
        element = self.doc.scan.elements[i]
        last = self._tag_ends.get(i)
        if last is None:
            last = element.offset + len(element.name) + 1
            for attr in element.attrs.values():
                last = max(
                    last, attr.value_offset + len(attr.raw_value), attr.offset + len(attr.name)
                )
            self._tag_ends[i] = last
        return element if offset <= last else None

    def declarations_at(self, offset: int) -> tuple[dict[str, str], StartTag | None] | None:
        """The declarations of the style attribute or stylesheet rule holding ``offset``,
        and the element when it is a style attribute."""
        context = self.css_at(offset)
        return None if context is None else (declarations(context[0]), context[1])

    def sheet_at(self, offset: int) -> str | None:
        """The text of the first ``<style>`` after ``offset`` (the ``<style>`` tag there)."""
        i = bisect_right(self._style_offsets, offset)
        return self.doc.scan.styles[i].text if i < len(self.doc.scan.styles) else None

    def css_local(self, offset: int) -> tuple[str, int] | None:
        """The style attribute value or stylesheet rule block holding ``offset``, and where
        ``offset`` falls in it."""
        element = self.element_at(offset)
        if element is not None:
            style = element.attribute("style")
            if style is None or style.value_offset < 0:
                return None
            local = offset - style.value_offset
            if len(style.raw_value) > MAX_BLOCK_CHARS or not 0 <= local <= len(style.raw_value):
                return None
            return style.raw_value, local
        i = bisect_right(self._style_offsets, offset) - 1
        if i < 0:
            return None
        span = self.doc.scan.styles[i]
        local = offset - span.offset
        if not 0 <= local < len(span.text):
            return None
        start, end = block_bounds(span.text, local)
        block = span.text[start + 1 : end]
        if (
            len(block) > MAX_BLOCK_CHARS
        ):  # no rule of a real sheet: not read declaration by declaration
            return None
        return block, local - start - 1

    def css_at(self, offset: int) -> tuple[str, StartTag | None] | None:
        """The text of the style attribute or stylesheet rule block holding ``offset``, and
        the element when it is a style attribute (or the element whose attribute it is)."""
        element = self.element_at(offset)
        if element is not None:
            style = element.get("style") or ""
            return (style if len(style) <= MAX_BLOCK_CHARS else ""), element
        i = bisect_right(self._style_offsets, offset) - 1
        if i < 0:
            return None
        span = self.doc.scan.styles[i]
        local = offset - span.offset
        if not 0 <= local < len(span.text):
            return None
        text = span.text
        start, end = block_bounds(text, local)
        block = text[start + 1 : end]
        return (block, None) if len(block) <= MAX_BLOCK_CHARS else None

    # -- the fallbacks ----------------------------------------------------------------

    def _background(self, offset: int) -> list[Cover]:
        found = []
        if self.conds.vml_background:
            found.append(Cover(OUTLOOK_CLIENTS, True, "a VML background draws it in Outlook"))
        context = self.declarations_at(offset)
        if context is not None:
            decls, element = context
            colour = element is not None and _has_colour((element.get("bgcolor") or "").lower())
            colour = colour or _has_colour(decls.get("background-color", ""))
            colour = colour or _has_colour(decls.get("background", ""))
            if colour:
                found.append(
                    Cover(None, False, "a background colour is shown where the image is not")
                )
            elif element is not None:
                found.extend(self._enclosing_background(element))
        return found

    def _enclosing_background(self, element: StartTag) -> list[Cover]:
        """Where an element's background image is not drawn, the background colour of the
        nearest element around it shows: a fallback when the text inside reads on it."""
        index = bisect_right(self._element_offsets, element.offset) - 1
        ancestors = self._ancestors(index)
        around = next((c for c in (_background_colour(a) for a in ancestors) if c), None)
        if around is None:
            return []
        text = [_rgb(c) for c in self._text_colours(index, ancestors)]
        colours = [c for c in text if c is not None] or [_BLACK]
        if any(contrast(c, around[1]) < READABLE_CONTRAST for c in colours):
            return []
        return [Cover(None, False, f"the text reads on the {around[0]} background around it")]

    def _ancestors(self, index: int) -> list[StartTag]:
        """The elements around the one at ``index``, nearest first (within the scan budget)."""
        depths, elements = self.doc.scan.depths, self.doc.scan.elements
        if len(depths) != len(elements):
            return []
        out: list[StartTag] = []
        wanted = depths[index] - 1
        for j in range(index - 1, max(index - 1 - MAX_CHILD_SCAN, -1), -1):
            if wanted < 0:
                break
            if depths[j] == wanted:
                out.append(elements[j])
                wanted -= 1
        return out

    def _text_colours(self, index: int, ancestors: list[StartTag]) -> list[str]:
        """The inline text colours inside the element at ``index`` (its own and its
        descendants', leaving out boxes with a background of their own: their text sits on
        it), else the one it inherits from the elements around it."""
        depths, elements = self.doc.scan.depths, self.doc.scan.elements
        own = declarations(elements[index].get("style") or "").get("color")
        found = [own] if own else []
        boxed: int | None = None  # the depth of a box with its own background being skipped
        for j in range(index + 1, min(len(elements), index + 1 + MAX_CHILD_SCAN)):
            if depths[j] <= depths[index]:
                break
            if boxed is not None and depths[j] > boxed:
                continue
            boxed = None
            if _background_colour(elements[j]) is not None:
                boxed = depths[j]
                continue
            colour = declarations(elements[j].get("style") or "").get("color")
            if colour:
                found.append(colour)
        if own is None:
            inherited = next(
                (
                    c
                    for c in (declarations(a.get("style") or "").get("color") for a in ancestors)
                    if c
                ),
                None,
            )
            if inherited:
                found.append(inherited)
        return found

    def _alternative_format(self, offset: int) -> list[Cover]:
        element = self.element_at(offset)
        if element is None:
            return []
        if element.name == "img":
            src = element.get("src") or ""
            srcset = element.attribute("srcset")
            if srcset is not None and srcset.offset == offset and _classic(src):
                return [Cover(None, True, "clients without the format load the img src")]
            return []
        if element.name != "source":
            return []
        match = _PICTURE_END.search(self.doc.source, offset)
        end = match.start() if match else len(self.doc.source)
        i = bisect_right(self._element_offsets, offset)
        elements = self.doc.scan.elements
        while i < len(elements) and elements[i].offset < end:
            if elements[i].name == "img":
                if _classic(elements[i].get("src") or ""):
                    return [Cover(None, True, "the <picture>'s img is shown where it is lacking")]
                return []
            i += 1
        return []

    def _video(self, offset: int) -> list[Cover]:
        match = _VIDEO_END.search(self.doc.source, offset)
        if match is None:
            return []
        i = bisect_right(self._element_offsets, offset)
        elements = self.doc.scan.elements
        while i < len(elements) and elements[i].offset < match.start():
            if elements[i].name == "img":
                return [Cover(None, True, "clients without video show the image inside it")]
            i += 1
        return []

    def _not_a_container(self, offset: int) -> list[Cover]:
        context = self.declarations_at(offset)
        if context is None or context[1] is None:  # in a sheet, the display may be elsewhere
            return []
        display = context[0].get("display", "").removesuffix("!important").strip()
        display = display.removeprefix("-webkit-").removeprefix("-ms-")
        if display not in _CONTAINER_DISPLAYS:
            return [Cover(None, True, "the element is no flex or grid container: it does nothing")]
        return []

    def _relative_in_place(self, offset: int) -> list[Cover]:
        context = self.declarations_at(offset)
        if context is None:
            return []
        decls = context[0]
        position = decls.get("position", "").removesuffix("!important").strip()
        if position != "relative":
            return []
        if not _OFFSETS & decls.keys():
            return [Cover(None, True, "relative with no offset renders in place")]
        return [Cover(None, False, "relative: it stays in the flow, only its nudge is lost")]

    def _capped(self, slug: str, offset: int) -> list[Cover]:
        """``max-width``/``max-height`` that cap nothing: no smaller than the fixed size
        beside it (``height:75px; max-height:75px``), or the container or screen
        (``max-width: 100%``, ``100vw``: partial, only a safety cap is lost)."""
        context = self.declarations_at(offset)
        if context is None:
            return []
        prop = "max-width" if slug in ("css-max-width", "css-unit-vw") else "max-height"
        if slug == "css-unit-vw" and self.property_at(offset) not in ("max-width", "max-height"):
            return []
        if slug == "css-unit-vw":
            prop = self.property_at(offset) or prop
        decls, element = context
        cap = decls.get(prop, "").removesuffix("!important").strip()
        size = decls.get(prop.removeprefix("max-"), "").removesuffix("!important").strip()
        attribute = (element.get("height") or "").strip() if element is not None else ""
        if prop == "max-height" and attribute.isdigit() and cap.endswith("px"):
            try:
                if int(attribute) <= float(cap[:-2]):
                    return [
                        Cover(
                            None, True, f'{prop} {cap} caps nothing: height="{attribute}" is fixed'
                        )
                    ]
            except ValueError:
                return []
        # An image's own height is in its file, unknown here: the cap only matters when the
        # file is taller, so the loss is to review, not a certain break.
        on_image = element is not None and element.name == "img"
        on_image = on_image or (element is None and self._selected_names(offset) == {"img"})
        if prop == "max-height" and on_image and size in ("", "auto") and not attribute:
            reason = f"an image keeps its file's height: give it a height attribute ≤ {cap}"
            return [Cover(None, False, reason)]
        if cap.endswith("px") and size.endswith("px"):
            try:
                if float(size[:-2]) <= float(cap[:-2]):
                    return [
                        Cover(None, True, f"{prop} {cap} caps nothing: the {size} size is fixed")
                    ]
            except ValueError:
                return []
        if cap in ("100%", "100vw", "100vh"):
            return [Cover(None, False, f"{prop}: {cap} is only a safety cap")]
        return []

    def _decorative(self, offset: int) -> list[Cover]:
        element = self.element_at(offset)
        if element is not None and element.name == "img":
            alt = element.attribute("alt")
            if alt is not None and not alt.value.strip():
                return [Cover(None, False, 'a decorative image (alt=""): nothing to read is lost')]
        return []

    def _icon(self, offset: int) -> list[Cover]:
        """An inline ``<svg>`` drawn small (width and height at most ``ICON_PX``) with no
        accessible name (no ``<title>``, ``aria-label``/``-labelledby``, ``role="img"``) is a
        decorative icon: where it is dropped the reader loses the icon, nothing to read."""
        element = self.element_at(offset)
        if element is None or element.name != "svg":
            return []
        sizes = [_pixels(element.get(name)) for name in ("width", "height")]
        if any(size is None or size > ICON_PX for size in sizes):
            return []
        if element.get("aria-label") or element.get("aria-labelledby"):
            return []
        if (element.get("role") or "").strip().lower() == "img":
            return []
        depths, elements = self.doc.scan.depths, self.doc.scan.elements
        index = bisect_right(self._element_offsets, element.offset) - 1
        if len(depths) != len(elements):
            return []
        for j in range(index + 1, min(index + 1 + MAX_CHILD_SCAN, len(elements))):
            if depths[j] <= depths[index]:
                break
            if elements[j].name == "title":
                return []
        else:
            if index + 1 + MAX_CHILD_SCAN < len(elements):
                return []
        return [Cover(None, False, "a small decorative icon (no accessible name): only it is lost")]

    def property_at(self, offset: int) -> str | None:
        """The property of the declaration holding ``offset``."""
        located = self.css_local(offset)
        if located is None:
            return None
        names = _declaration_starts(located[0])
        i = bisect_right(names, (located[1], "\U0010ffff")) - 1
        return names[i][1] if i >= 0 else None

    def _soft_property(self, offset: int) -> list[Cover]:
        prop = self.property_at(offset)
        if prop is not None and (prop in SOFT or prop.startswith(_SOFT_PREFIXES)):
            return [Cover(None, False, f"only the {prop} is off: it falls back to a readable base")]
        if prop == "width":  # width: 100vw on a box: without it the box takes its auto width
            context = self.declarations_at(offset)
            element = context[1] if context is not None else None
            value = (
                context[0].get("width", "").removesuffix("!important").strip() if context else ""
            )
            if value in ("100vw", "100%") and element is not None and element.name != "img":
                return [Cover(None, False, f"width: {value} is lost: the box takes its auto width")]
            if _FULL_WIDTH_CALC.match(value) and context is not None and self._block(offset):
                return [Cover(None, False, "a block's auto width is the full width calc() adjusts")]
        return []

    def _block(self, offset: int) -> bool:
        """Whether the use's box is a block (its auto width is its container's)."""
        context = self.declarations_at(offset)
        if context is None:
            return False
        display = context[0].get("display", "").removesuffix("!important").strip()
        if display:
            return display == "block"
        names = self._selected_names(offset)
        return names is not None and names <= _BLOCK_ELEMENTS

    def _rule_selector(self, offset: int) -> str | None:
        """The selector of the stylesheet rule whose block holds ``offset``."""
        i = bisect_right(self._style_offsets, offset) - 1
        if i < 0 or self.element_at(offset) is not None:
            return None
        span = self.doc.scan.styles[i]
        local = offset - span.offset
        if not 0 <= local < len(span.text):
            return None
        start, _ = block_bounds(span.text, local)
        if start < 0:
            return None
        before = max(span.text.rfind("}", 0, start), span.text.rfind("{", 0, start))
        return span.text[before + 1 : start].strip()

    def _selected(self, selector: str) -> list[int] | None:
        """Indexes of the elements a list of simple selectors (``img``, ``.a``, ``td.b``)
        selects; None for any other selector."""
        wanted: list[tuple[str, str | None]] = []
        for part in selector.split(","):
            match = _SIMPLE_SELECTOR.fullmatch(part.strip())
            if match is None or not (match.group(1) or match.group(2)):
                return None
            cls = match.group(2)
            wanted.append(((match.group(1) or "").lower(), cls.lower() if cls else None))
        return [
            i
            for i, element in enumerate(self.doc.scan.elements)
            if any(
                tag in ("", element.name)
                and (cls is None or cls in (element.get("class") or "").lower().split())
                for tag, cls in wanted
            )
        ]

    def _soft_rule(self, offset: int) -> list[Cover]:
        """A selector whose rule sets only properties that fall back to a readable base
        (spacing, type size, corners): a client that drops the rule loses no layout."""
        if self.element_at(offset) is not None:
            return []
        i = bisect_right(self._style_offsets, offset) - 1
        if i < 0:
            return []
        text = self.doc.scan.styles[i].text
        local = offset - self.doc.scan.styles[i].offset
        brace = text.find("{", local, local + MAX_BLOCK_SEARCH)
        if brace < 0 or "}" in text[local:brace] or ";" in text[local:brace]:
            return []
        end = text.find("}", brace, brace + MAX_BLOCK_CHARS)
        if end < 0:
            return []
        props = declarations(text[brace + 1 : end]).keys()
        if props and all(p in SOFT or p.startswith(_SOFT_PREFIXES) for p in props):
            shown = ", ".join(sorted(props)[:3])
            return [Cover(None, False, f"the rule sets only {shown}: the default spacing shows")]
        return []

    def _one_item(self, offset: int) -> list[Cover]:
        """Flex or grid on containers that each hold at most one element: without it the
        item only loses its alignment in the box."""
        element = self.element_at(offset)
        if element is not None:
            index = bisect_right(self._element_offsets, element.offset) - 1
            targets: list[int] | None = [index]
        else:
            selector = self._rule_selector(offset)
            targets = self._selected(selector) if selector is not None else None
        if not targets:
            return []
        budget = MAX_CHILD_SCAN
        for index in targets:
            children, budget = self._children(index, budget)
            if children is None or children > 1:
                return []
        return [Cover(None, False, "each container holds one item: only its alignment is lost")]

    def _inline_items(self, offset: int) -> list[Cover]:
        """A flex row (in a style attribute) whose items are all inline content (text,
        ``<span>``, ``<a>``, ``<img>``...): where flex is dropped they flow on one line as
        text does, so only their alignment and spacing are lost."""
        context = self.declarations_at(offset)
        if context is None:
            return []
        decls, element = context
        if element is None:  # in a sheet: the elements it selects are not read here
            return []
        direction = decls.get("flex-direction", "") + " " + decls.get("flex-flow", "")
        if "column" in direction or decls.get("flex-wrap", "").strip() == "wrap":
            return []
        index = bisect_right(self._element_offsets, element.offset) - 1
        depths, elements = self.doc.scan.depths, self.doc.scan.elements
        if len(depths) != len(elements) or elements[index] is not element:
            return []
        items = 0
        for j in range(index + 1, min(index + 1 + MAX_CHILD_SCAN, len(elements))):
            if depths[j] <= depths[index]:
                break
            if depths[j] != depths[index] + 1:
                continue
            child = elements[j]
            display = declarations(child.get("style") or "").get("display", "")
            display = display.removesuffix("!important").strip().removeprefix("-webkit-")
            if child.name not in _INLINE_ELEMENTS or display not in _INLINE_DISPLAYS:
                return []
            items += 1
        else:
            if index + 1 + MAX_CHILD_SCAN < len(elements):  # the scan budget ran out
                return []
        if not items:
            return []
        return [Cover(None, False, "its items are inline: without it they sit on one line")]

    def _selected_names(self, offset: int) -> set[str] | None:
        """The element names a use applies to: its element's, or those its rule's simple
        selectors select (None when that is not known or the rule selects nothing)."""
        element = self.element_at(offset)
        if element is not None:
            return {element.name}
        selector = self._rule_selector(offset)
        targets = self._selected(selector) if selector is not None else None
        if not targets:
            return None
        return {self.doc.scan.elements[i].name for i in targets}

    def _table_layout(self, offset: int) -> list[Cover]:
        """Flex or grid on table rows and cells: where it is dropped, the table lays the
        cells out side by side as before."""
        names = self._selected_names(offset)
        if names is not None and names <= _TABLE_ELEMENTS:
            return [Cover(None, False, "on table elements: the table layout remains without it")]
        return []

    def _colour_of_an_empty_box(self, offset: int) -> list[Cover]:
        """A background colour lost on an element that holds no text and no image (a
        divider line, a colour bar): only that colour is lost, nothing to read."""
        element = self.element_at(offset)
        if element is None or self.property_at(offset) not in _COLOUR_PROPERTIES:
            return []
        value = " ".join(declarations(element.get("style") or "").values()).lower()
        if "url(" in value:
            return []
        index = bisect_right(self._element_offsets, element.offset) - 1
        if self._holds_content(index):
            return []
        return [Cover(None, False, "the box holds no text or image: only its colour is lost")]

    def _holds_content(self, index: int) -> bool:
        """Whether the element at ``index`` holds visible text or an image (True when that
        cannot be told within the scan budget)."""
        scan = self.doc.scan
        depths, elements = scan.depths, scan.elements
        if len(depths) != len(elements):
            return True
        depth, end = depths[index], len(self.doc.source)
        for j in range(index + 1, min(len(elements), index + 1 + MAX_CHILD_SCAN)):
            if depths[j] <= depth:
                end = elements[j].offset
                break
            if elements[j].name in ("img", "svg", "video", "input", "button"):
                return True
        else:
            if index + 1 + MAX_CHILD_SCAN < len(elements):
                return True
        start = elements[index].offset
        first = bisect_right(self._text_offsets, start)
        for run in scan.texts[first : first + MAX_CHILD_SCAN]:
            if run.offset >= end:
                return False
            if not run.hidden and any(ch not in _INVISIBLE for ch in run.text):
                return True
        return False

    @cached_property
    def _text_offsets(self) -> list[int]:
        return [run.offset for run in self.doc.scan.texts]

    def _children(self, index: int, budget: int) -> tuple[int | None, int]:
        """How many child elements the element at ``index`` has (None when the scan budget
        ran out), and the budget left."""
        depths = self.doc.scan.depths
        if len(depths) != len(self.doc.scan.elements):
            return None, budget
        depth, children = depths[index], 0
        for j in range(index + 1, len(depths)):
            budget -= 1
            if budget <= 0:
                return None, 0
            if depths[j] <= depth:
                break
            if depths[j] == depth + 1:
                children += 1
                if children > 1:
                    break
        return children, budget

    def _inlined(self, offset: int) -> list[Cover]:
        """A stylesheet declaration whose property every element its rule selects also sets
        inline: a client that drops the declaration keeps the inline value."""
        selector = self._rule_selector(offset)
        if selector is None:
            return []
        prop = self.property_at(offset)
        if prop is None:
            return []
        key = (selector, prop)
        if key not in self._inline_cache:
            self._inline_cache[key] = self._all_inline(selector, prop)
        return self._inline_cache[key]

    def _all_inline(self, selector: str, prop: str) -> list[Cover]:
        selected = self._selected(selector)
        if not selected:
            return []
        elements = self.doc.scan.elements
        if any(prop not in declarations(elements[i].get("style") or "") for i in selected):
            return []
        return [Cover(None, False, f"the elements it selects set {prop} inline")]

    def _size_attribute(self, offset: int) -> list[Cover]:
        element = self.element_at(offset)
        prop = self.property_at(offset) if element is not None else None
        if element is None or prop not in ("width", "height"):
            return []
        value = (element.get(prop) or "").strip()
        if not value:
            return []
        return [Cover(None, False, f'the {prop}="{value[:20]}" attribute applies instead')]

    def _hides_white_space(self, offset: int) -> list[Cover]:
        element = self.element_at(offset)
        if element is None:
            return []
        source = self.doc.source
        end = source.find(">", max((a.offset for a in element.attrs.values()), default=0))
        if end < 0:
            return []
        close = source.find("<", end + 1, end + 1 + MAX_BLOCK_SEARCH)
        if close < 0 or not source.startswith(f"</{element.name}", close):
            return []
        text = html.unescape(source[end + 1 : close])
        if all(ch in _INVISIBLE for ch in text):
            return [Cover(None, True, "it hides only white space")]
        return []

    def _redeclared(self, offset: int) -> list[Cover]:
        located = self.css_local(offset)
        if located is None:
            return []
        css, local = located
        names = _declaration_starts(css)
        i = bisect_right(names, (local, "\U0010ffff")) - 1
        if i <= 0:
            return []
        name = names[i][1]
        if any(other == name for _, other in names[:i]):
            return [Cover(None, True, f"an earlier {name} declaration is the fallback")]
        return []

    def _aligned(self, offset: int) -> list[Cover]:
        element = self.element_at(offset)
        align = (element.get("align") or "").strip().lower() if element is not None else ""
        if align in ("left", "right"):
            return [Cover(OUTLOOK_CLIENTS, True, f'align="{align}" floats it in Outlook')]
        return []

    def _clips_corners(self, offset: int) -> list[Cover]:
        context = self.declarations_at(offset)
        if context is None:
            return []
        decls = context[0]
        overflow = decls.get("overflow", "").removesuffix("!important").strip()
        if overflow == "hidden" and any(p.endswith("radius") for p in decls):
            return [Cover(None, True, "it only clips rounded corners (border-radius)")]
        return []

    def _initial_value(self, slug: str, offset: int) -> list[Cover]:
        context = self.declarations_at(offset)
        if context is None:
            return []
        prop, initial = INITIAL_VALUES[slug]
        value = context[0].get(prop, "").removesuffix("!important").strip()
        if value in initial:
            return [Cover(None, True, f"it only sets {prop} to its initial value, {value}")]
        return []

    def _chain(self, offset: int) -> list[Cover]:
        context = self.css_at(offset)
        if context is None:
            return []
        links = chain_links(context[0])
        element = context[1]
        if element is not None and "hidden" in element.attrs:
            links = (*links, "html-hidden")
        if len(links) < 2:
            return []
        found = self._chains.get(links)
        if found is None:
            works: set[str] = set()
            for link in links:
                works |= OUTLOOK_CLIENTS if link is None else self.supported(link)
            reason = "the rest of the hiding chain hides it there"
            found = [Cover(frozenset(works), True, reason)] if works else []
            self._chains[links] = found
        return found


_PIXELS = re.compile(r"\s*(\d{1,5}(?:\.\d+)?)\s*(?:px)?\s*$", re.I)


def _pixels(value: str | None) -> float | None:
    """A width or height attribute in pixels (``40``, ``40px``); None for others (``2em``)."""
    match = _PIXELS.match(value or "")
    return float(match.group(1)) if match else None


def _classic(url: str) -> bool:
    return any(key in CLASSIC_FORMATS for key in image_formats(url))
