"""What can be known statically of each element's text styles: colour, backdrop, size,
weight, decoration, case and alignment, from the cascade an email client applies.

The sources, lowest first: the user agent's defaults (links blue and underlined, heading
sizes, bold cells), presentational attributes (``bgcolor``, ``<font color>``, ``<font
size>``, ``align``), ``<style>`` rules (outside ``@media``, matched by cssselect2 over a tree
built from the shared scan, ordered by specificity and source order, ``!important`` above
inline) and ``style=""``; what is not set is inherited (the backdrop from the nearest box with
a background). The CSS is parsed with tinycss2, as the html check parses it.

A value that cannot be known is ``None``, never a guess: a background image or gradient,
``var()``, ``calc()``, a colour only dark mode sets. The contrast rules turn those into
"needs review".
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import cssselect2
import tinycss2
import tinycss2.color3

from mailqa.checks.html_detect.engine import MAX_CSS_CHARS
from mailqa.core.budget import checkpoint
from mailqa.core.markup import MarkupScan, StartTag

RGB = tuple[float, float, float]
WHITE: RGB = (1.0, 1.0, 1.0)
BLACK: RGB = (0.0, 0.0, 0.0)
LINK_BLUE: RGB = (0.0, 0.0, 238 / 255)
DEFAULT_FONT_PX = 16.0

STYLED = frozenset(
    {
        "color",
        "background",
        "background-color",
        "background-image",
        "font",
        "font-size",
        "font-weight",
        "text-transform",
        "text-align",
        "text-decoration",
        "text-decoration-line",
        "display",
        "visibility",
        "opacity",
        "max-height",
    }
)
"""The properties these rules read; a stylesheet rule setting none of them is not matched."""

_HEADING_PX = {"h1": 32.0, "h2": 24.0, "h3": 18.72, "h4": 16.0, "h5": 13.28, "h6": 10.72}
_BOLD_ELEMENTS = frozenset({"b", "strong", "th", "h1", "h2", "h3", "h4", "h5", "h6"})
_FONT_SIZE_WORDS = {
    "xx-small": 9.0,
    "x-small": 10.0,
    "small": 13.0,
    "medium": 16.0,
    "large": 18.0,
    "x-large": 24.0,
    "xx-large": 32.0,
    "xxx-large": 48.0,
}
_FONT_TAG_SIZES = {1: 10.0, 2: 13.0, 3: 16.0, 4: 18.0, 5: 24.0, 6: 32.0, 7: 48.0}
_UNKNOWN_FUNCTIONS = frozenset({"var", "calc", "env", "attr", "min", "max", "clamp"})
_IMAGE_FUNCTIONS = frozenset(
    {
        "url",
        "linear-gradient",
        "radial-gradient",
        "conic-gradient",
        "repeating-linear-gradient",
        "repeating-radial-gradient",
        "image-set",
        "-webkit-linear-gradient",
        "-webkit-gradient",
    }
)


@dataclass(frozen=True, slots=True)
class TextStyle:
    """The styles text in one element gets. ``None`` colours are unknown (``*_why`` says
    why); ``font_px`` None is a size that cannot be computed."""

    color: RGB | None = BLACK
    color_why: str = ""
    background: RGB | None = WHITE
    background_why: str = ""
    background_at: int | None = None
    """Source offset of the element whose background the text sits on (None: the page)."""
    font_px: float | None = DEFAULT_FONT_PX
    bold: bool = False
    uppercase: bool = False
    justified: bool = False
    underlined: bool = False
    hidden: bool = False


@lru_cache(maxsize=8192)
def declarations(css: str) -> dict[str, tuple[list[Any], bool]]:
    """Property -> (value tokens, important) of a declaration list; the last wins, an
    important one over plain ones."""
    found: dict[str, tuple[list[Any], bool]] = {}
    for node in tinycss2.parse_blocks_contents(css, skip_comments=True, skip_whitespace=True):
        if node.type != "declaration" or node.lower_name not in STYLED:
            continue
        previous = found.get(node.lower_name)
        if previous is not None and previous[1] and not node.important:
            continue
        found[node.lower_name] = (node.value, node.important)
    return found


def _tokens(value: list[Any]) -> list[Any]:
    return [t for t in value if t.type not in ("whitespace", "comment")]


def _keyword(value: list[Any]) -> str | None:
    tokens = _tokens(value)
    if len(tokens) == 1 and tokens[0].type == "ident":
        return str(tokens[0].lower_value)
    return None


class Unknown(Exception):
    """A value no static reading can resolve (``var()``, ``calc()``...)."""


def parse_colour(value: list[Any] | str, current: RGB | None = None) -> tuple[RGB, float] | None:
    """(RGB, alpha) of the first colour in a value (``bgcolor`` text or CSS tokens); None
    when there is none. ``Unknown`` for ``var()`` and friends."""
    tokens = tinycss2.parse_component_value_list(value) if isinstance(value, str) else value
    for token in _tokens(tokens):
        if token.type == "function" and token.lower_name in _UNKNOWN_FUNCTIONS:
            raise Unknown(f"{token.lower_name}()")
        if token.type == "ident" and token.lower_value == "currentcolor":
            if current is None:
                raise Unknown("currentColor of an unknown colour")
            return current, 1.0
        colour = tinycss2.color3.parse_color(token)
        if colour is not None and colour != "currentColor":
            return (colour.red, colour.green, colour.blue), float(colour.alpha)
    return None


def _html_colour(value: str) -> tuple[RGB, float] | None:
    """A ``bgcolor``/``color`` attribute: CSS colours, and hex without the ``#``."""
    value = value.strip()
    if len(value) in (3, 6) and all(c in "0123456789abcdefABCDEF" for c in value):
        value = "#" + value
    try:
        return parse_colour(value)
    except Unknown:
        return None


