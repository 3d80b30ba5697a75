"""One explicit detector per caniemail slug.

Each entry says exactly which token shows the feature is used: an element, an attribute, a
CSS property, a keyword value of a property, a function, a unit, an at-rule, a media feature,
a pseudo-class or pseudo-element, a selector form, an image format, or a special case.
Matching is on whole tokens, never substrings: ``:focus`` is not ``:focus-visible``,
``transform`` is not ``text-transform``, ``display: flexing`` is not ``display: flex``.

A slug the data adds later is neither here nor in ``UNDETECTABLE``; the coverage test fails on
it (the check itself ignores slugs it has no detector for).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "element",
    "attribute",
    "property",
    "value",
    "function",
    "unit",
    "important",
    "at-rule",
    "media-feature",
    "pseudo-class",
    "pseudo-element",
    "selector",
    "image",
    "special",
]


@dataclass(frozen=True)
class Detector:
    kind: Kind
    keys: frozenset[str]
    """What to match: names for most kinds; for ``value``, ``property=keyword`` pairs
    (``*=keyword`` for any property)."""


def _d(kind: Kind, *keys: str) -> Detector:
    return Detector(kind, frozenset(keys))


def element(*names: str) -> Detector:
    return _d("element", *names)


def attribute(*names: str) -> Detector:
    return _d("attribute", *names)


def prop(*names: str) -> Detector:
    return _d("property", *names)


def value(prop_name: str, *keywords: str) -> Detector:
    return _d("value", *(f"{prop_name}={k}" for k in keywords))


def function(*names: str) -> Detector:
    return _d("function", *names)


def unit(*names: str) -> Detector:
    return _d("unit", *names)


def at_rule(*names: str) -> Detector:
    return _d("at-rule", *names)


def media(*names: str) -> Detector:
    return _d("media-feature", *names)


def pseudo_class(*names: str) -> Detector:
    return _d("pseudo-class", *names)


def pseudo_element(*names: str) -> Detector:
    return _d("pseudo-element", *names)


def selector(form: str) -> Detector:
    return _d("selector", form)


def image(*formats: str) -> Detector:
    """Formats are file extensions or ``data:`` media subtypes; ``base64`` for data URIs."""
    return _d("image", *formats)


def special(name: str) -> Detector:
    return _d("special", name)


_LOGICAL_BORDER_LONGHANDS = tuple(
    f"border-{axis}-{side}-{part}"
    for axis in ("inline", "block")
    for side in ("start", "end")
    for part in ("color", "style", "width")
)
_SIDES = ("top", "right", "bottom", "left")

DETECTORS: dict[str, Detector] = {
    # --- others
    "amp": special("amp"),
    # --- CSS at-rules and media features
    "css-at-font-face": at_rule("font-face"),
    "css-at-import": at_rule("import"),
    "css-at-keyframes": at_rule("keyframes"),
    "css-at-media": at_rule("media"),
    "css-at-supports": at_rule("supports"),
    "css-at-media-device-pixel-ratio": media("device-pixel-ratio"),
    "css-at-media-hover": media("hover", "any-hover"),
    "css-at-media-orientation": media("orientation"),
    "css-at-media-prefers-color-scheme": media("prefers-color-scheme"),
    "css-at-media-prefers-reduced-motion": media("prefers-reduced-motion"),
    # --- CSS properties
    "css-accent-color": prop("accent-color"),
    "css-align-items": prop("align-items"),
    "css-animation": prop(
        "animation",
        "animation-name",
        "animation-duration",
        "animation-timing-function",
        "animation-delay",
        "animation-iteration-count",
        "animation-direction",
        "animation-fill-mode",
        "animation-play-state",
    ),
    "css-aspect-ratio": prop("aspect-ratio"),
    "css-backdrop-filter": prop("backdrop-filter"),
    "css-background-blend-mode": prop("background-blend-mode"),
    "css-background-clip": prop("background-clip"),
    "css-background-color": prop("background-color"),
    "css-background-image": prop("background-image"),
    "css-background-origin": prop("background-origin"),
    "css-background-position": prop(
        "background-position", "background-position-x", "background-position-y"
    ),
    "css-background-repeat": prop("background-repeat"),
    "css-background-size": prop("background-size"),
    "css-background": prop("background"),
    "css-block-inline-size": prop("block-size", "inline-size"),
    "css-border-collapse": prop("border-collapse"),
    "css-border-image": prop(
        "border-image",
        "border-image-source",
        "border-image-slice",
        "border-image-width",
        "border-image-outset",
        "border-image-repeat",
    ),
    "css-border-inline-block-individual": prop(
        "border-inline-color",
        "border-block-color",
        "border-inline-style",
        "border-block-style",
        "border-inline-width",
        "border-block-width",
        "border-inline-start",
        "border-inline-end",
        "border-block-start",
        "border-block-end",
    ),
    "css-border-inline-block-longhand": prop(*_LOGICAL_BORDER_LONGHANDS),
    "css-border-inline-block": prop("border-inline", "border-block"),
    "css-border-radius-logical": prop(
        "border-start-start-radius",
        "border-start-end-radius",
        "border-end-start-radius",
        "border-end-end-radius",
    ),
    "css-border-radius": prop(
        "border-radius",
        "border-top-left-radius",
        "border-top-right-radius",
        "border-bottom-left-radius",
        "border-bottom-right-radius",
    ),
    "css-border-spacing": prop("border-spacing"),
    "css-border": prop(
        "border",
        "border-width",
        "border-style",
        "border-color",
        *(f"border-{side}" for side in _SIDES),
        *(f"border-{side}-{part}" for side in _SIDES for part in ("width", "style", "color")),
    ),
    "css-box-shadow": prop("box-shadow"),
    "css-box-sizing": prop("box-sizing"),
    "css-caption-side": prop("caption-side"),
    "css-clear": prop("clear"),
    "css-clip-path": prop("clip-path"),
    "css-color-scheme": prop("color-scheme"),
    "css-column-count": prop("column-count"),
    "css-column-layout-properties": prop(
        "columns",
        "column-count",
        "column-fill",
        "column-gap",
        "column-rule",
        "column-rule-color",
        "column-rule-style",
        "column-rule-width",
        "column-span",
        "column-width",
    ),
    "css-cursor": prop("cursor"),
    "css-direction": prop("direction"),
    "css-display": prop("display"),
    "css-empty-cells": prop("empty-cells"),
    "css-filter": prop("filter"),
    "css-float": prop("float"),
    "css-font-kerning": prop("font-kerning"),
    "css-font-size-adjust": prop("font-size-adjust"),
    "css-font-size": prop("font-size"),
    "css-font-stretch": prop("font-stretch"),
    "css-font-weight": prop("font-weight"),
    "css-font": prop("font"),
    "css-gap": prop("gap", "column-gap", "row-gap", "grid-gap", "grid-row-gap", "grid-column-gap"),
    "css-grid-template": prop(
        "grid-template", "grid-template-areas", "grid-template-columns", "grid-template-rows"
    ),
    "css-height": prop("height"),
    "css-hyphenate-character": prop("hyphenate-character"),
    "css-hyphenate-limit-chars": prop("hyphenate-limit-chars"),
    "css-hyphens": prop("hyphens"),
    "css-inline-size": prop("inline-size"),
    "css-inset": prop(
        "inset",
        "inset-block",
        "inset-inline",
        "inset-block-start",
        "inset-block-end",
        "inset-inline-start",
        "inset-inline-end",
    ),
    "css-justify-content": prop("justify-content"),
    "css-left-right-top-bottom": prop("left", "right", "top", "bottom"),
    "css-letter-spacing": prop("letter-spacing"),
    "css-line-height": prop("line-height"),
    "css-list-style-image": prop("list-style-image"),
    "css-list-style-position": prop("list-style-position"),
    "css-list-style-type": prop("list-style-type"),
    "css-list-style": prop("list-style"),
    "css-margin-block-start-end": prop("margin-block-start", "margin-block-end"),
    "css-margin-inline-block": prop("margin-inline", "margin-block"),
    "css-margin-inline-start-end": prop("margin-inline-start", "margin-inline-end"),
    "css-margin": prop("margin", *(f"margin-{side}" for side in _SIDES)),
    "css-mask-image": prop("mask-image"),
    "css-max-block-size": prop("max-block-size"),
    "css-max-height": prop("max-height"),
    "css-max-inline-size": prop("max-inline-size"),
    "css-max-width": prop("max-width"),
    "css-min-block-size": prop("min-block-size"),
    "css-min-height": prop("min-height"),
    "css-min-inline-size": prop("min-inline-size"),
    "css-min-width": prop("min-width"),
    "css-mix-blend-mode": prop("mix-blend-mode"),
    "css-object-fit": prop("object-fit"),
    "css-object-position": prop("object-position"),
    "css-opacity": prop("opacity"),
    "css-orphans": prop("orphans"),
    "css-outline-offset": prop("outline-offset"),
    "css-outline": prop("outline", "outline-color", "outline-style", "outline-width"),
    "css-overflow-wrap": prop("overflow-wrap"),
    "css-overflow": prop(
        "overflow", "overflow-x", "overflow-y", "overflow-block", "overflow-inline"
    ),
    "css-padding-block-start-end": prop("padding-block-start", "padding-block-end"),
    "css-padding-inline-block": prop("padding-inline", "padding-block"),
    "css-padding-inline-start-end": prop("padding-inline-start", "padding-inline-end"),
    "css-padding": prop("padding", *(f"padding-{side}" for side in _SIDES)),
    "css-position": prop("position"),
    "css-resize": prop("resize"),
    "css-scroll-snap": prop("scroll-snap-type", "scroll-snap-align", "scroll-snap-stop"),
    "css-shape-margin": prop("shape-margin"),
    "css-shape-outside": prop("shape-outside"),
    "css-tab-size": prop("tab-size"),
    "css-table-layout": prop("table-layout"),
    "css-text-align-last": prop("text-align-last"),
    "css-text-align": prop("text-align"),
    "css-text-decoration-color": prop("text-decoration-color"),
    "css-text-decoration-line": prop("text-decoration-line"),
    "css-text-decoration-skip-ink": prop("text-decoration-skip-ink"),
    "css-text-decoration-style": prop("text-decoration-style"),
    "css-text-decoration-thickness": prop("text-decoration-thickness"),
    "css-text-decoration": prop("text-decoration"),
    "css-text-emphasis-position": prop("text-emphasis-position"),
    "css-text-emphasis": prop("text-emphasis", "text-emphasis-style", "text-emphasis-color"),
    "css-text-indent": prop("text-indent"),
    "css-text-justify": prop("text-justify"),
    "css-text-orientation": prop("text-orientation"),
    "css-text-overflow": prop("text-overflow"),
    "css-text-shadow": prop("text-shadow"),
    "css-text-transform": prop("text-transform"),
    "css-text-underline-offset": prop("text-underline-offset"),
    "css-text-underline-position": prop("text-underline-position"),
    "css-text-wrap": prop("text-wrap", "text-wrap-mode", "text-wrap-style"),
    "css-transform": prop("transform", "transform-origin"),
    "css-transition": prop(
        "transition",
        "transition-property",
        "transition-duration",
        "transition-timing-function",
        "transition-delay",
    ),
    "css-user-select": prop("user-select"),
    "css-vertical-align": prop("vertical-align"),
    "css-visibility": prop("visibility"),
    "css-white-space-collapse": prop("white-space-collapse"),
    "css-white-space": prop("white-space"),
    "css-widows": prop("widows"),
    "css-width": prop("width"),
    "css-word-break": prop("word-break"),
    "css-word-spacing": prop("word-spacing"),
    "css-word-wrap": prop("word-wrap"),
    "css-writing-mode": prop("writing-mode"),
    "css-z-index": prop("z-index"),
    # --- CSS property values
    "css-display-flex": value("display", "flex", "inline-flex"),
    "css-display-grid": value("display", "grid", "inline-grid"),
    "css-display-none": value("display", "none"),
    "css-flex-direction": _d(
        "value",
        *(
            f"{p}={k}"
            for p in ("flex-direction", "flex-flow")
            for k in ("column", "column-reverse")
        ),
    ),
    "css-flex-wrap": _d(
        "value", *(f"{p}={k}" for p in ("flex-wrap", "flex-flow") for k in ("wrap", "wrap-reverse"))
    ),
    "css-sytem-ui": value(
        "*", "system-ui", "ui-serif", "ui-sans-serif", "ui-rounded", "ui-monospace"
    ),
    "css-intrinsic-size": Detector(
        "value", frozenset({"*=fit-content", "*=min-content", "*=max-content", "fn=fit-content"})
    ),
    "css-unit-initial": value("*", "initial"),
    "css-important": _d("important", "!important"),
    # --- CSS functions
    "css-conic-gradient": function("conic-gradient", "repeating-conic-gradient"),
    "css-function-clamp": function("clamp"),
    "css-function-light-dark": function("light-dark"),
    "css-function-max": function("max"),
    "css-function-min": function("min"),
    "css-linear-gradient": function("linear-gradient", "repeating-linear-gradient"),
    "css-modern-color": function("lch", "oklch", "lab", "oklab"),
    "css-radial-gradient": function("radial-gradient", "repeating-radial-gradient"),
    "css-rgb": function("rgb"),
    "css-rgba": function("rgba"),
    "css-unit-calc": function("calc"),
    "css-variables": special("css-variables"),
    # --- CSS units
    "css-unit-ch": unit("ch"),
    "css-unit-cm": unit("cm"),
    "css-unit-em": unit("em"),
    "css-unit-ex": unit("ex"),
    "css-unit-in": unit("in"),
    "css-unit-mm": unit("mm"),
    "css-unit-pc": unit("pc"),
    "css-unit-percent": unit("%"),
    "css-unit-pt": unit("pt"),
    "css-unit-px": unit("px"),
    "css-unit-rem": unit("rem"),
    "css-unit-vh": unit("vh"),
    "css-unit-vmax": unit("vmax"),
    "css-unit-vmin": unit("vmin"),
    "css-unit-vw": unit("vw"),
    # --- CSS selectors and structure
    "css-comments": special("css-comments"),
    "css-nesting": special("css-nesting"),
    "css-selector-adjacent-sibling": selector("adjacent-sibling"),
    "css-selector-attribute": selector("attribute"),
    "css-selector-chaining": selector("chaining"),
    "css-selector-child": selector("child"),
    "css-selector-class": selector("class"),
    "css-selector-descendant": selector("descendant"),
    "css-selector-general-sibling": selector("general-sibling"),
    "css-selector-grouping": selector("grouping"),
    "css-selector-id": selector("id"),
    "css-selector-type": selector("type"),
    "css-selector-universal": selector("universal"),
    "css-pseudo-class-active": pseudo_class("active"),
    "css-pseudo-class-checked": pseudo_class("checked"),
    "css-pseudo-class-default": pseudo_class("default"),
    "css-pseudo-class-first-child": pseudo_class("first-child"),
    "css-pseudo-class-first-of-type": pseudo_class("first-of-type"),
    "css-pseudo-class-focus-visible": pseudo_class("focus-visible"),
    "css-pseudo-class-focus-within": pseudo_class("focus-within"),
    "css-pseudo-class-focus": pseudo_class("focus"),
    "css-pseudo-class-has": pseudo_class("has"),
    "css-pseudo-class-hover": pseudo_class("hover"),
    "css-pseudo-class-lang": pseudo_class("lang"),
    "css-pseudo-class-last-child": pseudo_class("last-child"),
    "css-pseudo-class-last-of-type": pseudo_class("last-of-type"),
    "css-pseudo-class-link": pseudo_class("link"),
    "css-pseudo-class-not": pseudo_class("not"),
    "css-pseudo-class-nth-child": pseudo_class("nth-child"),
    "css-pseudo-class-nth-last-child": pseudo_class("nth-last-child"),
    "css-pseudo-class-nth-last-of-type": pseudo_class("nth-last-of-type"),
    "css-pseudo-class-nth-of-type": pseudo_class("nth-of-type"),
    "css-pseudo-class-only-child": pseudo_class("only-child"),
    "css-pseudo-class-only-of-type": pseudo_class("only-of-type"),
    "css-pseudo-class-target": pseudo_class("target"),
    "css-pseudo-class-visited": pseudo_class("visited"),
    "css-pseudo-element-after": pseudo_element("after"),
    "css-pseudo-element-before": pseudo_element("before"),
    "css-pseudo-element-first-letter": pseudo_element("first-letter"),
    "css-pseudo-element-first-line": pseudo_element("first-line"),
    "css-pseudo-element-marker": pseudo_element("marker"),
    "css-pseudo-element-placeholder": pseudo_element("placeholder", "input-placeholder"),
    # --- HTML elements
    "html-abbr": element("abbr"),
    "html-acronym": element("acronym"),
    "html-address": element("address"),
    "html-audio": element("audio"),
    "html-base": element("base"),
    "html-bdi": element("bdi"),
    "html-blockquote": element("blockquote"),
    "html-body": element("body"),
    "html-code": element("code"),
    "html-del": element("del"),
    "html-dfn": element("dfn"),
    "html-dialog": element("dialog"),
    "html-div": element("div"),
    "html-form": element("form"),
    "html-h1-h6": element("h1", "h2", "h3", "h4", "h5", "h6"),
    "html-hr": element("hr"),
    "html-image-maps": Detector("element", frozenset({"map", "area", "@usemap"})),
    "html-img": element("img"),
    "html-link": element("link"),
    "html-lists": element("ul", "ol", "dl"),
    "html-marquee": element("marquee"),
    "html-meter": element("meter"),
    "html-object": element("object", "embed"),
    "html-p": element("p"),
    "html-picture": element("picture"),
    "html-pre": element("pre"),
    "html-progress": element("progress"),
    "html-rp": element("rp"),
    "html-rt": element("rt"),
    "html-ruby": element("ruby"),
    "html-select": element("select"),
    "html-semantics": element(
        "article",
        "aside",
        "details",
        "figcaption",
        "figure",
        "footer",
        "header",
        "main",
        "mark",
        "nav",
        "section",
        "summary",
        "time",
    ),
    "html-small": element("small"),
    "html-span": element("span"),
    "html-strike": element("strike"),
    "html-strong": element("strong"),
    "html-style": element("style"),
    "html-svg": element("svg"),
    "html-table": element("table"),
    "html-textarea": element("textarea"),
    "html-video": element("video"),
    "html-wbr": element("wbr"),
    # --- HTML attributes
    "html-align": attribute("align"),
    "html-aria-describedby": attribute("aria-describedby"),
    "html-aria-hidden": attribute("aria-hidden"),
    "html-aria-label": attribute("aria-label"),
    "html-aria-labelledby": attribute("aria-labelledby"),
    "html-aria-live": attribute("aria-live"),
    "html-background": attribute("background"),
    "html-cellpadding": attribute("cellpadding"),
    "html-cellspacing": attribute("cellspacing"),
    "html-dir": attribute("dir"),
    "html-height": attribute("height"),
    "html-hidden": attribute("hidden"),
    "html-lang": attribute("lang"),
    "html-loading-attribute": attribute("loading"),
    "html-popover": attribute("popover"),
    "html-required": attribute("required"),
    "html-role": attribute("role"),
    "html-srcset": attribute("srcset", "sizes"),
    "html-target": attribute("target"),
    "html-valign": attribute("valign"),
    "html-width": attribute("width"),
    "css-inert-attribute": attribute("inert"),
    # --- HTML element + attribute value
    "html-button-reset": special("button-reset"),
    "html-button-submit": special("button-submit"),
    "html-input-checkbox": special("input-checkbox"),
    "html-input-hidden": special("input-hidden"),
    "html-input-radio": special("input-radio"),
    "html-input-reset": special("input-reset"),
    "html-input-submit": special("input-submit"),
    "html-input-text": special("input-text"),
    "html-meta-color-scheme": special("meta-color-scheme"),
    "html-anchor-links": special("anchor-links"),
    "html-mailto-links": special("mailto-links"),
    "html-comments": special("html-comments"),
    "html-doctype": special("html5-doctype"),
    # --- image formats (img src/srcset, source srcset, background, poster, CSS url())
    "image-apng": image("apng"),
    "image-avif": image("avif"),
    "image-base64": image("base64"),
    "image-bmp": image("bmp"),
    "image-gif": image("gif"),
    "image-heif": image("heif", "heic"),
    "image-ico": image("ico", "x-icon", "vnd.microsoft.icon"),
    "image-jpg": image("jpg", "jpeg", "jpe", "jfif", "pjpeg"),
    "image-mp4": image("mp4", "m4v"),
    "image-png": image("png"),
    "image-svg": image("svg", "svgz", "svg+xml"),
    "image-tiff": image("tif", "tiff"),
    "image-webp": image("webp"),
}

UNDETECTABLE: dict[str, str] = {
    "bimi": "BIMI is a DNS record plus the sender's authentication results; nothing in the "
    "HTML shows it (the authentication check is the place for it).",
    "image-hdr": "HDR is a property of the image data (gain maps, transfer functions), not of "
    "the URL or the markup; telling it would need fetching and decoding every image.",
}
