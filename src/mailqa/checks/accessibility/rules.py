"""The accessibility check's rules: one registry entry each, with its WCAG 2.2 success
criterion and its impact (critical, serious, moderate, minor: the levels axe-core and the
Email Markup Consortium use).

The impact says how badly a reader who depends on the feature is hurt; the report's
severity follows from it (``SEVERITY_OF_IMPACT``): a critical finding (the message says
nothing at all to a screen-reader user) is an error and fails the default gate, a serious
one a warning, moderate and minor ones notes. A finding can be judged lower than its rule's
impact where it hurts less (a spacer image without ``alt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mailqa.core.report import Severity
from mailqa.core.rules import CheckRules, Rule

ImpactLevel = Literal["critical", "serious", "moderate", "minor"]
SEVERITY_OF_IMPACT: dict[ImpactLevel, Severity] = {
    "critical": Severity.ERROR,
    "serious": Severity.WARNING,
    "moderate": Severity.INFO,
    "minor": Severity.INFO,
}


@dataclass(frozen=True, slots=True)
class Criterion:
    """A WCAG 2.2 success criterion (``best-practice``: none, but what the guides ask)."""

    number: str
    name: str
    level: Literal["A", "AA", "AAA", "best-practice"]

    @property
    def label(self) -> str:
        if self.level == "best-practice":
            return f"best practice ({self.name})"
        return f"WCAG 2.2 {self.number} {self.name} ({self.level})"


@dataclass(frozen=True, slots=True)
class A11yRule:
    """A registered rule with what the accessibility check adds to it."""

    rule: Rule
    criterion: Criterion
    impact: ImpactLevel
    fix: str

    @property
    def id(self) -> str:
        return self.rule.id


RULES = CheckRules(
    "accessibility",
    page="accessibility.md#rules",
    category="accessibility",
    penalties={Severity.ERROR: 20.0, Severity.WARNING: 4.0, Severity.INFO: 1.0},
)
BY_ID: dict[str, A11yRule] = {}


def _rule(
    name: str,
    title: str,
    criterion: Criterion,
    impact: ImpactLevel,
    help: str,
    fix: str,
    *,
    formerly: str | None = None,
) -> A11yRule:
    rule = RULES.rule(
        name,
        title,
        SEVERITY_OF_IMPACT[impact],
        f"{help} {criterion.label}; impact {impact}.",
        aliases=(formerly,) if formerly else (),
    )
    entry = A11yRule(rule, criterion, impact, fix)
    BY_ID[rule.id] = entry
    return entry


LANGUAGE = Criterion("3.1.1", "Language of Page", "A")
INFO_RELATIONSHIPS = Criterion("1.3.1", "Info and Relationships", "A")
SEQUENCE = Criterion("1.3.2", "Meaningful Sequence", "A")
NON_TEXT = Criterion("1.1.1", "Non-text Content", "A")
IMAGES_OF_TEXT = Criterion("1.4.5", "Images of Text", "AA")
LINK_PURPOSE = Criterion("2.4.4", "Link Purpose (In Context)", "A")
USE_OF_COLOUR = Criterion("1.4.1", "Use of Color", "A")
CONTRAST = Criterion("1.4.3", "Contrast (Minimum)", "AA")
PAGE_TITLED = Criterion("2.4.2", "Page Titled", "A")
RESIZE_TEXT = Criterion("1.4.4", "Resize Text", "AA")
NAME_ROLE_VALUE = Criterion("4.1.2", "Name, Role, Value", "A")
HEADINGS_LABELS = Criterion("2.4.6", "Headings and Labels", "AA")
VISUAL_PRESENTATION = Criterion("1.4.8", "Visual Presentation", "AAA")
ANIMATION = Criterion("2.3.3", "Animation from Interactions", "AAA")
SMALL_TEXT = Criterion("", "legible text size", "best-practice")
ALL_CAPS = Criterion("", "readable case", "best-practice")

HTML_LANG = _rule(
    "html-lang-missing",
    "No lang on <html> or on the body's wrapper",
    LANGUAGE,
    "serious",
    "Screen readers pick the voice and pronunciation from lang; without it they read the "
    "text in the reader's own language.",
    'Add lang="en" (the message\'s language) to <html> and to the wrapper around the body.',
    formerly="hygiene.missing-lang",
)
WRAPPER_LANG = _rule(
    "wrapper-lang-missing",
    "lang only on <html>, not on the body's wrapper",
    LANGUAGE,
    "moderate",
    "Webmail (Gmail, Outlook.com, Yahoo) drops the <html> element with its attributes: only "
    "a lang on the body's outer wrapper reaches the reader there.",
    "Repeat the lang (and dir) of <html> on the outermost <div> or <table> inside <body>.",
)
LANG_INVALID = _rule(
    "lang-invalid",
    "lang is not a valid BCP 47 tag",
    LANGUAGE,
    "serious",
    'A lang value screen readers do not know ("english", "en_US") is ignored.',
    'Use a BCP 47 tag: "en", "en-GB", "pt-BR", "zh-Hant".',
)
DIR_MISSING = _rule(
    "dir-missing",
    "Right-to-left text without dir",
    SEQUENCE,
    "serious",
    'Text in a right-to-left language needs dir="rtl", or punctuation and mixed runs are '
    "read and shown in the wrong order.",
    'Add dir="rtl" to <html> and to the body\'s outer wrapper.',
)
WRAPPER_DIR = _rule(
    "wrapper-dir-missing",
    "dir only on <html>, not on the body's wrapper",
    SEQUENCE,
    "moderate",
    "Webmail drops the <html> element with its attributes, dir included.",
    "Repeat the dir of <html> on the outermost element inside <body>.",
)
LAYOUT_TABLE = _rule(
    "layout-table-role",
    'Layout table without role="presentation"',
    INFO_RELATIONSHIPS,
    "moderate",
    "Screen readers announce a table's rows and columns unless it is marked as layout.",
    'Add role="presentation" (or role="none") to every table used for layout.',
)
DATA_TABLE_HEADERS = _rule(
    "data-table-headers",
    "Data table without header cells",
    INFO_RELATIONSHIPS,
    "serious",
    "A table of data (a caption, a summary or a table role) needs <th> cells so each value "
    "is read with its row and column.",
    'Make the header row <th scope="col"> cells (and the first column <th scope="row">).',
)
HEADING_ONE = _rule(
    "heading-one-missing",
    "No <h1>",
    HEADINGS_LABELS,
    "moderate",
    "Screen-reader users jump by headings; the message's main heading should be an <h1>.",
    "Mark the main headline up as <h1> (style it as you like).",
)
HEADING_ORDER = _rule(
    "heading-order",
    "Heading level skipped",
    INFO_RELATIONSHIPS,
    "moderate",
    "A heading more than one level below the previous one (<h1> then <h3>) breaks the outline "
    "screen readers navigate by.",
    "Use the next level down (<h2> after <h1>) and set its size in CSS.",
)
HEADING_STYLED = _rule(
    "heading-not-marked-up",
    "Text styled as a heading without a heading tag",
    INFO_RELATIONSHIPS,
    "moderate",
    "Large or bold short text that looks like a heading but is a <td>, <p> or <span> is not a "
    "heading to a screen reader.",
    "Wrap it in <h1>-<h6> (reset the margins inline) instead of styling a cell.",
)
IMG_ALT = _rule(
    "img-alt-missing",
    "Image without an alt attribute",
    NON_TEXT,
    "serious",
    "Without alt, screen readers read the file name and blocked images show nothing.",
    'Describe what the image says in alt; use alt="" for decoration and spacers.',
    formerly="hygiene.img-missing-alt",
)
ALT_MEANINGLESS = _rule(
    "img-alt-meaningless",
    'Alt text that is a file name or "image"',
    NON_TEXT,
    "moderate",
    "An alt text that names the file or the kind of thing tells the reader nothing.",
    'Say what the image shows or says ("Spring sale: 30% off"), or alt="" if decorative.',
)
IMAGE_ONLY = _rule(
    "image-only",
    "The message's text is in images",
    IMAGES_OF_TEXT,
    "serious",
    "A message that is mostly pictures of text cannot be resized, re-coloured or read aloud, "
    "and is blank with images off; without alt text it says nothing at all (critical).",
    "Put the text in HTML, and give every remaining image a real alt.",
)
LINK_NAME = _rule(
    "link-name-missing",
    "Link without an accessible name",
    LINK_PURPOSE,
    "serious",
    "A link with no text, no alt on its image and no aria-label is read as its URL or as 'link'.",
    "Give the link text, or its image an alt saying where it goes, or an aria-label.",
)
LINK_VAGUE = _rule(
    "link-text-vague",
    'Link text like "click here" or "read more"',
    LINK_PURPOSE,
    "moderate",
    "Screen-reader users list the links of a message; 'click here' out of context says "
    "nothing about where it goes.",
    'Say where it goes: "Read the spring catalogue" instead of "Read more".',
)
LINK_DISTINGUISHABLE = _rule(
    "link-not-distinguishable",
    "Link inside text told apart by colour alone",
    USE_OF_COLOUR,
    "serious",
    "A link in running text without underline must differ from the text around it by 3:1 "
    "contrast, or readers who do not see colour miss it.",
    "Keep the underline (text-decoration: underline) on links inside paragraphs.",
)
CONTRAST_LOW = _rule(
    "color-contrast",
    "Text contrast too low",
    CONTRAST,
    "serious",
    "Text needs 4.5:1 contrast with its background (3:1 for large text: 24 px, or 18.66 px bold).",
    "Darken the text or lighten the background until the ratio is met.",
)
TITLE = _rule(
    "document-title-missing",
    "No <title>, or an empty one",
    PAGE_TITLED,
    "moderate",
    "Screen readers announce the title when the message opens in a browser or a client that "
    "renders it as a page.",
    "Put the subject line in <title>.",
    formerly="hygiene.missing-title",
)
VIEWPORT = _rule(
    "viewport-zoom-disabled",
    "The viewport disables zoom",
    RESIZE_TEXT,
    "serious",
    "user-scalable=no or a maximum-scale under 2 stops readers enlarging the text on phones "
    "whose mail app honours the viewport.",
    'Use <meta name="viewport" content="width=device-width, initial-scale=1">.',
)
ARIA_ROLE = _rule(
    "aria-role-invalid",
    "Unknown ARIA role",
    NAME_ROLE_VALUE,
    "serious",
    "A role that is not in WAI-ARIA is ignored or misread by assistive technology.",
    'Use a WAI-ARIA role (role="presentation" for layout tables) or remove it.',
)
ARIA_ATTR = _rule(
    "aria-attr-invalid",
    "Unknown aria-* attribute",
    NAME_ROLE_VALUE,
    "serious",
    "An aria-* attribute that WAI-ARIA does not define (often a typo) does nothing.",
    "Fix the attribute name (aria-label, aria-labelledby, aria-hidden...).",
)
ARIA_HIDDEN_FOCUS = _rule(
    "aria-hidden-focusable",
    'aria-hidden="true" on content with links',
    NAME_ROLE_VALUE,
    "serious",
    "Keyboard users still reach links inside aria-hidden content, and screen readers then "
    "announce nothing for them.",
    'Remove aria-hidden, or also take the links out of the tab order (tabindex="-1").',
)
DUPLICATE_ID = _rule(
    "duplicate-id",
    "Duplicate id",
    NAME_ROLE_VALUE,
    "minor",
    "Two elements share an id: an aria-labelledby or aria-describedby pointing at it names "
    "the wrong one (serious when one does).",
    "Make every id unique.",
)
SMALL_TEXT_RULE = _rule(
    "text-too-small",
    "Text smaller than 12 px",
    SMALL_TEXT,
    "minor",
    "Text under 12 px is hard to read for many, and iOS enlarges it unpredictably.",
    "Use at least 14 px for body text and 12 px for fine print.",
)
JUSTIFIED = _rule(
    "text-justified",
    "Justified paragraph",
    VISUAL_PRESENTATION,
    "minor",
    "Justified text opens uneven gaps between words that make lines hard to follow for "
    "readers with dyslexia.",
    "Align body text left (or right for right-to-left languages).",
)
ALL_CAPS_RULE = _rule(
    "text-all-caps",
    "Paragraph in capitals",
    ALL_CAPS,
    "minor",
    "Long runs of capitals are slower to read, and some screen readers spell them out.",
    "Write the text in sentence case; keep capitals for short labels.",
)
REDUCED_MOTION = _rule(
    "animation-without-reduced-motion",
    "Animation without a prefers-reduced-motion alternative",
    ANIMATION,
    "minor",
    "CSS animation that ignores the reader's reduced-motion setting can trigger vestibular "
    "disorders.",
    "Wrap animations in @media (prefers-reduced-motion: no-preference), or stop them in "
    "@media (prefers-reduced-motion: reduce).",
)

# Found only in a rendered message, by axe-core (``mailqa.checks.accessibility.axe``): they
# need the laid-out page.
TARGET_SIZE_CRITERION = Criterion("2.5.8", "Target Size (Minimum)", "AA")
KEYBOARD = Criterion("2.1.1", "Keyboard", "A")
ORIENTATION = Criterion("1.3.4", "Orientation", "AA")
TARGET_SIZE = _rule(
    "target-size",
    "Link or button too small to tap (rendered)",
    TARGET_SIZE_CRITERION,
    "serious",
    "Found by axe-core in the rendered message: a target under 24 by 24 CSS pixels, or too "
    "close to another, is hard to hit on a phone.",
    "Give links and buttons at least 24 px of height and width (padding counts), or space "
    "them apart.",
)
SCROLLABLE_REGION = _rule(
    "scrollable-region-focusable",
    "Scrollable region a keyboard cannot reach (rendered)",
    KEYBOARD,
    "serious",
    "Found by axe-core in the rendered message: content in a scrolling box without anything "
    "focusable inside cannot be scrolled without a mouse.",
    "Avoid overflow: scroll/auto boxes in messages, or put a link inside them.",
)
ORIENTATION_LOCK = _rule(
    "orientation-lock",
    "Content locked to one orientation (rendered)",
    ORIENTATION,
    "serious",
    "Found by axe-core in the rendered message: CSS that rotates or hides content in one "
    "orientation keeps readers with a mounted phone from reading it.",
    "Drop orientation media queries that rotate or hide the content.",
)