def blend(colour: RGB, alpha: float, under: RGB) -> RGB:
    r, g, b = (alpha * c + (1 - alpha) * u for c, u in zip(colour, under, strict=True))
    return (r, g, b)


def _luminance(rgb: RGB) -> float:
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: RGB, b: RGB) -> float:
    """The WCAG 2 contrast ratio (1 to 21)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def hex_colour(rgb: RGB) -> str:
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgb)


def _font_px(value: list[Any], parent: float | None) -> float | None:
    """A ``font-size`` value in px; None when unknown; raises nothing."""
    tokens = _tokens(value)
    if len(tokens) != 1:
        return None
    token = tokens[0]
    if token.type == "ident":
        word = token.lower_value
        if word in ("inherit", "unset", "revert"):
            return parent
        if word == "smaller":
            return parent / 1.2 if parent is not None else None
        if word == "larger":
            return parent * 1.2 if parent is not None else None
        return _FONT_SIZE_WORDS.get(word)
    if token.type == "number" and token.value == 0:
        return 0.0
    if token.type == "percentage":
        return parent * token.value / 100 if parent is not None else None
    if token.type == "dimension":
        unit, number = token.lower_unit, float(token.value)
        scale = {"px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4}
        if unit in scale:
            return number * scale[unit]
        if unit == "rem":
            return number * DEFAULT_FONT_PX
        if unit == "em":
            return number * parent if parent is not None else None
    return None


def _shorthand_font_px(value: list[Any], parent: float | None) -> float | bool | None:
    """The size in a ``font`` shorthand; False when it has none."""
    for token in _tokens(value):
        if token.type == "literal" and token.value == "/":
            break
        size = _font_px([token], parent)
        if token.type in ("dimension", "percentage") or (
            token.type == "ident" and token.lower_value in _FONT_SIZE_WORDS
        ):
            return size
    return False


def _bold(value: list[Any], parent: bool) -> bool:
    tokens = _tokens(value)
    if len(tokens) != 1:
        return parent
    token = tokens[0]
    if token.type == "ident":
        word = token.lower_value
        if word in ("bold", "bolder"):
            return True
        if word in ("normal", "lighter"):
            return False
        return parent
    if token.type == "number":
        return float(token.value) >= 600
    return parent


@dataclass(frozen=True, slots=True)
class _Declared:
    value: list[Any]
    rank: tuple[int, tuple[int, int, int], int]
    """(level, specificity, order): presentational 0, sheet 1, inline 2, sheet important
    3, inline important 4."""


class StyleSheets:
    """The ``<style>`` rules that set what these rules read, matched to the scan's elements."""

    def __init__(self, scan: MarkupScan, parents: Sequence[int]) -> None:
        self.matched: dict[int, dict[str, _Declared]] = {}
        self.dark_mode_offsets: list[int] = []
        """``@media (prefers-color-scheme: dark)`` rules: colours no static reading knows."""
        self.truncated = False
        """More than ``MAX_CSS_CHARS`` of ``<style>``: the rest is not read."""
        matcher = cssselect2.Matcher()
        order = chars = 0
        for span in scan.styles:
            checkpoint()
            chars += len(span.text)
            if chars > MAX_CSS_CHARS:
                self.truncated = True
                break
            for node in tinycss2.parse_stylesheet(
                span.text, skip_comments=True, skip_whitespace=True
            ):
                if node.type == "at-rule":
                    prelude = tinycss2.serialize(node.prelude).lower()
                    if "prefers-color-scheme" in prelude and "dark" in prelude:
                        self.dark_mode_offsets.append(span.offset)
                    continue
                if node.type != "qualified-rule":
                    continue
                decls = declarations(tinycss2.serialize(node.content))
                if not decls:
                    continue
                for selector in _static_selectors(node.prelude):
                    order += 1
                    matcher.add_selector(selector, (order, decls))
        if order:
            self._match(matcher, scan, parents)

    def _match(self, matcher: cssselect2.Matcher, scan: MarkupScan, parents: Sequence[int]) -> None:
        nodes: list[ET.Element] = []
        root = ET.Element("mailqa-document")
        for index, tag in enumerate(scan.elements):
            parent = nodes[parents[index]] if parents[index] >= 0 else root
            attrs = {name: attr.value for name, attr in tag.attrs.items() if _xml_name(name)}
            nodes.append(ET.SubElement(parent, tag.name, attrs))
        position = {id(node): index for index, node in enumerate(nodes)}
        wrapper = cssselect2.ElementWrapper.from_html_root(root)
        for count, element in enumerate(wrapper.iter_subtree()):
            if not count & 1023:
                checkpoint()
            found_at = position.get(id(element.etree_element))
            if found_at is None:
                continue
            found = matcher.match(element)
            if not found:
                continue
            props: dict[str, _Declared] = {}
            for specificity, _order, _pseudo, (order, decls) in found:
                for name, (value, important) in decls.items():
                    rank = (3 if important else 1, tuple(specificity), order)
                    if name not in props or rank > props[name].rank:
                        props[name] = _Declared(value, rank)
            self.matched[found_at] = props


