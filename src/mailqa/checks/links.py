"""Links and images: extracted from the HTML and text parts, checked statically and over HTTP.

The static part (syntax, insecure or dangerous schemes, private and staging hosts, shorteners,
phishing-looking link text, missing anchors, template placeholders, unsubscribe link) always
runs, offline too. HTTP validation runs when the context carries a ``LinkFetcher`` and the
analysis is online; the summary says when it did not.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Literal
from urllib.parse import unquote, urljoin, urlsplit

from publicsuffixlist import PublicSuffixList
from pydantic import BaseModel, Field

from mailqa.checks.headers import is_bulk
from mailqa.core.address import is_plain_address
from mailqa.core.budget import checkpoint, in_thread
from mailqa.core.check import CheckContext
from mailqa.core.markup import MarkupScan, StartTag
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Finding, Location, Severity
from mailqa.core.rules import CheckRules
from mailqa.net.http.fetcher import FetchResult, LinkFetcher, RedirectHop
from mailqa.net.http.policy import address_class, is_localhost_name, parse_ip_host
from mailqa.rules import rules_file

Kind = Literal["link", "image", "stylesheet"]

MAX_LOCATIONS = 5
MAX_TEXTS = 3
LONG_REDIRECT_CHAIN = 3
# The HTTP part stops at this share of the pipeline's per-check timeout, so the check can
# report what it found instead of being cut off.
HTTP_BUDGET_SHARE = 0.8

# Linear on any CSS: every quantifier is possessive and stops at a character the next token
# needs, so nothing is retried. A quoted value runs to the next quote of its kind, so the runs
# of two matches never overlap; an unquoted one also stops at "(" (not allowed there, CSS
# Syntax 4.3.6), so "url(url(url(..." does not rescan the rest of the text from every "url(".
_CSS_URL = re.compile(r"""url\(\s*+(?:"([^"]*+)"|'([^']*+)'|([^()'"\s]*+))\s*+\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s++(?:"([^"]*+)"|'([^']*+)')""", re.I)
_COMMENT_ATTR = re.compile(r"""\b(href|src)\s*+=\s*+(?:"([^"]*+)"|'([^']*+)')""", re.I)
_TEXT_URL = re.compile(r"""(?i)\b(?:https?://|mailto:)[^\s<>"']+""")
_TRAILING_PUNCT = ".,;:!?'\"]}>*)"
# A label is an alphanumeric then (hyphens, alphanumeric) pairs, each taken possessively: one
# way to read it, so a long label or path that fails is not retried at every split.
_DOMAIN_TEXT = re.compile(
    r"^(?:https?://)?+((?:[a-z0-9](?:-*+[a-z0-9])*+\.)+[a-z]{2,63})\.?(?:[/:?#]\S*+)?$", re.I
)
_EMAIL_FORBIDDEN = re.compile(r"[@\s<>,;]")  # outside the one '@': see is_plain_address
_TEL = re.compile(r"^\+?[0-9]{3,17}+(?:;(?:ext|isub|phone-context)=[^;]*+)*+$", re.I)
_HOST_CHARS = re.compile(r"^[a-z0-9\-._~%\u0080-\U0010ffff]+$", re.I)
_PLACEHOLDERS = (
    "{{",
    "}}",
    "%7b%7b",
    "%7d%7d",
    "*|",
    "|*",
    "%2a%7c",
    "%7c%2a",
    "[[",
    "]]",
    "%5b%5b",
    "%5d%5d",
    "{%",
    "%7b%25",
    "${",
    "%24%7b",
    "<%",
    "%3c%25",
)
_DANGEROUS_SCHEMES = frozenset({"javascript", "vbscript", "file", "data"})
_PRIVATE_SUFFIXES = (
    ".localhost",
    ".local",
    ".internal",
    ".intranet",
    ".lan",
    ".corp",
    ".home.arpa",
    ".test",
    ".example",
    ".invalid",
)
_EXAMPLE_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
_STAGING_LABELS = frozenset(
    {
        "staging",
        "stage",
        "stg",
        "dev",
        "develop",
        "development",
        "test",
        "testing",
        "qa",
        "uat",
        "preprod",
        "pre-prod",
        "sandbox",
        "local",
    }
)
_STAGING_AFFIXES = ("staging", "preprod", "-dev", "-stage", "-stg", "-uat", "-qa", "-test")
_UNSUBSCRIBE_WORDS = (
    "unsubscribe",
    "unsub",
    "opt-out",
    "optout",
    "opt out",
    "email preferences",
    "manage preferences",
    "manage your preferences",
    "subscription",
    "abmelden",
    "abbestellen",
    "désinscri",
    "desinscri",
    "désabonn",
    "desabonn",
    "afmelden",
    "uitschrijven",
    "darse de baja",
    "cancelar suscripción",
    "disiscri",
    "cancella iscrizione",
)


# --- details model (stored in CheckResult.details, validated back by adapters) ---------------


