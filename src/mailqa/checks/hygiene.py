"""HTML hygiene: what breaks or hurts a message beyond per-client CSS support.

Gmail clipping, images without a size, scripts/forms/iframes that clients strip (not the AMP
runtime and extensions an AMP document must load), embedded base64 images (and their size),
external stylesheets, a missing doctype or preheader (``lang``, ``<title>`` and ``alt`` are
the accessibility check's),
unbalanced or invalid markup (with line numbers), image-only mail and tracking pixels. One
rule id per kind of finding; each finding lists its locations (at most ``MAX_LOCATIONS``,
the total in ``data.occurrences``).

All rules read one linear pass over the shared document's source (``HtmlDocument.scan``): the
stdlib tokenizer and the tree's text walk are quadratic on some hostile input, this pass is
not. The visible text and the preheader are read from its text runs (``checks.inbox_text``),
the preview from ``HtmlDocument.preview``. Positions and snippets come from
``msg.html_document``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import BaseModel, Field

from mailqa.checks.inbox_text import InboxText
from mailqa.core.check import CheckContext
from mailqa.core.html import HtmlDocument
from mailqa.core.markup import (
    MAX_ISSUES_PER_KIND,
    MarkupKind,
    MarkupScan,
    StartTag,
)
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Finding, Location, Severity
from mailqa.core.rules import CheckRules, Rule

GMAIL_CLIP_BYTES = 102 * 1024
NEAR_CLIP_BYTES = 90 * 1024
MAX_LOCATIONS = 20
MANY_IMAGES_LIMIT = 40
TEXT_PART_MIN_HTML_CHARS = 400
TEXT_PART_MIN_RATIO = 0.2
"""A text part under 20% of the HTML's visible text (when that is 400+ chars) is short."""
IMAGE_ONLY_CHARS_PER_IMAGE = 50
IMAGE_ONLY_MAX_CHARS = 500
"""Image-only: under 50 visible characters per content image and under 500 in all."""

_STYLE_SIZE = re.compile(r"(?<![-\w])(width|height)\s*:\s*([\d.]+)?", re.I)
# Possessive: the white space around an optional "px" is read one way, not split every way
# (quadratic on a width of "1" and a long run of spaces before something else).
_PIXELS = re.compile(r"\s*+([\d.]++)\s*+(?:px)?+\s*+$", re.I)
_DATA_URI = re.compile(r"\s*data:", re.I)
_BASE64 = re.compile(r";\s*base64\s*$", re.I)
_IMPORT = re.compile(r"@import\b", re.I)
AMP_ATTRIBUTES = ("⚡4email", "amp4email", "⚡", "amp")
"""On ``<html>``, each makes the document AMP (AMP for Email, or an AMP page)."""
_AMP_SCRIPT = re.compile(
    r"https://cdn\.ampproject\.org/(?:lts/|rtv/\d{1,20}/)?v0"
    r"(?:/(amp-[a-z0-9-]{1,80})-(?:\d{1,4}\.\d{1,4}|latest))?\.m?js"
)
"""The AMP runtime (``v0.js``) and extensions (``v0/amp-bind-0.1.js``), with the release
channel and version paths AMP serves (``lts/``, ``rtv/<version>/``)."""