def _xml_name(name: str) -> bool:
    return bool(name) and (name[0].isalpha() or name[0] == "_") and ":" not in name


_DYNAMIC = (":hover", ":focus", ":active", ":visited", ":target")
_LINK_STATE = re.compile(r":(?:any-)?link\b", re.I)


def _static_selectors(prelude: list[Any]) -> list[Any]:
    """The compiled selectors of a rule that apply to the message as it opens: one per
    comma-separated selector, leaving out pseudo-elements and states only a reader creates
    (``:hover``, ``:visited``); ``:link`` is every link (a fresh message has no visited
    ones). A selector cssselect2 cannot read is left out on its own."""
    out: list[Any] = []
    for part in tinycss2.serialize(prelude).split(","):
        text = part.strip()
        if not text or any(state in text.lower() for state in _DYNAMIC):
            continue
        try:
            compiled = cssselect2.compile_selector_list(_LINK_STATE.sub("[href]", text))
        except cssselect2.SelectorError:
            continue
        out.extend(c for c in compiled if c.pseudo_element is None)
    return out


def element_parents(scan: MarkupScan) -> list[int]:
    """The index of each element's parent in ``scan.elements`` (-1: none), from the depths:
    the parent is the latest element one level up."""
    last_at: list[int] = []
    parents: list[int] = []
    for index, depth in enumerate(scan.depths):
        del last_at[depth:]
        parents.append(last_at[depth - 1] if 0 < depth <= len(last_at) else -1)
        last_at.append(index)
    return parents


