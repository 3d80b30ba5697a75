"""Every accessibility rule over one HTML document: the shared scan (elements with their
depths, text runs with the element around each), the cascade of ``styles`` and the client
overlay. Linear in the document: subtrees are index ranges of the scan's elements, text runs
are found by bisection, and nested constructs are read once from their outermost element.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import langcodes
from pydantic import BaseModel, Field

from mailqa.checks.accessibility import rules as r
from mailqa.checks.accessibility.overlay import ClientOverlay
from mailqa.checks.accessibility.styles import Cascade, TextStyle, contrast, hex_colour
from mailqa.checks.accessibility.vocabulary import (
    ARIA_ATTRIBUTES,
    ARIA_ROLES,
    FOCUSABLE,
    RTL_LANGUAGES,
    meaningless_alt,
    vague_link_languages,
    without_merge_tags,
    words,
)
from mailqa.checks.inbox_text import InboxText
from mailqa.core.budget import checkpoint
from mailqa.core.html import HtmlDocument
from mailqa.core.markup import StartTag, TextRun
from mailqa.core.report import CheckResult, Finding, Location, Severity

MAX_LOCATIONS = 20
MAX_REVIEW = 50
NORMAL_CONTRAST = 4.5
LARGE_CONTRAST = 3.0
LINK_CONTRAST = 3.0
LARGE_PX = 24.0
LARGE_BOLD_PX = 18.66
SMALL_PX = 12.0
HEADING_LIKE_PX = 20.0
HEADING_LIKE_MAX_CHARS = 80
JUSTIFIED_MIN_CHARS = 200
ALL_CAPS_MIN_LETTERS = 40
SPACER_MAX_PX = 2.0
IMAGE_ONLY_CHARS_PER_IMAGE = 50
IMAGE_ONLY_MAX_CHARS = 500
"""The hygiene check's image-only thresholds: under 50 visible characters per content image
and under 500 in all."""
MAX_INLINE_NESTING = 32
MAX_LINK_CONTENT = 64
"""Elements inside a link read for the alt of its images."""
MAX_WRAPPER_CANDIDATES = 32
"""Elements with lang or dir weighed as the body's wrapper (the outermost come first)."""
HEADING_ONE_MIN_CHARS = 200
"""Messages with less visible text than this (a receipt line, a notification) need no <h1>."""

UNDETERMINED = "und"
"""The BCP 47 tag for "language not determined": as good as none to a screen reader."""
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*$", re.I)
_STYLE_SIZE = re.compile(r"(?<![-\w])(width|height)\s*:\s*(\d+(?:\.\d+)?)\s*px", re.I)
_SPACER_SRC = re.compile(
    r"spacer|blank\.gif|pixel\.gif|clear\.gif|shim\.gif|transparent\.gif", re.I
)
_LETTER = re.compile(r"[^\W\d_]", re.U)
_ANIMATION = re.compile(r"(?<![-\w])animation(?:-name)?\s*:|@keyframes", re.I)
_REDUCED_MOTION = re.compile(r"prefers-reduced-motion", re.I)
_VIEWPORT_PART = re.compile(r"([\w-]+)\s*=\s*([^,;\s]+)")


class ReviewItem(BaseModel):
    """Something a machine cannot decide, for a person to look at."""

    kind: str = Field(
        description="alt-text, contrast, link-colour, dark-mode, animated-image, language"
    )
    question: str
    rule: str | None = Field(default=None, description="The rule it would be a finding of.")
    line: int | None = None
    column: int | None = None
    snippet: str | None = None


class HeadingOutline(BaseModel):
    level: int
    text: str
    line: int


class AccessibilityDetails(BaseModel):
    """The accessibility check's ``details`` payload."""

    needs_review: list[ReviewItem] = Field(
        default_factory=list,
        description="What a machine cannot decide (is this alt right for the image?), apart "
        f"from the findings; at most {MAX_REVIEW}.",
    )
    needs_review_total: int = 0
    language: str | None = Field(default=None, description="The lang that covers the body.")
    direction: str | None = None
    headings: list[HeadingOutline] = Field(default_factory=list)
    images: int = 0
    images_without_alt: int = 0
    links: int = 0
    text_checked: int = Field(0, description="Elements whose text contrast was computed.")
    contrast_unknown: int = Field(0, description="Elements whose colours cannot be known.")
    css_truncated: bool = Field(
        False, description="Over 300,000 characters of <style>: the rest was not read."
    )
    targets: list[str] = Field(default_factory=list, description="Client ids of the overlay.")
    wcag: dict[str, str] = Field(
        default_factory=dict, description="Rule id -> the WCAG 2.2 success criterion."
    )