RULES = CheckRules(
    "links",
    page="links.md#findings",
    category="links",
    penalties={Severity.ERROR: 15.0, Severity.WARNING: 5.0},
)
TEMPLATE_PLACEHOLDER = RULES.rule(
    "template-placeholder",
    "Template placeholder in a URL",
    Severity.ERROR,
    "{{ }}, *| |*, {% %}, ${ } and the like in a URL: a template variable was never filled in.",
)
INVALID_URL = RULES.rule(
    "invalid-url",
    "URL is malformed",
    Severity.ERROR,
    "Unparseable URL, spaces or backslashes, no valid host or a bad port.",
)
RELATIVE_URL = RULES.rule(
    "relative-url",
    "Relative URL",
    Severity.ERROR,
    "Mail has no base URL: relative links and images go nowhere (unless a <base> is given).",
)
PROTOCOL_RELATIVE = RULES.rule(
    "protocol-relative",
    "Protocol-relative URL",
    Severity.WARNING,
    "//host/path has no scheme in a mail client; write https://.",
)
DANGEROUS_SCHEME = RULES.rule(
    "dangerous-scheme",
    "Dangerous URL scheme",
    Severity.ERROR,
    "javascript:, vbscript:, file: and data: links are blocked by clients and flagged by filters.",
)
DATA_URI_IMAGE = RULES.rule(
    "data-uri-image",
    "data: image",
    Severity.WARNING,
    "data: images are blocked by Gmail and Outlook.",
)
INVALID_MAILTO = RULES.rule(
    "invalid-mailto",
    "Invalid mailto: link",
    Severity.ERROR,
    "A mailto: link without a valid address.",
)
INVALID_TEL = RULES.rule(
    "invalid-tel",
    "Invalid tel: or sms: link",
    Severity.ERROR,
    "A tel:/sms: link that is not a phone number.",
)
CID_MISSING = RULES.rule(
    "cid-missing",
    "cid: image without its inline part",
    Severity.ERROR,
    "The message has no inline part with that Content-ID: the image is broken.",
)
INSECURE_LINK = RULES.rule(
    "insecure-link",
    "Link over http://",
    Severity.WARNING,
    "Use https: clients and filters distrust plain http.",
)
INSECURE_IMAGE = RULES.rule(
    "insecure-image",
    "Image over http://",
    Severity.WARNING,
    "Use https: clients warn about or block mixed content.",
)
PRIVATE_HOST = RULES.rule(
    "private-host",
    "Link to a private or reserved host",
    Severity.ERROR,
    "localhost, private IPs, .local/.internal/.test/.example names: readers cannot reach it.",
)
STAGING_HOST = RULES.rule(
    "staging-host",
    "Link to a staging host",
    Severity.WARNING,
    "A host label such as staging, dev, qa, uat or sandbox: probably not the production site.",
)
CREDENTIALS_IN_URL = RULES.rule(
    "credentials-in-url",
    "User name in a URL",
    Severity.WARNING,
    "https://bank.com@evil.com/: the part before @ is a user name, not the host (a phishing "
    "pattern).",
)
SHORTENER = RULES.rule(
    "shortener",
    "URL shortener",
    Severity.WARNING,
    "Shortened links hide the destination and are scored by spam filters.",
)
TEXT_DOMAIN_MISMATCH = RULES.rule(
    "text-domain-mismatch",
    "Link text names another domain",
    Severity.WARNING,
    "Link text that is a domain or URL whose registrable domain differs from the link's (a "
    "phishing heuristic).",
)
MISSING_ANCHOR = RULES.rule(
    "missing-anchor",
    "Anchor with no target",
    Severity.WARNING,
    "#name with no element of that id or name in the message.",
)
EMPTY_ANCHOR = RULES.rule(
    "empty-anchor",
    'Empty anchor href="#"',
    Severity.WARNING,
    'A link to "#" goes nowhere.',
)
EMPTY_HREF = RULES.rule(
    "empty-href",
    'Empty href=""',
    Severity.WARNING,
    "A link without a target.",
)
UNSUBSCRIBE_MISSING = RULES.rule(
    "unsubscribe-missing",
    "Bulk mail without an unsubscribe link",
    Severity.ERROR,
    "Mail sent to a list needs a visible unsubscribe link in the body (CAN-SPAM, GDPR; Gmail and "
    "Yahoo bulk-sender rules).",
)
CAP_REACHED = RULES.rule(
    "cap-reached",
    "URLs over the cap were not analysed",
    Severity.INFO,
    "Only the first MAILQA_LINK_MAX_URLS unique URLs are checked.",
)
BROKEN = RULES.rule(
    "broken",
    "Broken link",
    Severity.ERROR,
    "HTTP status 400 or more, DNS failure, refused connection, TLS error or a redirect loop.",
)
IMAGE_BROKEN = RULES.rule(
    "image-broken",
    "Broken image",
    Severity.ERROR,
    "HTTP status 400 or more, DNS failure, refused connection, TLS error or a redirect loop.",
)
RESTRICTED = RULES.rule(
    "restricted",
    "Link answered 401, 403 or 429",
    Severity.WARNING,
    "The server refused the checker; it may need a login or block robots. Check it by hand.",
)
TIMEOUT = RULES.rule(
    "timeout",
    "Link did not answer in time",
    Severity.WARNING,
    "No answer within the link check's time budget.",
)
REFUSED = RULES.rule(
    "refused",
    "Link not fetched: not a public address",
    Severity.WARNING,
    "The host resolves to a private, loopback or reserved address (SSRF guard); allow it with "
    "--link-allow.",
)
IMAGE_NOT_IMAGE = RULES.rule(
    "image-not-image",
    "Image URL does not serve an image",
    Severity.ERROR,
    "The Content-Type is not image/*: clients show a broken image.",
)
IMAGE_HUGE = RULES.rule(
    "image-huge",
    "Image is very large",
    Severity.WARNING,
    "Large images load slowly, on mobile data above all.",
)
REDIRECT_INSECURE = RULES.rule(
    "redirect-insecure",
    "https URL redirects to http",
    Severity.WARNING,
    "The redirect downgrades the connection; link to the final https URL.",
)
REDIRECT_CHAIN = RULES.rule(
    "redirect-chain",
    "Long redirect chain",
    Severity.INFO,
    "More than 3 redirects: slow, and filters distrust long chains.",
)