class Cascade:
    """``TextStyle`` of every element, computed once from the parent's."""

    def __init__(self, scan: MarkupScan) -> None:
        self.scan = scan
        self.parents = element_parents(scan)
        self.sheets = StyleSheets(scan, self.parents)
        self._styles: list[TextStyle] = []
        root = TextStyle()
        for index, tag in enumerate(scan.elements):
            if not index & 1023:
                checkpoint()
            parent = self.parents[index]
            self._styles.append(
                self._compute(tag, self._styles[parent] if parent >= 0 else root, index)
            )

    def style(self, index: int) -> TextStyle:
        return self._styles[index] if 0 <= index < len(self._styles) else TextStyle()

    def _declared(self, tag: StartTag, index: int) -> dict[str, _Declared]:
        props: dict[str, _Declared] = {}
        for name, attr in (("bgcolor", "background-color"), ("color", "color")):
            written = tag.get(name)
            if written is not None and (name == "bgcolor" or tag.name in ("font", "basefont")):
                parsed = _html_colour(written)
                if parsed is not None:
                    tokens = tinycss2.parse_component_value_list(hex_colour(parsed[0]))
                    props[attr] = _Declared(tokens, (0, (0, 0, 0), 0))
        if "background" in tag.attrs:
            props["background-image"] = _Declared(
                tinycss2.parse_component_value_list("url(x)"), (0, (0, 0, 0), 0)
            )
        align = (tag.get("align") or "").strip().lower()
        if align == "justify":
            props["text-align"] = _Declared(
                tinycss2.parse_component_value_list("justify"), (0, (0, 0, 0), 0)
            )
        for name, declared in self.sheets.matched.get(index, {}).items():
            if name not in props or declared.rank > props[name].rank:
                props[name] = declared
        inline_css = tag.get("style")
        if inline_css:
            for name, (tokens, important) in declarations(inline_css).items():
                rank = (4 if important else 2, (0, 0, 0), 0)
                if name not in props or rank > props[name].rank:
                    props[name] = _Declared(tokens, rank)
        return props

    def _compute(self, tag: StartTag, parent: TextStyle, index: int) -> TextStyle:
        props = self._declared(tag, index)
        name = tag.name
        style = parent
        # User-agent defaults, then what is declared.
        if name == "a" and "href" in tag.attrs:
            style = replace(style, color=LINK_BLUE, color_why="", underlined=True)
        if name in _HEADING_PX:
            style = replace(style, font_px=_HEADING_PX[name], bold=True)
        elif name in _BOLD_ELEMENTS:
            style = replace(style, bold=True)
        elif name == "small" and style.font_px is not None:
            style = replace(style, font_px=style.font_px / 1.2)
        elif name == "u":
            style = replace(style, underlined=True)
        if name == "font":
            size = (tag.get("size") or "").strip()
            if size.isdigit() and int(size) in _FONT_TAG_SIZES:
                style = replace(style, font_px=_FONT_TAG_SIZES[int(size)])
        if props:
            style = self._apply(style, parent, props, tag)
        if "hidden" in tag.attrs:
            style = replace(style, hidden=True)
        return style

    def _apply(
        self, style: TextStyle, parent: TextStyle, props: dict[str, _Declared], tag: StartTag
    ) -> TextStyle:
        get = props.get
        if (d := get("color")) is not None:
            keyword = _keyword(d.value)
            if keyword in ("inherit", "unset", "currentcolor"):
                style = replace(style, color=parent.color, color_why=parent.color_why)
            else:
                try:
                    parsed = parse_colour(d.value, parent.color)
                except Unknown as exc:
                    style = replace(style, color=None, color_why=f"the text colour is {exc}")
                else:
                    if parsed is not None:
                        rgb, alpha = parsed
                        if alpha < 1 and style.background is not None:
                            rgb = blend(rgb, alpha, style.background)
                        style = replace(style, color=rgb, color_why="")
        style = self._background(style, props, tag)
        size = get("font-size")
        if size is not None:
            style = replace(style, font_px=_font_px(size.value, parent.font_px))
        elif (font := get("font")) is not None:
            shorthand = _shorthand_font_px(font.value, parent.font_px)
            if shorthand is not False:
                style = replace(style, font_px=shorthand if isinstance(shorthand, float) else None)
        if (d := get("font-weight")) is not None:
            style = replace(style, bold=_bold(d.value, parent.bold))
        if (d := get("text-transform")) is not None:
            style = replace(style, uppercase=_keyword(d.value) == "uppercase")
        if (d := get("text-align")) is not None:
            keyword = _keyword(d.value)
            if keyword not in ("inherit", "unset"):
                style = replace(style, justified=keyword == "justify")
        for prop in ("text-decoration", "text-decoration-line"):
            if (d := get(prop)) is not None:
                words = {t.lower_value for t in _tokens(d.value) if t.type == "ident"}
                if words & {"underline"}:
                    style = replace(style, underlined=True)
                elif words & {"none", "overline", "line-through"}:
                    style = replace(style, underlined=False)
        if (d := get("display")) is not None and _keyword(d.value) == "none":
            style = replace(style, hidden=True)
        if (d := get("visibility")) is not None and _keyword(d.value) in ("hidden", "collapse"):
            style = replace(style, hidden=True)
        for prop in ("opacity", "max-height"):  # the preheader idioms: nothing shows
            d = get(prop)
            tokens = _tokens(d.value) if d is not None else []
            numeric = len(tokens) == 1 and tokens[0].type in ("number", "dimension", "percentage")
            if numeric and float(tokens[0].value) == 0:
                style = replace(style, hidden=True)
        return style

    def _background(
        self, style: TextStyle, props: dict[str, _Declared], tag: StartTag
    ) -> TextStyle:
        """The backdrop: a background colour (blended over the one around it when
        translucent); a background image or gradient makes it unknown."""
        image = props.get("background-image")
        if (
            image is not None
            and any(t.type in ("url", "function") for t in _tokens(image.value))
            and _keyword(image.value) != "none"
        ):
            return replace(
                style,
                background=None,
                background_why=f"<{tag.name}> has a background image",
                background_at=tag.offset,
            )
        candidates = [props[p] for p in ("background", "background-color") if p in props]
        if not candidates:
            return style
        declared = max(candidates, key=lambda d: d.rank)
        tokens = _tokens(declared.value)
        if any(
            t.type == "url" or (t.type == "function" and t.lower_name in _IMAGE_FUNCTIONS)
            for t in tokens
        ):
            return replace(
                style,
                background=None,
                background_why=f"<{tag.name}> has a background image or gradient",
                background_at=tag.offset,
            )
        try:
            parsed = parse_colour(declared.value, style.color)
        except Unknown as exc:
            return replace(
                style,
                background=None,
                background_why=f"<{tag.name}>'s background is {exc}",
                background_at=tag.offset,
            )
        if parsed is None:
            return style
        rgb, alpha = parsed
        if alpha <= 0:
            return style
        if alpha < 1:
            if style.background is None:
                return replace(style, background_at=tag.offset)
            rgb = blend(rgb, alpha, style.background)
        return replace(style, background=rgb, background_why="", background_at=tag.offset)