RULES = CheckRules(
    "hygiene",
    page="hygiene.md#rules",
    category="hygiene",
    penalties={Severity.ERROR: 20.0, Severity.WARNING: 5.0},
)
GMAIL_CLIPPING = RULES.rule(
    "gmail-clipping",
    "HTML is clipped by Gmail",
    Severity.ERROR,
    "Over 102 KB of HTML, Gmail hides the rest behind 'View entire message' (and the unsubscribe "
    "link and tracking pixel with it).",
)
NEAR_GMAIL_CLIPPING = RULES.rule(
    "near-gmail-clipping",
    "HTML is close to Gmail's clipping size",
    Severity.INFO,
    "Over 90 KB of HTML: send-time personalisation and tracking may push it over 102 KB.",
)
SCRIPT = RULES.rule(
    "script",
    "<script> in the message",
    Severity.ERROR,
    "Scripts are stripped by every client and scored by spam filters.",
)
FORM = RULES.rule(
    "form",
    "Form in the message",
    Severity.ERROR,
    "Forms are disabled or stripped by Gmail, Outlook and most webmail.",
)
IFRAME = RULES.rule(
    "iframe",
    "<iframe> in the message",
    Severity.ERROR,
    "Frames are stripped by email clients.",
)
EMBEDDED_OBJECT = RULES.rule(
    "embedded-object",
    "<object>, <embed> or <applet> in the message",
    Severity.ERROR,
    "Embedded objects are stripped by email clients and scored by spam filters.",
)
EXTERNAL_STYLESHEET = RULES.rule(
    "external-stylesheet",
    "External stylesheet",
    Severity.WARNING,
    "<link rel=stylesheet> and @import are ignored by most clients: inline the CSS.",
)
IMG_MISSING_DIMENSIONS = RULES.rule(
    "img-missing-dimensions",
    "Image without width and height",
    Severity.WARNING,
    "Without both dimensions the layout jumps, and Outlook shows images at their natural size.",
)
BASE64_IMAGE = RULES.rule(
    "base64-image",
    "Image embedded as a data: URI",
    Severity.WARNING,
    "data: images are blocked by Gmail and Outlook and inflate the message.",
)
TRACKING_PIXEL = RULES.rule(
    "tracking-pixel",
    "Tracking pixel",
    Severity.INFO,
    "Images of at most 1x1 px, usually open tracking.",
)
MANY_IMAGES = RULES.rule(
    "many-images",
    "Many images",
    Severity.INFO,
    "More than 40 content images: slow to load, often blocked.",
)
IMAGE_ONLY = RULES.rule(
    "image-only",
    "Mostly images, little text",
    Severity.WARNING,
    "Image-heavy mail with little text is blank when images are blocked and scores as spam.",
)
TEXT_PART_EMPTY = RULES.rule(
    "text-part-empty",
    "The text/plain part is empty",
    Severity.WARNING,
    "Clients and filters that read the text alternative get nothing.",
)
TEXT_PART_SHORT = RULES.rule(
    "text-part-short",
    "The text/plain part is much shorter than the HTML",
    Severity.INFO,
    "A text alternative under 20% of the HTML's text looks like a placeholder to filters.",
)
MISSING_DOCTYPE = RULES.rule(
    "missing-doctype",
    "No doctype",
    Severity.WARNING,
    "Without <!DOCTYPE html> before the first tag some clients render in quirks mode.",
)
MISSING_PREHEADER = RULES.rule(
    "missing-preheader",
    "No preheader text",
    Severity.INFO,
    "Inbox lists show the first text of the body next to the subject; a hidden preheader at the "
    "top of <body> lets you choose it.",
)
MARKUP_UNTERMINATED = RULES.rule(
    "markup-unterminated",
    "Markup never terminated",
    Severity.ERROR,
    "A comment, tag or <style>/<title>/<script> is never closed: clients swallow everything after "
    "it.",
)
MARKUP_UNCLOSED = RULES.rule(
    "markup-unclosed",
    "Element never closed",
    Severity.WARNING,
    "What follows renders inside it, and clients repair the tree in different ways.",
)
MARKUP_STRAY_END_TAG = RULES.rule(
    "markup-stray-end-tag",
    "End tag without a start tag",
    Severity.WARNING,
    "An end tag closes nothing: usually a typo, misnesting or a block pasted twice.",
)
MARKUP_INVALID_NESTING = RULES.rule(
    "markup-invalid-nesting",
    "Invalid nesting",
    Severity.WARNING,
    "Browsers restructure this markup (a block inside <p>, content directly inside <table>/<tr>), "
    "so the layout differs from the source.",
)
MARKUP_NESTED_LINK = RULES.rule(
    "markup-nested-link",
    "Link inside a link",
    Severity.WARNING,
    "Links cannot contain links; clients split them.",
)
MARKUP_DUPLICATE_ID = RULES.rule(
    "markup-duplicate-id",
    "Duplicate id",
    Severity.WARNING,
    "Two elements share an id: anchors and CSS aimed at it hit the wrong one.",
)
MARKUP_TRUNCATED = RULES.rule(
    "markup-truncated",
    "HTML too large to check completely",
    Severity.INFO,
    "Over 200,000 tags: markup, text and image rules cover only the part read.",
)

