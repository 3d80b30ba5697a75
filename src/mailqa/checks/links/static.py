"""The links check's findings that need no network: syntax, insecure or dangerous schemes,
private and staging hosts, shorteners, phishing-looking link text, missing anchors, template
placeholders and the unsubscribe link."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import unquote, urlsplit

from publicsuffixlist import PublicSuffixList

from mailqa.checks.links.extract import Extractor, Target, group_targets
from mailqa.checks.links.rules import (
    CID_MISSING,
    CREDENTIALS_IN_URL,
    DANGEROUS_SCHEME,
    DATA_URI_IMAGE,
    EMPTY_ANCHOR,
    EMPTY_HREF,
    EXAMPLE_HOST,
    INSECURE_IMAGE,
    INSECURE_LINK,
    INVALID_MAILTO,
    INVALID_TEL,
    INVALID_URL,
    MISSING_ANCHOR,
    MISSING_SCHEME,
    PRIVATE_HOST,
    PROTOCOL_RELATIVE,
    RELATIVE_URL,
    SHORTENER,
    STAGING_HOST,
    TEMPLATE_PLACEHOLDER,
    TEXT_DOMAIN_MISMATCH,
)
from mailqa.core.address import is_plain_address
from mailqa.core.message import ParsedMessage
from mailqa.core.report import Finding, Severity
from mailqa.net.http.policy import address_class, is_localhost_name, parse_ip_host
from mailqa.rules import rules_file

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
    "<?",  # PHP: <?= $url ?>, <?php echo ... ?>
    "%3c%3f",
)
# One pair of braces around a name or index: PrestaShop's {email}, .NET's and Python's {0}.
# A URL has no literal braces (RFC 3986), so this is a variable never filled in.
_SINGLE_BRACE = re.compile(r"\{[A-Za-z0-9_.\-]{1,64}\}|%7b[A-Za-z0-9_.\-]{1,64}%7d", re.I)
# A square-bracket merge tag as the whole target, or where the host or address goes
# ("[unsubscribe]", "mailto:[email]", "https://[domain]/x"; Mosaico, Sendy, Mailpoet): not an
# IPv6 host (digits and colons) nor a query's "a[b]=1", which come later in the URL.
_BRACKET_TAG = re.compile(r"^(?:mailto:|tel:|https?://)?(\[[A-Za-z][A-Za-z0-9_ .\-]{0,63}\])", re.I)
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


EXAMPLE_REASON = "an example domain"
# facebook.com, www.shop.example/sale: a host written without its scheme (letters, digits and
# hyphens, dot-separated, ending in an alphabetic label, then the end, a path or a query).
_DOMAIN_FIRST = re.compile(r"(?:www\.)?+(?:[a-z0-9-]++\.)++[a-z]{2,24}+(?:[/?#:]|$)", re.I)
NO_ADDRESS = "no address"


def _host_first(url: str) -> bool:
    """Whether a scheme-less URL starts with a registrable host name (``facebook.com/x``),
    not a file path (``images/logo.png``, ``logo.png``: no public suffix ``png``)."""
    match = _DOMAIN_FIRST.match(url)
    if match is None:
        return False
    host = url[: match.end()].rstrip("/?#:")
    return registrable_domain(host) is not None


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
        return EXAMPLE_REASON
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
    single = _SINGLE_BRACE.search(url)
    if single:
        return single.group(0)
    bracket = _BRACKET_TAG.match(url.strip())
    return bracket.group(1) if bracket else None


def _mailto_problem(url: str) -> str | None:
    """What is wrong with a mailto: URL. RFC 6068 allows one without an address when its
    headers fill the message (``mailto:?subject=...&body=...``, "tell a friend" links): the
    reader picks the recipient, so only a bare ``mailto:`` is a problem (``NO_ADDRESS``)."""
    rest = url.split(":", 1)[1].partition("#")[0]  # '#' starts the fragment: mailto:# is bare
    addresses, _, query = rest.partition("?")
    candidates = [unquote(a).strip() for a in addresses.split(",") if a.strip()]
    if not candidates and "to=" not in query.lower():
        return None if query.strip() else NO_ADDRESS
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
class StaticFindings:
    findings: list[Finding] = field(default_factory=list)
    http_url: dict[str, str] = field(default_factory=dict)  # target url -> URL to fetch


def check_target(target: Target, msg: ParsedMessage, ex: Extractor, out: StaticFindings) -> None:
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
    if not scheme and _host_first(url):
        out.findings.append(
            MISSING_SCHEME.finding(
                f"{url[:80]!r} starts with a host name but has no scheme: clients read it as a "
                "relative path, which goes nowhere. Write https://.",
                title=f"{label} URL without https://",
                locations=target.locations(),
                data=target.data(),
            )
        )
        return
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
        if problem == NO_ADDRESS:
            out.findings.append(
                INVALID_MAILTO.finding(
                    "A bare mailto: opens an empty message with no recipient; give the address.",
                    title="mailto: link without an address",
                    severity=Severity.WARNING,
                    locations=target.locations(),
                    data=target.data(),
                )
            )
        elif problem:
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
    if not parts.netloc and not parts.path.strip("/") and not parts.query:
        out.findings.append(  # "https://": a link the template never got, as href=""
            EMPTY_HREF.finding(
                f"{url!r} has a scheme and nothing else: the link goes nowhere.",
                title=f"{label} URL is only a scheme",
                locations=target.locations(),
                data=target.data(),
            )
        )
        return
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
    if reason == EXAMPLE_REASON:
        out.findings.append(
            EXAMPLE_HOST.finding(
                f"{host} is an example domain: sample content that was never replaced.",
                title=f"{label} to {host}",
                locations=target.locations(),
                data=target.data(host=host),
            )
        )
    elif reason:
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


def is_unsubscribe(target: Target) -> bool:
    haystack = " ".join([target.url.lower(), *(t.lower() for t in target.texts)])
    return any(word in haystack for word in _UNSUBSCRIBE_WORDS)


def extract_static(msg: ParsedMessage, cap: int) -> tuple[int, list[Target], StaticFindings]:
    """How many links the message has, its distinct targets, and the static findings of the
    first ``cap`` targets."""
    extractor = Extractor(msg)
    occurrences = extractor.extract()
    targets = group_targets(occurrences, extractor.base_href)
    static = StaticFindings()
    for target in targets[:cap]:
        check_target(target, msg, extractor, static)
    return len(occurrences), targets, static