class LinkResult(BaseModel):
    """One unique URL of the message, with what the checks found about it."""

    url: str
    kind: Kind
    scheme: str = ""
    checked: bool = Field(default=False, description="Validated over HTTP in this run.")
    final_url: str | None = None
    status_code: int | None = None
    ok: bool | None = Field(default=None, description="None when not validated over HTTP.")
    redirects: list[RedirectHop] = Field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None
    content_type: str | None = None
    size: int | None = None
    method: str | None = None
    from_cache: bool = False
    duration_ms: float = 0.0
    texts: list[str] = Field(default_factory=list, description="Link texts (or image alts).")
    locations: list[Location] = Field(default_factory=list)
    occurrences: int = 1


class LinksDetails(BaseModel):
    links: list[LinkResult] = Field(default_factory=list)
    found: int = Field(0, description="URL occurrences in the message.")
    unique: int = Field(0, description="Distinct URLs.")
    skipped: int = Field(0, description="Distinct URLs over the cap, not analysed.")
    skipped_urls: list[str] = Field(default_factory=list)
    http_validated: bool = False
    http_skipped_reason: str | None = None
    http_checked: int = 0
    broken: int = 0
    cache_hits: int = 0


# --- extraction ------------------------------------------------------------------------------


@dataclass
class Occurrence:
    raw: str
    kind: Kind
    part: str
    line: int | None
    column: int | None
    snippet: str | None
    text: str | None = None
    attribute: str | None = None


@dataclass
class Target:
    """A unique URL and every place it occurs."""

    url: str
    kind: Kind
    occurrences: list[Occurrence] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        found = [o.text for o in self.occurrences if o.text]
        return list(dict.fromkeys(found))[:MAX_TEXTS]

    def data(self, **extra: Any) -> dict[str, Any]:
        """A finding's ``data`` about this target: its URL, then ``extra``."""
        return {"url": self.url[:2000], **extra}

    def locations(self) -> list[Location]:
        return [
            Location(part=o.part, line=o.line, column=o.column, snippet=o.snippet)
            for o in self.occurrences[:MAX_LOCATIONS]
        ]


def _srcset_urls(value: str) -> Iterator[str]:
    for candidate in value.split(","):
        parts = candidate.split()
        if parts:
            yield parts[0]


def _after_import(css: str, end: int) -> bool:
    """``css[:end]`` ends with ``@import`` and maybe white space. Looks back over that white
    space only (never copies the prefix), so all calls on one text stay linear."""
    while end > 0 and css[end - 1].isspace():
        end -= 1
    return css[max(0, end - 7) : end].lower() == "@import"