# The scan's markup issues: the rule of each kind and the message of its finding.
_MARKUP_RULES: dict[MarkupKind, tuple[Rule, str]] = {
    "unterminated": (
        MARKUP_UNTERMINATED,
        "A comment, tag or <style>/<title>/<script> is never closed: clients swallow "
        "everything after it.",
    ),
    "unclosed": (
        MARKUP_UNCLOSED,
        "An element is left open; what follows renders inside it, and clients repair the "
        "tree in different ways.",
    ),
    "stray": (
        MARKUP_STRAY_END_TAG,
        "An end tag closes nothing: usually a typo, misnesting or a block pasted twice.",
    ),
    "nesting": (
        MARKUP_INVALID_NESTING,
        "Browsers restructure this markup (a block inside <p> ends the paragraph; content "
        "directly inside <table>/<tr> is moved out of the table), so the layout differs "
        "from the source.",
    ),
    "nested-link": (
        MARKUP_NESTED_LINK,
        "Links cannot contain links; clients split them.",
    ),
    "duplicate-id": (
        MARKUP_DUPLICATE_ID,
        "Two elements share an id: anchors and CSS aimed at it hit the wrong one.",
    ),
}


class HygieneDetails(BaseModel):
    """The hygiene check's ``details`` payload."""

    html_bytes: int = Field(description="Size of the HTML part, UTF-8 encoded.")
    clip_threshold_bytes: int = GMAIL_CLIP_BYTES
    images: int
    content_images: int = Field(0, description="Images that are not tracking pixels.")
    tracking_pixels: int = 0
    embedded_images: int = Field(0, description="Images inlined as data: URIs.")
    embedded_image_bytes: int = Field(0, description="Decoded size of those data: URIs.")
    visible_text_chars: int = Field(description="Visible text, whitespace folded.")
    text_part_chars: int | None
    preheader: str | None = Field(None, description="Hidden preview text, if any.")
    preview: str = Field("", description="First visible text: what inboxes show without one.")
    tags: int = Field(0, description="Start and end tags read.")
    max_depth: int = Field(0, description="Deepest element nesting.")
    markup_truncated: bool = Field(
        False, description="More than core.markup.MAX_TAGS tags: the rest was not read."
    )


@dataclass
class _Collector:
    """Findings by rule, each with its locations (capped, the rest counted)."""

    doc: HtmlDocument
    findings: dict[str, Finding] = field(default_factory=dict)
    extra: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(
        self,
        rule: Rule,
        message: str,
        *,
        title: str | None = None,
        severity: Severity | None = None,
        offset: int | None = None,
        data: Mapping[str, object] | None = None,
    ) -> None:
        """A location of ``rule``'s finding; the first call makes the finding (its title,
        severity, message and data)."""
        finding = self.findings.get(rule.id)
        if finding is None:
            finding = rule.finding(message, title=title, severity=severity, data=data)
            self.findings[rule.id] = finding
        if offset is None:
            return
        if len(finding.locations) >= MAX_LOCATIONS:
            self.extra[rule.id] += 1
            return
        line, column = self.doc.position(offset)
        finding.locations.append(
            Location(part="html", line=line, column=column, snippet=self.doc.snippet(line, column))
        )

    def add_each(
        self,
        rule: Rule,
        message: str,
        offsets: Iterable[int],
        *,
        title: str | None = None,
        severity: Severity | None = None,
    ) -> None:
        for offset in offsets:
            self.add(rule, message, title=title, severity=severity, offset=offset)

    def result(self) -> list[Finding]:
        out = []
        for rule_id, finding in self.findings.items():
            count = len(finding.locations) + self.extra.get(rule_id, 0)
            if count:
                finding.data["occurrences"] = count
            if self.extra.get(rule_id):
                finding.message += f" ({self.extra[rule_id]} more occurrences not listed)"
            out.append(finding)
        return out


def _pixels(value: str) -> float | None:
    """A width/height in pixels; None when relative (50%, auto) or not a number."""
    match = _PIXELS.match(value)
    if match is None:
        return None
    try:
        return float(match.group(1))
    except ValueError:  # "1.2.3"
        return None