@dataclass
class _Findings:
    """Findings by rule and severity, each with its locations (capped, the rest counted)."""

    doc: HtmlDocument
    findings: dict[tuple[str, Severity], Finding] = field(default_factory=dict)
    counts: dict[tuple[str, Severity], int] = field(default_factory=dict)

    def add(
        self,
        rule: r.A11yRule,
        message: str,
        *,
        offset: int | None = None,
        severity: Severity | None = None,
        impact: r.ImpactLevel | None = None,
        title: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Finding:
        if impact is not None and severity is None:
            severity = r.SEVERITY_OF_IMPACT[impact]
        severity = severity or rule.rule.severity
        key = (rule.id, severity)
        finding = self.findings.get(key)
        if finding is None:
            extra = {
                "wcag": rule.criterion.number or None,
                "wcag_level": rule.criterion.level,
                "criterion": rule.criterion.label,
                "impact": impact or rule.impact,
                "fix": rule.fix,
            }
            finding = rule.rule.finding(
                f"{message} Fix: {rule.fix}",
                title=title,
                severity=severity,
                data={**extra, **(data or {})},
            )
            self.findings[key] = finding
            self.counts[key] = 0
        if offset is not None:
            self.counts[key] += 1
            if len(finding.locations) < MAX_LOCATIONS:
                finding.locations.append(location(self.doc, offset))
        return finding

    def result(self) -> list[Finding]:
        order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
        out = []
        for key, finding in self.findings.items():
            count = self.counts[key]
            finding.data["occurrences"] = max(count, 1)
            if count > len(finding.locations):
                finding.message += f" ({count - len(finding.locations)} more not listed)"
            out.append(finding)
        return sorted(out, key=lambda f: (order[f.severity], f.rule))


def location(doc: HtmlDocument, offset: int) -> Location:
    line, column = doc.position(offset)
    return Location(part="html", line=line, column=column, snippet=doc.snippet(line, column))


class _Document:
    """The scan read as a tree: parents, subtree ranges, text per subtree, styles."""

    def __init__(self, doc: HtmlDocument) -> None:
        self.doc = doc
        self.scan = doc.scan
        self.elements = self.scan.elements
        self.cascade = Cascade(self.scan)
        self.parents = self.cascade.parents
        self.ends = _subtree_ends(self.scan.depths)
        # Hidden as the cascade says (display, visibility, zero opacity, height or size),
        # not by the scan's guess from a "preheader" class name: some are visible.
        self.runs: list[TextRun] = [run for run in self.scan.texts if self._shown(run)]
        self.run_offsets = [run.offset for run in self.runs]
        self.by_offset = {tag.offset: index for index, tag in enumerate(self.elements)}

    def _shown(self, run: TextRun) -> bool:
        style = self.cascade.style(run.element)
        return not style.hidden and style.font_px != 0

    def style(self, index: int) -> TextStyle:
        return self.cascade.style(index)

    def subtree(self, index: int) -> range:
        return range(index + 1, self.ends[index])

    def runs_in(self, index: int) -> Iterable[TextRun]:
        """The visible text runs inside the element ``index``, in order."""
        start = self.elements[index].offset
        end_index = self.ends[index]
        end = self.elements[end_index].offset if end_index < len(self.elements) else None
        lo = bisect.bisect_left(self.run_offsets, start)
        hi = len(self.runs) if end is None else bisect.bisect_left(self.run_offsets, end, lo)
        for run in self.runs[lo:hi]:
            if index <= run.element < end_index:
                yield run

    def text_of(self, index: int, limit: int = 2000) -> str:
        parts: list[str] = []
        size = 0
        for run in self.runs_in(index):
            parts.append(run.text)
            size += len(run.text)
            if size >= limit:
                break
        return " ".join(parts)[:limit]

    @cached_property
    def in_control(self) -> list[bool]:
        """Whether each element is a link or button, or inside one."""
        spans = (
            range(i, self.ends[i])
            for i, tag in enumerate(self.elements)
            if tag.name in ("a", "button")
        )
        return _marker(len(self.elements), spans)

    @cached_property
    def own_runs(self) -> dict[int, list[TextRun]]:
        """The visible runs directly inside each element (not in its children)."""
        out: dict[int, list[TextRun]] = {}
        for run in self.runs:
            out.setdefault(run.element, []).append(run)
        return out


def _subtree_ends(depths: Sequence[int]) -> list[int]:
    """For each element, the index of the first element after its subtree."""
    ends = [len(depths)] * len(depths)
    open_: list[int] = []
    for index, depth in enumerate(depths):
        while open_ and depths[open_[-1]] >= depth:
            ends[open_.pop()] = index
        open_.append(index)
    return ends


def _review(
    reviews: list[ReviewItem],
    doc: HtmlDocument,
    kind: str,
    question: str,
    offset: int | None,
    rule: r.A11yRule | None = None,
) -> None:
    item = ReviewItem(kind=kind, question=question, rule=rule.id if rule else None)
    if offset is not None:
        where = location(doc, offset)
        item.line, item.column, item.snippet = where.line, where.column, where.snippet
    reviews.append(item)


def analyse_document(
    doc: HtmlDocument, targets: Sequence[str] = ("*",)
) -> tuple[list[Finding], AccessibilityDetails]:
    """Every rule over ``doc``; the client overlay reads the ``targets`` globs."""
    tree = _Document(doc)
    overlay = ClientOverlay(targets)
    found = _Findings(doc)
    reviews: list[ReviewItem] = []
    details = AccessibilityDetails(targets=[c.id for c in overlay.targets])
    visible_chars = InboxText.of(doc.scan).visible_chars
    _language(tree, found, overlay, reviews, details, visible_chars)
    _tables(tree, found, overlay)
    _headings(tree, found, details, visible_chars)
    _images(tree, found, reviews, details, visible_chars)
    _links(tree, found, reviews, details)
    _text(tree, found, reviews, details)
    _document_rules(tree, found, overlay)
    _aria(tree, found, overlay)
    details.css_truncated = tree.cascade.sheets.truncated
    findings = found.result()
    details.needs_review_total = len(reviews)
    details.needs_review = reviews[:MAX_REVIEW]
    details.wcag = {f.rule: str(f.data.get("criterion", "")) for f in findings}
    return findings, details


def _language(
    tree: _Document,
    found: _Findings,
    overlay: ClientOverlay,
    reviews: list[ReviewItem],
    details: AccessibilityDetails,
    visible_chars: int,
) -> None:
    elements = tree.elements
    html_index = next((i for i, t in enumerate(elements) if t.name == "html"), None)
    body_index = next((i for i, t in enumerate(elements) if t.name == "body"), None)
    html = elements[html_index] if html_index is not None else None
    html_lang = (html.get("lang") or html.get("xml:lang") or "").strip() if html else ""
    if html_lang.lower() == UNDETERMINED:
        html_lang = ""  # MJML's default: the language is left undetermined
    html_dir = (html.get("dir") or "").strip().lower() if html else ""
    for tag in elements:
        for name in ("lang", "xml:lang"):
            value = tag.get(name)
            if value is None or not value.strip():
                continue
            if "_" in value or not langcodes.tag_is_valid(value.strip()):
                found.add(
                    r.LANG_INVALID,
                    f'{name}="{value[:40]}" is not a BCP 47 language tag.',
                    offset=tag.offset,
                )
    # The wrapper: an element inside <body> with lang whose text is most of the message's.
    scope = tree.subtree(body_index) if body_index is not None else range(len(elements))
    wrapper_lang = wrapper_dir = None
    candidates = (
        i
        for i in scope
        if elements[i].name not in ("html", "body")
        and ("lang" in elements[i].attrs or "dir" in elements[i].attrs)
    )
    for index in itertools.islice(candidates, MAX_WRAPPER_CANDIDATES):
        tag = elements[index]
        lang, direction = tag.get("lang"), tag.get("dir")
        half = visible_chars // 2
        if half and len(tree.text_of(index, half)) < half:
            continue
        if lang and lang.strip().lower() != UNDETERMINED and wrapper_lang is None:
            wrapper_lang = lang.strip()
        if direction and direction.strip() and wrapper_dir is None:
            wrapper_dir = direction.strip().lower()
        if wrapper_lang and wrapper_dir:
            break
    details.language = wrapper_lang or html_lang or None
    details.direction = wrapper_dir or html_dir or None
    lang_clients, lang_losses = overlay.say(["html-lang"], "lang")
    webmail = [c.name for c in overlay.html_element_dropped()]
    dropped = (
        f" {', '.join(webmail[:4])} drop the <html> element and its lang: put it on the "
        "wrapper too."
        if webmail
        else ""
    )
    html_offset = html.offset if html is not None else None
    if not html_lang and not wrapper_lang:
        found.add(
            r.HTML_LANG,
            f"No lang on <html> nor on the body's wrapper: screen readers read the text in "
            f"the reader's own language.{dropped} {lang_clients}",
            offset=html_offset,
            data={"clients": lang_losses},
        )
    elif html_lang and not wrapper_lang and webmail:
        found.add(
            r.WRAPPER_LANG,
            f'lang="{html_lang[:20]}" is only on <html>.{dropped} {lang_clients}',
            offset=html_offset,
            data={"clients": lang_losses, "webmail": webmail},
        )
    if details.language:
        _review(
            reviews,
            tree.doc,
            "language",
            f'Is lang="{details.language[:20]}" the language the text is written in?',
            html_offset,
            r.LANG_INVALID,
        )
    primary = (details.language or "").split("-")[0].lower()
    dir_clients, dir_losses = overlay.say(["html-dir"], "dir")
    if primary in RTL_LANGUAGES and details.direction != "rtl":
        found.add(
            r.DIR_MISSING,
            f'The message is in a right-to-left language (lang="{details.language}") '
            f'without dir="rtl". {dir_clients}',
            offset=html_offset,
            data={"clients": dir_losses},
        )
    elif html_dir in ("rtl", "auto") and not wrapper_dir and webmail:
        found.add(
            r.WRAPPER_DIR,
            f'dir="{html_dir}" is only on <html>; {", ".join(webmail[:4])} drop it. {dir_clients}',
            offset=html_offset,
            data={"clients": dir_losses},
        )


_TABLE_DATA_ROLES = frozenset({"table", "grid", "treegrid"})
_LAYOUT_ROLES = frozenset({"presentation", "none"})


def _first_role(tag: StartTag) -> str | None:
    """The role an element takes: the first known token of ``role`` (fallback roles)."""
    for token in (tag.get("role") or "").lower().split():
        if token in ARIA_ROLES:
            return token
    return None


def _tables(tree: _Document, found: _Findings, overlay: ClientOverlay) -> None:
    elements = tree.elements
    role_clients, role_losses = overlay.say(["html-role"], "role")
    for index, tag in enumerate(elements):
        if tag.name != "table":
            continue
        role = _first_role(tag)
        if role in _LAYOUT_ROLES:
            continue
        headers = caption = False
        inner, end = index + 1, tree.ends[index]
        while inner < end:
            name = elements[inner].name
            if name == "table":
                inner = tree.ends[inner]  # a nested table is judged on its own
                continue
            inner += 1
            if name == "th" or (name == "td" and "scope" in elements[inner - 1].attrs):
                headers = True
                break
            elif name in ("caption", "thead"):
                caption = True
        if headers:
            continue  # a data table with header cells
        if caption or role in _TABLE_DATA_ROLES or "summary" in tag.attrs:
            found.add(
                r.DATA_TABLE_HEADERS,
                "A table with a caption, header group, summary or table role, but no <th> "
                "cell: each value is read without its row and column.",
                offset=tag.offset,
            )
        else:
            found.add(
                r.LAYOUT_TABLE,
                'Tables used for layout are announced as data tables ("table, 3 rows, 2 '
                f'columns") unless they carry role="presentation". {role_clients}',
                offset=tag.offset,
                data={"clients": role_losses},
            )


def _headings(
    tree: _Document, found: _Findings, details: AccessibilityDetails, visible_chars: int
) -> None:
    elements = tree.elements
    previous: int | None = None
    heading_ranges: list[range] = []
    for index, tag in enumerate(elements):
        level = _HEADINGS.get(tag.name)
        if level is None or tree.style(index).hidden:
            continue
        heading_ranges.append(range(index, tree.ends[index]))
        text = tree.text_of(index, 120)
        line = tree.doc.position(tag.offset)[0]
        details.headings.append(HeadingOutline(level=level, text=text, line=line))
        if previous is not None and level > previous + 1:
            found.add(
                r.HEADING_ORDER,
                f"<h{level}> follows <h{previous}>: a level is skipped.",
                offset=tag.offset,
            )
        previous = level
    if not any(h.level == 1 for h in details.headings) and visible_chars >= HEADING_ONE_MIN_CHARS:
        first = details.headings[0] if details.headings else None
        body = next((t.offset for t in elements if t.name == "body"), None)
        found.add(
            r.HEADING_ONE,
            "No <h1>: the message has no main heading to navigate to"
            + (f"; its first heading is an <h{first.level}>." if first else "."),
            offset=next((elements[x.start].offset for x in heading_ranges), body),
        )
    # Text that looks like a heading: large (or large and bold) short text outside headings.
    in_heading = _marker(len(elements), heading_ranges)
    seen: set[int] = set()
    for run in tree.runs:
        element = run.element
        if element < 0 or in_heading[element] or element in seen:
            continue
        style = tree.style(element)
        size = style.font_px
        if size is None or not (size >= LARGE_PX or (size >= HEADING_LIKE_PX and style.bold)):
            continue
        if tree.in_control[element]:
            continue
        block = _block_of(tree, element)
        if block in seen:
            continue
        seen.update((element, block))
        text = tree.text_of(block, HEADING_LIKE_MAX_CHARS + 1)
        letters = _LETTER.findall(without_merge_tags(text))
        if len(text) > HEADING_LIKE_MAX_CHARS or len(letters) < 3:
            continue
        found.add(
            r.HEADING_STYLED,
            f'"{text[:60]}" is styled as a heading ({size:g} px'
            + (", bold" if style.bold else "")
            + ") but is not one.",
            offset=elements[block].offset,
        )


_INLINE = words(
    "a abbr b bdi bdo big cite code em font i kbd mark q s samp small span strike strong sub "
    "sup tt u"
)


def _block_of(tree: _Document, index: int) -> int:
    """The nearest element that is not an inline one (the cell or paragraph of a span)."""
    current = index
    for _ in range(MAX_INLINE_NESTING):
        if tree.elements[current].name not in _INLINE:
            break
        parent = tree.parents[current]
        if parent < 0:
            break
        current = parent
    return current


def _marker(size: int, ranges: Iterable[range]) -> list[bool]:
    marks = [False] * size
    for span in ranges:
        for index in span:
            if marks[index]:
                break
            marks[index] = True
    return marks


def _pixels(tag: StartTag, name: str) -> float | None:
    value = tag.get(name)
    if value is not None:
        match = _SIZE.match(value)
        if match:
            return float(match.group(1))
    for prop, number in _STYLE_SIZE.findall(tag.get("style") or ""):
        if prop.lower() == name:
            return float(number)
    return None


def _is_spacer(tag: StartTag) -> bool:
    width, height = _pixels(tag, "width"), _pixels(tag, "height")
    small = [s for s in (width, height) if s is not None and s <= SPACER_MAX_PX]
    return bool(small) or bool(_SPACER_SRC.search(tag.get("src") or ""))


def _images(
    tree: _Document,
    found: _Findings,
    reviews: list[ReviewItem],
    details: AccessibilityDetails,
    visible_chars: int,
) -> None:
    elements = tree.elements
    content = alt_chars = 0
    for index, tag in enumerate(elements):
        if tag.name != "img" or tree.style(index).hidden:
            continue
        details.images += 1
        alt = tag.get("alt")
        spacer = _is_spacer(tag)
        if not spacer:
            content += 1
        if alt is None:
            details.images_without_alt += 1
            if spacer:
                found.add(
                    r.IMG_ALT,
                    'A spacer or tracking image without alt="": some screen readers read its '
                    "file name.",
                    offset=tag.offset,
                    impact="minor",
                    title='Spacer image without alt=""',
                )
            else:
                found.add(
                    r.IMG_ALT,
                    "Without alt, screen readers read the file name, and a blocked image "
                    "leaves a blank.",
                    offset=tag.offset,
                )
            continue
        text = alt.strip()
        alt_chars += len(text)
        if not text:
            continue  # decorative, as intended (a linked one is judged by the link rule)
        why = meaningless_alt(text)
        if why is not None:
            found.add(
                r.ALT_MEANINGLESS,
                f'alt="{text[:60]}" is {why}.',
                offset=tag.offset,
            )
            continue
        if not spacer:
            _review(
                reviews,
                tree.doc,
                "alt-text",
                f'Does alt="{text[:80]}" say what the image shows (or says)?',
                tag.offset,
                r.ALT_MEANINGLESS,
            )
        if (tag.get("src") or "").lower().split("?")[0].endswith(".gif") and not spacer:
            _review(
                reviews,
                tree.doc,
                "animated-image",
                "If this GIF is animated: does it stop within 5 s and never flash more than "
                "3 times a second (WCAG 2.2.2, 2.3.1)?",
                tag.offset,
            )
    if (
        content
        and visible_chars < IMAGE_ONLY_CHARS_PER_IMAGE * content
        and (visible_chars < IMAGE_ONLY_MAX_CHARS)
    ):
        first = next((t.offset for t in elements if t.name == "img" and not _is_spacer(t)), None)
        if alt_chars == 0:
            found.add(
                r.IMAGE_ONLY,
                f"{content} image(s), {visible_chars} characters of text and no alt text: "
                "a screen reader reads nothing of this message, and with images off it is "
                "blank.",
                offset=first,
                impact="critical",
                data={"images": content, "text_chars": visible_chars},
            )
        else:
            found.add(
                r.IMAGE_ONLY,
                f"{content} image(s) and {visible_chars} characters of text: the message's "
                "text is in pictures, which readers cannot enlarge, re-colour or select.",
                offset=first,
                data={"images": content, "text_chars": visible_chars, "alt_chars": alt_chars},
            )


def _links(
    tree: _Document, found: _Findings, reviews: list[ReviewItem], details: AccessibilityDetails
) -> None:
    elements = tree.elements
    scan = tree.scan
    for index, tag in enumerate(elements):
        if tag.name != "a" or "href" not in tag.attrs or tree.style(index).hidden:
            continue
        details.links += 1
        label = (tag.get("aria-label") or "").strip()
        # The scan's link text stops at a link nested inside (a button's <a> in a table
        # inside an outer <a>); the accessible name is all the text inside.
        text = scan.link_texts.get(tag.offset, "").strip() or tree.text_of(index, 200).strip()
        inner = tree.subtree(index)
        alts = [
            (elements[i].get("alt") or "").strip()
            for i in inner[:MAX_LINK_CONTENT]
            if elements[i].name == "img"
        ]
        name = label or text or " ".join(a for a in alts if a) or (tag.get("title") or "").strip()
        if not name and not tag.get("aria-labelledby"):
            found.add(
                r.LINK_NAME,
                "This link has no text, its image no alt and it has no aria-label: screen "
                "readers read its URL."
                if alts
                else "This link has no text and no aria-label: screen readers read its URL.",
                offset=tag.offset,
            )
            continue
        languages = vague_link_languages(label or text)
        if languages:
            found.add(
                r.LINK_VAGUE,
                f'"{(label or text)[:40]}" says nothing about where the link goes.',
                offset=tag.offset,
                data={"languages": languages},
            )
        _distinguishable(tree, found, reviews, index)


def _distinguishable(
    tree: _Document, found: _Findings, reviews: list[ReviewItem], index: int
) -> None:
    """A link in running text needs an underline (or bold) or 3:1 with the text around it."""
    parent = tree.parents[index]
    if parent < 0:
        return
    link, around = tree.style(index), tree.style(parent)
    if link.underlined or (link.bold and not around.bold):
        return
    beside = any(len(run.text) > 1 for run in tree.own_runs.get(parent, ()))
    if not beside or not tree.scan.link_texts.get(tree.elements[index].offset):
        return
    if link.color is None or around.color is None:
        _review(
            reviews,
            tree.doc,
            "link-colour",
            "Is this link told apart from the text around it by more than colour?",
            tree.elements[index].offset,
            r.LINK_DISTINGUISHABLE,
        )
        return
    ratio = contrast(link.color, around.color)
    if ratio < LINK_CONTRAST:
        found.add(
            r.LINK_DISTINGUISHABLE,
            f"The link ({hex_colour(link.color)}) is not underlined and differs from the "
            f"text around it ({hex_colour(around.color)}) by {ratio:.2f}:1, under 3:1.",
            offset=tree.elements[index].offset,
        )


def _text(
    tree: _Document, found: _Findings, reviews: list[ReviewItem], details: AccessibilityDetails
) -> None:
    """Contrast, size, alignment and case of the visible text, one verdict per element."""
    elements = tree.elements
    own_text: dict[int, list[str]] = {}
    for run in tree.runs:
        if not _LETTER.search(run.text) and not any(c.isdigit() for c in run.text):
            continue
        own_text.setdefault(run.element, []).append(run.text)
    unknown_backgrounds: set[int | None] = set()
    for count, (element, texts) in enumerate(own_text.items()):
        if not count & 255:
            checkpoint()
        style = tree.style(element)
        offset = elements[element].offset if element >= 0 else tree.runs[0].offset
        text = " ".join(texts)
        size = style.font_px
        if size == 0:
            continue
        details.text_checked += 1
        large = size is not None and (size >= LARGE_PX or (style.bold and size >= LARGE_BOLD_PX))
        needed = LARGE_CONTRAST if large else NORMAL_CONTRAST
        if style.color is None or style.background is None:
            details.contrast_unknown += 1
            why = style.color_why if style.color is None else style.background_why
            key = style.background_at if style.background is None else offset
            if key not in unknown_backgrounds:
                unknown_backgrounds.add(key)
                _review(
                    reviews,
                    tree.doc,
                    "contrast",
                    f"Contrast unknown ({why}): does the text read at {needed:g}:1 on it?",
                    offset,
                    r.CONTRAST_LOW,
                )
        else:
            ratio = contrast(style.color, style.background)
            if ratio < needed:
                found.add(
                    r.CONTRAST_LOW,
                    f"{hex_colour(style.color)} on {hex_colour(style.background)} is "
                    f"{ratio:.2f}:1 (needs {needed:g}:1"
                    + (", large text" if large else "")
                    + f'): "{text[:40]}".',
                    offset=offset,
                )
        if size is not None and size < SMALL_PX:
            found.add(
                r.SMALL_TEXT_RULE,
                f'{size:g} px text: "{text[:40]}".',
                offset=offset,
            )
        if style.justified and len(text) >= JUSTIFIED_MIN_CHARS:
            found.add(r.JUSTIFIED, "Justified text of a paragraph's length.", offset=offset)
        letters = _LETTER.findall(without_merge_tags(text))
        cased = [c for c in letters if c.lower() != c.upper()]
        capitals = bool(cased) and all(c.isupper() for c in cased)
        if len(letters) >= ALL_CAPS_MIN_LETTERS and (style.uppercase or capitals):
            found.add(
                r.ALL_CAPS_RULE,
                f'{len(letters)} letters in capitals: "{text[:40]}".',
                offset=offset,
            )
    for offset in tree.cascade.sheets.dark_mode_offsets[:1]:
        _review(
            reviews,
            tree.doc,
            "dark-mode",
            "Dark-mode styles change colours this check does not read: does the text still "
            "read in dark mode?",
            offset,
            r.CONTRAST_LOW,
        )


def _document_rules(tree: _Document, found: _Findings, overlay: ClientOverlay) -> None:
    scan = tree.scan
    if scan.title is None or not scan.title.strip():
        found.add(
            r.TITLE,
            "No <title>." if scan.title is None else "The <title> is empty.",
            offset=scan.title_offset,
        )
    for tag in tree.elements:
        if tag.name != "meta" or (tag.get("name") or "").strip().lower() != "viewport":
            continue
        content = (tag.get("content") or "").lower()
        parts = dict(_VIEWPORT_PART.findall(content))
        problems = []
        if parts.get("user-scalable") in ("no", "0"):
            problems.append(f"user-scalable={parts['user-scalable']}")
        try:
            maximum = float(parts["maximum-scale"]) if "maximum-scale" in parts else None
        except ValueError:
            maximum = None
        if maximum is not None and maximum < 2:
            problems.append(f"maximum-scale={parts['maximum-scale']}")
        if problems:
            found.add(
                r.VIEWPORT,
                f"{' and '.join(problems)} stops readers zooming in.",
                offset=tag.offset,
            )
    css = [span.text for span in scan.styles] + [
        t.get("style") or "" for t in tree.elements if "style" in t.attrs
    ]
    animated = next((text for text in css if _ANIMATION.search(text)), None)
    if animated is not None and not any(_REDUCED_MOTION.search(text) for text in css):
        motion, losses = overlay.say(["css-at-media-prefers-reduced-motion"], "the media query")
        offset = next(
            (s.offset for s in scan.styles if _ANIMATION.search(s.text)),
            next(
                (t.offset for t in tree.elements if _ANIMATION.search(t.get("style") or "")), None
            ),
        )
        found.add(
            r.REDUCED_MOTION,
            f"CSS animation with no @media (prefers-reduced-motion) anywhere. {motion}",
            offset=offset,
            data={"clients": losses},
        )


def _focusable(tag: StartTag) -> bool:
    tabindex = (tag.get("tabindex") or "").strip()
    if tabindex.startswith("-"):
        return False
    if tabindex:
        return True
    if tag.name in ("a", "area"):
        return "href" in tag.attrs
    if tag.name == "input":
        return (tag.get("type") or "").strip().lower() != "hidden"
    return tag.name in FOCUSABLE


def _aria(tree: _Document, found: _Findings, overlay: ClientOverlay) -> None:
    elements = tree.elements
    referenced: set[str] = set()
    hidden_until = -1
    for index, tag in enumerate(elements):
        role = tag.get("role")
        if role is not None and role.strip() and _first_role(tag) is None:
            found.add(
                r.ARIA_ROLE,
                f'role="{role[:40]}" is not a WAI-ARIA role.',
                offset=tag.offset,
            )
        for name, attr in tag.attrs.items():
            if name.startswith("aria-") and name not in ARIA_ATTRIBUTES:
                found.add(
                    r.ARIA_ATTR,
                    f"{name} is not a WAI-ARIA attribute.",
                    offset=attr.offset,
                )
            if name in ("aria-labelledby", "aria-describedby", "aria-controls", "aria-owns"):
                referenced.update(attr.value.split())
        if index < hidden_until:
            continue
        if (tag.get("aria-hidden") or "").strip().lower() == "true":
            hidden_until = tree.ends[index]
            inner = [i for i in range(index, hidden_until) if _focusable(elements[i])]
            if inner:
                clients, losses = overlay.say(["html-aria-hidden"], "aria-hidden")
                found.add(
                    r.ARIA_HIDDEN_FOCUS,
                    f"{len(inner)} focusable element(s) inside aria-hidden content. {clients}",
                    offset=tag.offset,
                    data={"clients": losses},
                )
    for issue in tree.scan.issues:
        if issue.kind != "duplicate-id":
            continue
        at = tree.by_offset.get(issue.offset)
        element_id = elements[at].get("id") if at is not None else None
        serious = element_id is not None and element_id in referenced
        found.add(
            r.DUPLICATE_ID,
            f'id="{(element_id or "")[:40]}" is used again'
            + (": an ARIA reference to it names the wrong element." if serious else "."),
            offset=issue.offset,
            impact="serious" if serious else "minor",
        )


def result_from(name: str, findings: list[Finding], details: AccessibilityDetails) -> CheckResult:
    errors = sum(f.severity == Severity.ERROR for f in findings)
    warnings = sum(f.severity == Severity.WARNING for f in findings)
    notes = len(findings) - errors - warnings
    return CheckResult.from_findings(
        name,
        findings,
        r.RULES.penalties,
        summary=f"{errors} critical, {warnings} serious, {notes} moderate or minor finding(s); "
        f"{details.needs_review_total} thing(s) to review",
        details=details.model_dump(mode="json"),
    )