class _Extractor:
    """Walks the shared HTML scan (never re-parsed) and the text part for URLs."""

    def __init__(self, msg: ParsedMessage) -> None:
        self.msg = msg
        self.doc = msg.html_document
        self.occurrences: list[Occurrence] = []
        self.anchor_names: set[str] = set()
        self.base_href: str | None = None

    def _position(self, offset: int) -> tuple[int, int]:
        return self.doc.position(offset)

    def _add(
        self,
        raw: str,
        kind: Kind,
        line: int | None,
        column: int | None,
        *,
        text: str | None = None,
        attribute: str | None = None,
    ) -> None:
        snippet = self.doc.snippet(line, column or 0) if line else None
        self.occurrences.append(
            Occurrence(raw, kind, "html", line, column, snippet, text, attribute)
        )

    def _css(self, css: str, line: int | None, column: int | None, start: int | None) -> None:
        """URLs in CSS; ``start`` is the source offset of the CSS when it is known exactly."""
        for pattern in (_CSS_URL, _CSS_IMPORT):
            for match in pattern.finditer(css):
                raw = next((g for g in match.groups() if g is not None), "")
                is_import = pattern is _CSS_IMPORT or _after_import(css, match.start())
                kind: Kind = "stylesheet" if is_import else "image"
                if start is not None:
                    where_line, where_col = self._position(start + match.start())
                else:
                    where_line, where_col = line or 0, column or 0
                self._add(raw, kind, where_line or None, where_col, attribute="css")

    def extract(self) -> list[Occurrence]:
        if self.msg.html:
            scan = self.doc.scan
            for i, tag in enumerate(scan.elements):
                if not i & 255:
                    checkpoint()
                self._tag(tag, scan)
            for style in scan.styles:
                line, column = self._position(style.offset)
                self._css(style.text, line, column, style.offset)
            for comment in scan.comments:
                self._comment(comment.text, comment.offset + 4)
        if self.msg.text:
            self._text(self.msg.text)
        return self.occurrences

    def _tag(self, tag: StartTag, scan: MarkupScan) -> None:
        name = tag.name
        line, column = self._position(tag.offset)
        get = tag.get
        element_id = get("id")
        if element_id:
            self.anchor_names.add(element_id)
        if name == "a" and get("name"):
            self.anchor_names.add(get("name") or "")
        if name == "base" and self.base_href is None:
            self.base_href = get("href")
        href = get("href")
        src = get("src")
        if name in ("a", "area") and href is not None:
            text = scan.link_texts.get(tag.offset) if name == "a" else get("alt")
            if not text and name == "a":
                alt = scan.link_images.get(tag.offset)
                text = f"[image: {alt}]" if alt else None
            self._add(href, "link", line, column, text=(text or None), attribute="href")
        elif name == "link" and href is not None:
            rel = (get("rel") or "").lower().split()
            kind: Kind = "stylesheet" if "stylesheet" in rel else "link"
            self._add(href, kind, line, column, attribute="href")
        elif name.startswith("v:") and href is not None:
            self._add(href, "link", line, column, attribute="href")
        if src is not None and (
            name == "img"
            or name.startswith("v:")
            or (name == "input" and (get("type") or "").lower() == "image")
        ):
            self._add(src, "image", line, column, text=get("alt"), attribute="src")
        srcset = get("srcset")
        if srcset is not None and name in ("img", "source"):
            for url in _srcset_urls(srcset):
                self._add(url, "image", line, column, attribute="srcset")
        background = get("background")
        if background is not None:
            self._add(background, "image", line, column, attribute="background")
        style = tag.attribute("style")
        if style is not None and "url(" in style.value.lower():
            exact = style.value_offset if style.value == style.raw_value else None
            self._css(style.value, line, column, exact)

    def _comment(self, text: str, start: int | None) -> None:
        """Outlook conditional comments hold VML buttons and backgrounds: scan them too."""
        if "[if" not in text.lower():
            return
        for match in _COMMENT_ATTR.finditer(text):
            raw = html.unescape(match.group(2) if match.group(2) is not None else match.group(3))
            kind: Kind = "image" if match.group(1).lower() == "src" else "link"
            line, column = self._position(start + match.start()) if start is not None else (0, 0)
            self._add(raw, kind, line or None, column, attribute=match.group(1).lower())
        if "url(" in text.lower():
            self._css(text, None, None, start)

    def _text(self, text: str) -> None:
        for number, line in enumerate(text.splitlines(), start=1):
            snippet: str | None = None
            for match in _TEXT_URL.finditer(line):
                url = _trim_text_url(match.group(0))
                if snippet is None:
                    snippet = line.strip()[:120]
                self.occurrences.append(
                    Occurrence(
                        url, "link", "text", number, match.start(), snippet, attribute="text"
                    )
                )


def _trim_text_url(url: str) -> str:
    """Drop trailing punctuation from a URL found in text, keeping a ")" that closes a "(" in
    the URL. Counts the parentheses once and walks back, so it is linear in the URL."""
    opened, closed = url.count("("), url.count(")")
    end = len(url)
    while end and url[end - 1] in _TRAILING_PUNCT:
        if url[end - 1] == ")":
            if opened >= closed:
                break
            closed -= 1
        end -= 1
    return url[:end]


def _resolve(raw: str, base: str | None) -> str:
    url = raw.strip()
    if base and url and not urlsplit(url).scheme and not url.startswith("#"):
        try:
            return urljoin(base, url)
        except ValueError:
            return url
    return url


_KIND_RANK: dict[str, int] = {"link": 0, "stylesheet": 1, "image": 2}


def group_targets(occurrences: list[Occurrence], base: str | None) -> list[Target]:
    """De-duplicate by URL, in document order; a URL used as an image counts as an image."""
    targets: dict[str, Target] = {}
    for occ in occurrences:
        url = _resolve(occ.raw, base)
        target = targets.get(url)
        if target is None:
            target = targets[url] = Target(url, occ.kind)
        elif _KIND_RANK[occ.kind] > _KIND_RANK[target.kind]:
            target.kind = occ.kind
        target.occurrences.append(occ)
    return list(targets.values())