@dataclass(frozen=True)
class _Image:
    tag: StartTag
    src: str
    width: float | None
    height: float | None
    sized: bool
    """Both width and height are given (attribute or inline style)."""

    @property
    def is_pixel(self) -> bool:
        return (
            self.width is not None
            and self.height is not None
            and self.width <= 1
            and self.height <= 1
        )


def _image(tag: StartTag) -> _Image:
    size: dict[str, float | None] = {}
    for name, value in _STYLE_SIZE.findall(tag.get("style") or ""):
        size.setdefault(name.lower(), _pixels(value) if value else None)
    for name in ("width", "height"):
        value = tag.get(name)
        if value is not None and value.strip():
            size[name] = _pixels(value)  # the attribute is what Outlook reads
    return _Image(
        tag=tag,
        src=(tag.get("src") or "").strip(),
        width=size.get("width"),
        height=size.get("height"),
        sized="width" in size and "height" in size,
    )


def data_uri_bytes(uri: str) -> int:
    """Decoded size of a data: URI's payload (base64: 3 bytes per 4 characters)."""
    header, comma, payload = uri.partition(",")
    if not comma:
        return 0
    if _BASE64.search(header):
        chars = len(payload) - sum(payload.count(c) for c in "= \t\r\n")
        return max(chars, 0) * 3 // 4
    return len(payload)


class HygieneCheck:
    name: ClassVar[str] = "hygiene"
    rules: ClassVar[CheckRules] = RULES
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = True
    blocking: ClassVar[bool] = True

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        if msg.html is None:
            return CheckResult.skipped(self.name, "no HTML part")
        return analyse(msg.html_document, msg.text, name=self.name)


def analyse(doc: HtmlDocument, text_part: str | None, *, name: str = "hygiene") -> CheckResult:
    """Every hygiene rule over one HTML document (and the message's text part, if any)."""
    scan = doc.scan
    inbox = InboxText.of(scan)
    found = _Collector(doc)
    html_bytes = len(doc.source.encode("utf-8", "surrogatepass"))
    _size(found, html_bytes)
    _document(found, scan, inbox.preheader, doc.preview)
    _elements(found, scan)
    images = [_image(tag) for tag in scan.named("img")]
    embedded = _images(found, scan, images)
    _text(found, scan, images, text_part, inbox.visible_chars)
    _markup(found, scan)
    findings = found.result()
    errors = sum(f.severity == Severity.ERROR for f in findings)
    warnings = sum(f.severity == Severity.WARNING for f in findings)
    pixels = sum(image.is_pixel for image in images)
    details = HygieneDetails(
        html_bytes=html_bytes,
        images=len(images),
        content_images=len(images) - pixels,
        tracking_pixels=pixels,
        embedded_images=len(embedded),
        embedded_image_bytes=sum(embedded),
        visible_text_chars=inbox.visible_chars,
        text_part_chars=None if text_part is None else len(" ".join(text_part.split())),
        preheader=inbox.preheader,
        preview=doc.preview,
        tags=scan.tag_count,
        max_depth=scan.max_depth,
        markup_truncated=scan.truncated,
    )
    return CheckResult.from_findings(
        name,
        findings,
        RULES.penalties,
        summary=f"{errors} error(s), {warnings} warning(s), "
        f"{len(findings) - errors - warnings} note(s)",
        details=details.model_dump(),
    )


def _size(found: _Collector, size: int) -> None:
    data = {"bytes": size, "threshold": GMAIL_CLIP_BYTES}
    if size > GMAIL_CLIP_BYTES:
        found.add(
            GMAIL_CLIPPING,
            f"The HTML is {size} bytes ({size / 1024:.1f} KB); Gmail cuts everything after "
            f"{GMAIL_CLIP_BYTES} bytes (102 KB) behind a 'View entire message' link "
            "(including tracking pixels and unsubscribe links at the bottom).",
            data=data,
        )
    elif size > NEAR_CLIP_BYTES:
        found.add(
            NEAR_GMAIL_CLIPPING,
            f"The HTML is {size} bytes ({size / 1024:.1f} KB); Gmail clips at "
            f"{GMAIL_CLIP_BYTES} bytes. Personalisation and tracking added at send time can "
            "push it over.",
            data=data,
        )


def _document(found: _Collector, scan: MarkupScan, preheader: str | None, preview: str) -> None:
    doctype, first_tag = scan.doctype_offset, scan.first_tag_offset
    if doctype is None or (first_tag is not None and first_tag < doctype):
        found.add(
            MISSING_DOCTYPE,
            "Without <!DOCTYPE html> before the first tag some clients render in quirks mode "
            "(box model and table spacing differ).",
            offset=doctype,
        )
    if preheader is None:
        found.add(
            MISSING_PREHEADER,
            "Inbox lists show the first text of the body next to the subject; a hidden "
            f"preheader at the top of <body> lets you choose it. Shown now: {preview[:100]!r}",
            data={"preview": preview},
        )


def _elements(found: _Collector, scan: MarkupScan) -> None:
    if _is_amp(scan):
        found.add_each(
            SCRIPT,
            "An AMP email may load only the AMP runtime (https://cdn.ampproject.org/v0.js) "
            "and AMP extensions (async, with custom-element or custom-template); other scripts "
            "make it invalid, and clients then show the HTML part instead.",
            (t.offset for t in scan.named("script") if not _is_amp_script(t)),
        )
    else:
        found.add_each(
            SCRIPT,
            "Every email client strips scripts, and spam filters score them.",
            (t.offset for t in scan.named("script") if not _is_data_block(t)),
        )
    found.add_each(
        FORM,
        "Gmail, Outlook and most webmail disable or strip forms; link to a web page instead.",
        (t.offset for t in scan.named("form")),
    )
    found.add_each(
        IFRAME,
        "Clients strip iframes; spam filters score them.",
        (t.offset for t in scan.named("iframe")),
    )
    plugins = scan.named("object") + scan.named("embed") + scan.named("applet")
    found.add_each(
        EMBEDDED_OBJECT,
        "Plug-in content never renders in email clients.",
        sorted(t.offset for t in plugins),
    )
    sheets = [t.offset for t in scan.named("link") if _is_stylesheet(t)]
    imports = [s.offset + m.start() for s in scan.styles for m in _IMPORT.finditer(s.text)]
    found.add_each(
        EXTERNAL_STYLESHEET,
        "Gmail, Outlook and many others ignore <link rel=stylesheet> and @import; inline "
        "the CSS or put it in a <style> block.",
        sorted(sheets + imports),
    )


def _is_amp(scan: MarkupScan) -> bool:
    html_tags = scan.named("html")
    return bool(html_tags) and any(name in html_tags[0].attrs for name in AMP_ATTRIBUTES)


def _is_amp_script(tag: StartTag) -> bool:
    """The AMP runtime or an extension, as AMP requires it: loaded ``async`` from the AMP
    CDN, an extension naming itself in ``custom-element`` or ``custom-template``."""
    match = _AMP_SCRIPT.fullmatch((tag.get("src") or "").strip())
    if match is None or "async" not in tag.attrs:
        return False
    names = [tag.get(attr) for attr in ("custom-element", "custom-template") if attr in tag.attrs]
    extension = match.group(1)
    return names == [extension] if extension else not names


# The types HTML runs as script: the spec's JavaScript MIME type essences, and modules.
_SCRIPT_TYPES = frozenset(
    (
        "module",
        "application/ecmascript",
        "application/javascript",
        "application/x-ecmascript",
        "application/x-javascript",
        "text/ecmascript",
        "text/javascript",
        *(f"text/javascript1.{n}" for n in range(6)),
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    )
)


def _is_data_block(tag: StartTag) -> bool:
    """A ``<script>`` HTML never runs: a data block by its type, such as the schema.org
    JSON-LD (``application/ld+json``) that Gmail reads for actions and highlights."""
    kind = (tag.get("type") or "").split(";")[0].strip().lower()
    return bool(kind) and kind not in _SCRIPT_TYPES


def _is_stylesheet(tag: StartTag) -> bool:
    return "stylesheet" in (tag.get("rel") or "").lower().split()