# --- static findings -------------------------------------------------------------------------


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList(accept_unknown=False)


@cache
def _shorteners() -> frozenset[str]:
    lines = rules_file("url_shorteners.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def registrable_domain(host: str) -> str | None:
    host = host.lower().rstrip(".")
    try:
        domain = _psl().privatesuffix(host)
    except Exception:  # malformed labels
        return None
    return str(domain) if domain else None


def _private_host_reason(host: str) -> str | None:
    host = host.lower().rstrip(".")
    # Read as the fetcher (and browsers) read it: 127.1, 0x7f.1 and 2130706433 are 127.0.0.1.
    addr = parse_ip_host(host)
    if addr is not None:
        reason = address_class(addr)
        if reason is None:
            return None
        shown = "" if host.strip("[]") == str(addr) else f" ({addr})"
        article = "an" if reason[0] in "aeiou" else "a"
        return f"{article} {reason} address{shown}"
    if is_localhost_name(host) or host.endswith(_PRIVATE_SUFFIXES):
        return "a local or reserved name"
    if "." not in host:
        return "a single-label (intranet) name"
    if host in _EXAMPLE_DOMAINS or any(host.endswith("." + d) for d in _EXAMPLE_DOMAINS):
        return "an example domain"
    return None


def _staging_label(host: str) -> str | None:
    host = host.lower().rstrip(".")
    domain = registrable_domain(host)
    sub = host[: -len(domain)].rstrip(".") if domain and host.endswith(domain) else ""
    for label in sub.split(".") if sub else []:
        if label in _STAGING_LABELS or label.startswith(_STAGING_AFFIXES[:2]):
            return label
        if label.endswith(_STAGING_AFFIXES[2:]):
            return label
    return None


def _placeholder(url: str) -> str | None:
    lowered = url.lower()
    for marker in _PLACEHOLDERS:
        if marker in lowered:
            return marker
    return None


def _mailto_problem(url: str) -> str | None:
    rest = url.split(":", 1)[1]
    addresses, _, query = rest.partition("?")
    candidates = [unquote(a).strip() for a in addresses.split(",") if a.strip()]
    if not candidates and "to=" not in query.lower():
        return "no address"
    bad = [a for a in candidates if not is_plain_address(a, _EMAIL_FORBIDDEN)]
    if bad:
        return f"not an address: {bad[0][:80]}"
    return None


def _tel_problem(url: str) -> str | None:
    number = unquote(url.split(":", 1)[1])
    compact = re.sub(r"[\s\-.()/]", "", number)
    if not _TEL.match(compact):
        return f"not a phone number: {number[:40]}"
    return None


@dataclass
class _Static:
    findings: list[Finding] = field(default_factory=list)
    http_url: dict[str, str] = field(default_factory=dict)  # target url -> URL to fetch


def _static_target(target: Target, msg: ParsedMessage, ex: _Extractor, out: _Static) -> None:
    url = target.url
    raw_first = target.occurrences[0].raw
    is_image = target.kind == "image"
    label = "Image" if is_image else "Link"

    marker = _placeholder(url)
    if marker is not None:
        out.findings.append(
            TEMPLATE_PLACEHOLDER.finding(
                f"{marker!r} in the URL: the template variable was not filled in before sending.",
                title=f"{label} URL holds an unresolved template placeholder",
                locations=target.locations(),
                data=target.data(marker=marker),
            )
        )
        return
    if not url:
        if raw_first.strip() == "" and target.occurrences[0].attribute == "href":
            out.findings.append(
                EMPTY_HREF.finding(
                    "The link goes nowhere (clients reopen the message or do nothing).",
                    title="Link with an empty href",
                    locations=target.locations(),
                    data=target.data(),
                )
            )
        return
    if url.startswith("#"):
        name = unquote(url[1:])
        if not name:
            out.findings.append(
                EMPTY_ANCHOR.finding(
                    "A bare '#' link goes nowhere; it is usually a forgotten URL.",
                    title="Link to '#'",
                    locations=target.locations(),
                    data=target.data(),
                )
            )
        elif name not in ex.anchor_names:
            out.findings.append(
                MISSING_ANCHOR.finding(
                    f"No element has id or name {name!r}.",
                    title=f"Anchor #{name} has no target",
                    locations=target.locations(),
                    data=target.data(anchor=name),
                )
            )
        return
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        out.findings.append(
            INVALID_URL.finding(
                str(exc),
                title=f"{label} URL is malformed",
                locations=target.locations(),
                data=target.data(),
            )
        )
        return
    scheme = parts.scheme.lower()
    if scheme in ("", "http", "https") and (any(c.isspace() for c in url) or "\\" in url):
        out.findings.append(
            INVALID_URL.finding(
                "Clients handle these differently; encode spaces as %20 and use '/'.",
                title=f"{label} URL contains spaces or backslashes",
                locations=target.locations(),
                data=target.data(),
            )
        )
        return
    if url.startswith("//"):
        out.findings.append(
            PROTOCOL_RELATIVE.finding(
                "Mail has no page scheme to inherit; some clients treat '//' as file:. "
                "Write https://.",
                title=f"Protocol-relative {label.lower()} URL",
                locations=target.locations(),
                data=target.data(),
            )
        )
        scheme = "https"
        url = "https:" + url
        parts = urlsplit(url)
    if not scheme:
        out.findings.append(
            RELATIVE_URL.finding(
                "Mail has no base URL: relative links and images do not work. "
                "Use absolute https:// URLs.",
                title=f"Relative {label.lower()} URL",
                locations=target.locations(),
                data=target.data(),
            )
        )
        return
    if scheme in _DANGEROUS_SCHEMES:
        if is_image and scheme == "data":
            out.findings.append(
                DATA_URI_IMAGE.finding(
                    "Gmail and Outlook block data: images; host the image or attach it "
                    "with a cid: reference.",
                    title="Image embedded as a data: URI",
                    locations=target.locations(),
                    data=target.data(),
                )
            )
        else:
            out.findings.append(
                DANGEROUS_SCHEME.finding(
                    f"{scheme}: URLs are blocked by mail clients and flagged by spam filters.",
                    title=f"{label} uses {scheme}:",
                    locations=target.locations(),
                    data=target.data(scheme=scheme),
                )
            )
        return
    if scheme == "mailto":
        problem = _mailto_problem(url)
        if problem:
            out.findings.append(
                INVALID_MAILTO.finding(
                    problem,
                    title="Malformed mailto: link",
                    locations=target.locations(),
                    data=target.data(),
                )
            )
        return
    if scheme in ("tel", "sms"):
        problem = _tel_problem(url)
        if problem:
            out.findings.append(
                INVALID_TEL.finding(
                    problem,
                    title=f"Malformed {scheme}: link",
                    locations=target.locations(),
                    data=target.data(),
                )
            )
        return
    if scheme == "cid":
        cid = unquote(url[4:]).strip("<>")
        if not any(a.content_id == cid for a in msg.attachments):
            out.findings.append(
                CID_MISSING.finding(
                    "The image refers to an inline part that is not in the message.",
                    title=f"cid:{cid} matches no attached part",
                    locations=target.locations(),
                    data=target.data(),
                )
            )
        return
    if scheme not in ("http", "https"):
        return
    host = (parts.hostname or "").rstrip(".")
    is_name = bool(_HOST_CHARS.match(host)) and ".." not in host
    if not host or not (is_name or (":" in host and parse_ip_host(host))) or port == 0:
        out.findings.append(
            INVALID_URL.finding(
                f"Host {parts.netloc!r} cannot be reached.",
                title=f"{label} URL has no valid host",
                locations=target.locations(),
                data=target.data(),
            )
        )
        return
    out.http_url[target.url] = url
    if parts.username is not None:
        out.findings.append(
            CREDENTIALS_IN_URL.finding(
                f"'{parts.username}@' before the host reads like a domain to people but is "
                f"ignored by browsers: the link goes to {host}. A phishing trick.",
                title=f"{label} URL carries a user name",
                locations=target.locations(),
                data=target.data(),
            )
        )
    if scheme == "http":
        out.findings.append(
            (INSECURE_IMAGE if is_image else INSECURE_LINK).finding(
                "Use https://: clients warn about or block insecure content, and the "
                "recipient's traffic can be read or altered.",
                title=f"{label} over plain http://",
                locations=target.locations(),
                data=target.data(),
            )
        )
    reason = _private_host_reason(host)
    if reason:
        out.findings.append(
            PRIVATE_HOST.finding(
                f"{host} is {reason}: recipients cannot reach it. A development URL "
                "leaked into the message.",
                title=f"{label} to {host}",
                locations=target.locations(),
                data=target.data(host=host),
            )
        )
    else:
        staging = _staging_label(host)
        if staging:
            out.findings.append(
                STAGING_HOST.finding(
                    f"{host} has the label {staging!r}: check that a test environment "
                    "did not leak into the message.",
                    title=f"{label} to a staging-looking host",
                    locations=target.locations(),
                    data=target.data(host=host),
                )
            )
    domain = registrable_domain(host)
    if domain in _shorteners():
        out.findings.append(
            SHORTENER.finding(
                "Shorteners hide the destination; spam filters score them and "
                "recipients distrust them. Link to your own domain.",
                title=f"{label} through a URL shortener ({domain})",
                locations=target.locations(),
                data=target.data(),
            )
        )
    if target.kind == "link":
        for occ in target.occurrences:
            shown = _DOMAIN_TEXT.match((occ.text or "").strip())
            if not shown:
                continue
            shown_domain = registrable_domain(shown.group(1))
            if shown_domain and domain and shown_domain != domain:
                out.findings.append(
                    TEXT_DOMAIN_MISMATCH.finding(
                        f"The text shows {shown_domain} but the link goes to {domain}: a "
                        "classic phishing sign that filters score (click tracking too).",
                        title="Link text shows another domain than the link goes to",
                        locations=target.locations(),
                        data=target.data(shown=shown_domain, actual=domain),
                    )
                )
                break


def _is_unsubscribe(target: Target) -> bool:
    haystack = " ".join([target.url.lower(), *(t.lower() for t in target.texts)])
    return any(word in haystack for word in _UNSUBSCRIBE_WORDS)


# --- HTTP findings ---------------------------------------------------------------------------


def _http_findings(target: Target, result: LinkResult, image_max: int) -> list[Finding]:
    label = "Image" if target.kind == "image" else "Link"
    out: list[Finding] = []
    if result.error_kind == "refused":
        out.append(
            REFUSED.finding(
                result.error or "",
                title=f"{label} not checked: address refused",
                locations=target.locations(),
                data=target.data(),
            )
        )
        return out
    if result.error_kind in ("timeout", "budget"):
        out.append(
            TIMEOUT.finding(
                result.error or "",
                title=f"{label} did not answer in time",
                locations=target.locations(),
                data=target.data(),
            )
        )
        return out
    rule = IMAGE_BROKEN if target.kind == "image" else BROKEN
    if result.error:
        out.append(
            rule.finding(
                result.error,
                title=f"{label} is broken ({result.error_kind})",
                locations=target.locations(),
                data=target.data(error_kind=result.error_kind),
            )
        )
        return out
    status = result.status_code or 0
    if status in (401, 403, 429):
        out.append(
            RESTRICTED.finding(
                "The server refused the checker; it may need a login or block robots. "
                "Check it by hand.",
                title=f"{label} answered HTTP {status}",
                locations=target.locations(),
                data=target.data(status_code=status),
            )
        )
    elif status >= 400:
        out.append(
            rule.finding(
                f"{result.final_url} answered {status}.",
                title=f"{label} answered HTTP {status}",
                locations=target.locations(),
                data=target.data(status_code=status),
            )
        )
        return out
    for hop, nxt in zip(result.redirects, [*result.redirects[1:], None], strict=False):
        next_url = nxt.url if nxt else result.final_url or ""
        if hop.url.startswith("https://") and next_url.startswith("http://"):
            out.append(
                REDIRECT_INSECURE.finding(
                    f"{hop.url} redirects to {next_url}.",
                    title=f"{label} redirects from https to http",
                    locations=target.locations(),
                    data=target.data(),
                )
            )
            break
    if len(result.redirects) > LONG_REDIRECT_CHAIN:
        out.append(
            REDIRECT_CHAIN.finding(
                " -> ".join([*(h.url for h in result.redirects), str(result.final_url)])[:1000],
                title=f"{label} goes through {len(result.redirects)} redirects",
                locations=target.locations(),
                data=target.data(),
            )
        )
    if target.kind == "image" and status < 400:
        ctype = (result.content_type or "").split(";")[0].strip().lower()
        if not ctype.startswith("image/"):
            out.append(
                IMAGE_NOT_IMAGE.finding(
                    f"Content-Type is {ctype or 'missing'}: clients show a broken image.",
                    locations=target.locations(),
                    data=target.data(content_type=ctype),
                )
            )
        elif result.size is not None and result.size > image_max:
            out.append(
                IMAGE_HUGE.finding(
                    f"Images over {image_max // 1024} KiB load slowly on mobile data; "
                    "resize or compress it.",
                    title=f"Image is {result.size // 1024} KiB or more",
                    locations=target.locations(),
                    data=target.data(size=result.size),
                )
            )
    return out


def _apply_fetch(result: LinkResult, fetched: FetchResult) -> None:
    result.checked = True
    result.final_url = fetched.final_url
    result.status_code = fetched.status_code
    result.ok = fetched.ok
    result.redirects = list(fetched.redirects)
    result.error = fetched.error
    result.error_kind = fetched.error_kind
    result.content_type = fetched.content_type
    result.size = fetched.size
    result.method = fetched.method
    result.from_cache = fetched.from_cache
    result.duration_ms = fetched.duration_ms


# --- the check -------------------------------------------------------------------------------


def _extract_static(msg: ParsedMessage, cap: int) -> tuple[int, list[Target], _Static]:
    """How many links the message has, its distinct targets, and the static findings of the
    first ``cap`` targets."""
    extractor = _Extractor(msg)
    occurrences = extractor.extract()
    targets = group_targets(occurrences, extractor.base_href)
    static = _Static()
    for target in targets[:cap]:
        _static_target(target, msg, extractor, static)
    return len(occurrences), targets, static


class LinksCheck:
    name: ClassVar[str] = "links"
    rules: ClassVar[CheckRules] = RULES
    # Static findings run offline; HTTP validation decides inside (ctx.http, ctx.offline).
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = True

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        settings = ctx.settings
        cap = max(settings.link_max_urls, 0)
        # CPU-bound: in a thread, so the event loop (SMTP, API) stays live.
        found, targets, static = await in_thread(_extract_static, msg, cap)
        kept, over = targets[:cap], targets[cap:]
        findings = static.findings
        if is_bulk(msg) and not any(_is_unsubscribe(t) for t in targets):
            findings.append(
                UNSUBSCRIBE_MISSING.finding(
                    "Mail sent to a list needs a visible unsubscribe link in the body "
                    "(CAN-SPAM, GDPR; Gmail and Yahoo bulk-sender rules)."
                )
            )
        if over:
            findings.append(
                CAP_REACHED.finding(
                    "Raise MAILQA_LINK_MAX_URLS to analyse more.",
                    title=f"{len(over)} URL(s) over the cap of {cap} were not analysed",
                    data={"skipped": len(over)},
                )
            )

        results = {
            t.url: LinkResult(
                url=t.url,
                kind=t.kind,
                scheme=_scheme(static.http_url.get(t.url, t.url)),
                texts=t.texts,
                locations=t.locations(),
                occurrences=len(t.occurrences),
            )
            for t in kept
        }

        fetcher: LinkFetcher | None = ctx.http
        skipped_reason: str | None = None
        if not settings.link_check:
            skipped_reason = "link checking over HTTP is disabled (MAILQA_LINK_CHECK=false)"
        elif ctx.offline or settings.offline:
            skipped_reason = "offline mode"
        elif fetcher is None:
            skipped_reason = "no HTTP fetcher configured"
        cache_hits = 0
        if skipped_reason is None and fetcher is not None and static.http_url:
            budget = max(settings.check_timeout * HTTP_BUDGET_SHARE, 1.0)
            by_url = {t.url: t for t in kept}
            fetched = await _fetch_all(fetcher, static.http_url, by_url, budget, ctx.scope)
            # Counted from this message's own results: the fetcher's counters also move for
            # other messages checked meanwhile.
            cache_hits = sum(result.from_cache for result in fetched.values())
            image_max = settings.link_image_max_bytes
            for url, result in fetched.items():
                _apply_fetch(results[url], result)
                findings += _http_findings(by_url[url], results[url], image_max)

        details = LinksDetails(
            links=list(results.values()),
            found=found,
            unique=len(targets),
            skipped=len(over),
            skipped_urls=[t.url[:500] for t in over[:20]],
            http_validated=skipped_reason is None,
            http_skipped_reason=skipped_reason,
            http_checked=sum(r.checked for r in results.values()),
            broken=sum(_is_broken(r) for r in results.values()),
            cache_hits=cache_hits,
        )
        return self._result(findings, details)

    def _result(self, findings: list[Finding], details: LinksDetails) -> CheckResult:
        errors = sum(f.severity == Severity.ERROR for f in findings)
        warnings = sum(f.severity == Severity.WARNING for f in findings)
        images = sum(r.kind == "image" for r in details.links)
        parts = [f"{len(details.links) - images} link(s), {images} image(s)"]
        if details.http_validated:
            parts.append(f"{details.http_checked} checked over HTTP, {details.broken} broken")
        else:
            parts.append(f"HTTP validation skipped ({details.http_skipped_reason}); static only")
        parts.append(f"{errors} error(s), {warnings} warning(s)")
        if details.skipped:
            parts.append(f"{details.skipped} over the cap not analysed")
        return CheckResult.from_findings(
            self.name,
            findings,
            RULES.penalties,
            summary="; ".join(parts),
            details=details.model_dump(mode="json"),
        )


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""


# Errors that say nothing about the link itself: not fetched by policy (SSRF protection,
# MAILQA_LINK_ALLOW) or not answered in time. Reported as warnings, never counted as broken.
NOT_BROKEN_ERRORS = frozenset({"refused", "timeout", "budget"})


def _is_broken(result: LinkResult) -> bool:
    if not result.checked:
        return False
    if result.error_kind is not None:
        return result.error_kind not in NOT_BROKEN_ERRORS
    return (result.status_code or 0) >= 400


async def _fetch_all(
    fetcher: LinkFetcher,
    urls: dict[str, str],
    targets: dict[str, Target],
    budget: float,
    scope: str = "",
) -> dict[str, FetchResult]:
    """Fetch every URL concurrently (the fetcher enforces the limits), within ``budget``;
    cached results are reused only within ``scope`` (the message's project)."""
    started = time.monotonic()
    tasks = {
        url: asyncio.create_task(
            fetcher.fetch(fetch_url, image=targets[url].kind == "image", scope=scope)
        )
        for url, fetch_url in urls.items()
    }
    done, pending = await asyncio.wait(tasks.values(), timeout=budget)
    for task in pending:
        task.cancel()
    out: dict[str, FetchResult] = {}
    for url, task in tasks.items():
        if task in done and not task.cancelled() and task.exception() is None:
            out[url] = task.result()
        else:
            reason = (
                f"not checked: the link check's time budget ({budget:g} s) ran out"
                if task in pending
                else f"fetch failed: {task.exception()!r}"
            )
            out[url] = FetchResult(
                url=url,
                error=reason,
                error_kind="budget" if task in pending else "error",
                duration_ms=round((time.monotonic() - started) * 1000, 2),
            )
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    return out