def _images(found: _Collector, scan: MarkupScan, images: list[_Image]) -> list[int]:
    """Image rules; returns the decoded size of each data: URI image."""
    content = [image for image in images if not image.is_pixel]
    found.add_each(
        IMG_MISSING_DIMENSIONS,
        "Outlook for Windows shows images at their natural size without width/height "
        "attributes, and layouts jump while images load.",
        (image.tag.offset for image in content if not image.sized),
    )
    sources = [(image.tag.offset, image.src) for image in images]
    sources += [(t.offset, (t.get("background") or "").strip()) for t in scan.backgrounds]
    embedded = sorted(
        (offset, data_uri_bytes(src)) for offset, src in sources if _DATA_URI.match(src)
    )
    sizes = [size for _, size in embedded]
    for offset, _ in embedded:
        found.add(
            BASE64_IMAGE,
            f"{len(embedded)} image(s) inlined as data: URIs, {sum(sizes)} bytes decoded: "
            "Gmail and Outlook block data: images, and they inflate the HTML toward Gmail's "
            "clipping size; host the image or attach it inline (cid:).",
            offset=offset,
            data={"bytes": sum(sizes), "sizes": sizes[:MAX_LOCATIONS]},
        )
    pixels = [image for image in images if image.is_pixel]
    for image in pixels:
        found.add(
            TRACKING_PIXEL,
            "A 1x1 image: privacy-minded clients (Apple Mail Privacy Protection) preload or "
            "block it, so open rates are unreliable.",
            offset=image.tag.offset,
            data={"sources": [p.src[:200] for p in pixels[:MAX_LOCATIONS]]},
        )
    if len(content) > MANY_IMAGES_LIMIT:
        found.add(
            MANY_IMAGES,
            f"More than {MANY_IMAGES_LIMIT} images slow rendering and raise spam scores.",
            title=f"{len(content)} images",
            data={"images": len(content), "threshold": MANY_IMAGES_LIMIT},
        )
    return sizes


def _text(
    found: _Collector,
    scan: MarkupScan,
    images: list[_Image],
    text_part: str | None,
    visible: int,
) -> None:
    content = sum(not image.is_pixel for image in images)
    if (
        content
        and not scan.truncated
        and visible < IMAGE_ONLY_CHARS_PER_IMAGE * content
        and visible < IMAGE_ONLY_MAX_CHARS
    ):
        found.add(
            IMAGE_ONLY,
            f"{content} image(s) and {visible} characters of text: with images blocked the "
            "message is empty, and spam filters score a low text-to-image ratio.",
            data={"images": content, "text_chars": visible},
        )
    if text_part is None:
        return  # the headers check reports the missing text/plain part
    text_chars = len(" ".join(text_part.split()))
    if not text_chars:
        found.add(
            TEXT_PART_EMPTY,
            "Clients that show the plain-text alternative (and some filters) see an empty message.",
        )
    elif (
        not scan.truncated
        and visible > TEXT_PART_MIN_HTML_CHARS
        and text_chars < TEXT_PART_MIN_RATIO * visible
    ):
        found.add(
            TEXT_PART_SHORT,
            f"The text part has {text_chars} characters, the HTML {visible}: check that it "
            "carries the same content.",
            data={"text_chars": text_chars, "html_text_chars": visible},
        )


def _markup(found: _Collector, scan: MarkupScan) -> None:
    notes: dict[str, list[str]] = defaultdict(list)
    for issue in sorted(scan.issues, key=lambda i: i.offset):
        rule, message = _MARKUP_RULES[issue.kind]
        found.add(rule, message, offset=issue.offset)
        if len(notes[rule.id]) < MAX_LOCATIONS:
            notes[rule.id].append(issue.message)
    for kind, count in scan.issue_counts.items():
        unlisted = count - min(count, MAX_ISSUES_PER_KIND)  # counted by the scan, not kept
        if unlisted:
            found.extra[_MARKUP_RULES[kind][0].id] += unlisted
    for rule_id, messages in notes.items():
        # What each listed location is, in the same order ("<div> not closed before </td>").
        found.findings[rule_id].data["problems"] = messages
    if scan.truncated:
        found.add(
            MARKUP_TRUNCATED,
            f"Stopped after {scan.tag_count} tags; markup, text and image rules cover only "
            "that part.",
            data={"tags": scan.tag_count},
        )
