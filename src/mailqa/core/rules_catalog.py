"""What each rule id means, once: a title that fits every finding, a line of help, a doc page.

A finding's own title can name its instance ("Subject is 97 characters", "1.2.3.4 is listed
on Spamhaus ZEN"); reports that describe rules once (SARIF's ``tool.driver.rules``) use this
catalogue instead. Every rule id the checks emit has an entry, except two open families:

- ``html``: a rule per caniemail feature (``css-display-flex``); the feature's title and
  caniemail page come with each finding, so the check has one entry for all of them.
- ``spam``: ``spam.<SpamAssassin rule>``, any of hundreds; one entry for all of them.

Help URIs are a documentation page (``docs/*.md`` of this repository) and section under a base
URL: ``MAILQA_DOCS_URL`` when set (a fork's or an internal mirror's docs folder), else
``DEFAULT_DOCS_URL``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DOCS_URL_ENV = "MAILQA_DOCS_URL"
DEFAULT_DOCS_URL = "https://github.com/mailqa/mailqa/blob/main/docs/"

# Where each check's rules are listed (page#section of docs/).
CHECK_PAGES: dict[str, str] = {
    "headers": "headers.md#rules",
    "hygiene": "hygiene.md#rules",
    "links": "links.md#findings",
    "auth": "auth-and-blacklists.md#auth",
    "blacklist": "auth-and-blacklists.md#blacklist",
    "spam": "spam.md#what-the-report-holds",
    "html": "html-check.md#findings",
    "gate": "ci-gate.md#thresholds",
}


@dataclass(frozen=True, slots=True)
class RuleDoc:
    """``title`` empty: the rule has no title of its own, use the finding's (open families)."""

    title: str
    help: str
    page: str

    def help_uri(self, base: str | None = None) -> str:
        return docs_url(self.page, base)


def docs_base_url() -> str:
    """The documentation folder help URIs point into, ending in ``/``."""
    base = os.environ.get(DOCS_URL_ENV, "").strip() or DEFAULT_DOCS_URL
    return base if base.endswith("/") else base + "/"


def docs_url(page: str, base: str | None = None) -> str:
    return (base or docs_base_url()) + page


_HEADERS = {
    "parse-defect": (
        "Message is malformed",
        "The MIME parser found a defect (a bad boundary, a header it could not read...); "
        "receivers may read the message differently.",
    ),
    "duplicate-header": (
        "Header appears more than once",
        "RFC 5322 allows From, Sender, Reply-To, To, Cc, Subject, Date and Message-ID once "
        "each; receivers may reject the message.",
    ),
    "from-missing": (
        "No From header",
        "Every message needs a From header; most providers reject mail without.",
    ),
    "from-invalid": ("From address is not valid", "The From header does not hold a valid address."),
    "reply-to-invalid": (
        "Reply-To address is not valid",
        "The Reply-To header does not hold a valid address: replies would bounce.",
    ),
    "to-missing": (
        "No To or Cc header",
        "Messages without a visible recipient look like bulk or spam.",
    ),
    "date-missing": (
        "No Date header",
        "RFC 5322 requires Date; some providers reject or junk mail without it.",
    ),
    "date-invalid": (
        "Date header cannot be parsed",
        "Use the RFC 5322 date format, e.g. 'Mon, 23 Nov 2026 10:00:00 +0000'.",
    ),
    "message-id-missing": (
        "No Message-ID header",
        "Message-ID helps threading and deduplication; spam filters score its absence.",
    ),
    "message-id-invalid": ("Message-ID is malformed", "Expected <unique@domain>."),
    "subject-missing": (
        "No subject",
        "Mail without a subject is often filtered and rarely opened.",
    ),
    "subject-too-long": (
        "Subject is longer than 78 characters",
        "Clients truncate subjects; keep the key words in the first 78 characters.",
    ),
    "subject-all-caps": (
        "Subject is all capitals",
        "All-caps subjects are a classic spam signal.",
    ),
    "list-unsubscribe-missing": (
        "Bulk mail without List-Unsubscribe",
        "Gmail and Yahoo require List-Unsubscribe (with one-click) for bulk mail "
        "(Precedence: bulk/list, List-Id).",
    ),
    "list-unsubscribe-invalid": (
        "List-Unsubscribe is malformed",
        "Expected one or more <https://...> or <mailto:...> entries (RFC 2369).",
    ),
    "list-unsubscribe-no-https": (
        "List-Unsubscribe has no HTTPS URL",
        "One-click unsubscribe (RFC 8058) needs an HTTPS URL.",
    ),
    "list-unsubscribe-post-missing": (
        "No one-click unsubscribe (List-Unsubscribe-Post)",
        "Add 'List-Unsubscribe-Post: List-Unsubscribe=One-Click' (RFC 8058); Gmail and Yahoo "
        "require it for bulk senders.",
    ),
    "mime-version-missing": (
        "Multipart message without MIME-Version",
        "Add 'MIME-Version: 1.0'.",
    ),
    "text-part-missing": (
        "HTML without a text/plain alternative",
        "Send multipart/alternative with a text part: some clients and filters expect it and "
        "spam scores rise without it.",
    ),
    "body-missing": (
        "Message has no readable body",
        "Neither a text/plain nor a text/html part was found.",
    ),
    "alternative-order": (
        "HTML comes before text in multipart/alternative",
        "Clients show the last alternative they support; put text/plain first and text/html last.",
    ),
    "line-too-long": (
        "Lines longer than 998 characters",
        "RFC 5322 caps lines at 998 characters; servers on the way may break longer ones (a "
        "stray '!' or space in the HTML). Send the body quoted-printable or base64.",
    ),
}

_HYGIENE = {
    "gmail-clipping": (
        "HTML is clipped by Gmail",
        "Over 102 KB of HTML, Gmail hides the rest behind 'View entire message' (and the "
        "unsubscribe link and tracking pixel with it).",
    ),
    "near-gmail-clipping": (
        "HTML is close to Gmail's clipping size",
        "Over 90 KB of HTML: send-time personalisation and tracking may push it over 102 KB.",
    ),
    "script": (
        "<script> in the message",
        "Scripts are stripped by every client and scored by spam filters.",
    ),
    "form": (
        "Form in the message",
        "Forms are disabled or stripped by Gmail, Outlook and most webmail.",
    ),
    "iframe": ("<iframe> in the message", "Frames are stripped by email clients."),
    "embedded-object": (
        "<object>, <embed> or <applet> in the message",
        "Embedded objects are stripped by email clients and scored by spam filters.",
    ),
    "external-stylesheet": (
        "External stylesheet",
        "<link rel=stylesheet> and @import are ignored by most clients: inline the CSS.",
    ),
    "img-missing-alt": (
        "Image without alt text",
        "Images are often blocked; alt text is what readers and screen readers get "
        '(alt="" for decoration).',
    ),
    "img-missing-dimensions": (
        "Image without width and height",
        "Without both dimensions the layout jumps, and Outlook shows images at their natural size.",
    ),
    "base64-image": (
        "Image embedded as a data: URI",
        "data: images are blocked by Gmail and Outlook and inflate the message.",
    ),
    "tracking-pixel": ("Tracking pixel", "Images of at most 1x1 px, usually open tracking."),
    "many-images": ("Many images", "More than 40 content images: slow to load, often blocked."),
    "image-only": (
        "Mostly images, little text",
        "Image-heavy mail with little text is blank when images are blocked and scores as spam.",
    ),
    "text-part-empty": (
        "The text/plain part is empty",
        "Clients and filters that read the text alternative get nothing.",
    ),
    "text-part-short": (
        "The text/plain part is much shorter than the HTML",
        "A text alternative under 20% of the HTML's text looks like a placeholder to filters.",
    ),
    "missing-doctype": (
        "No doctype",
        "Without <!DOCTYPE html> before the first tag some clients render in quirks mode.",
    ),
    "missing-lang": (
        "No lang attribute on <html>",
        "Screen readers need the language to pronounce the text (WCAG 3.1.1).",
    ),
    "missing-title": (
        "No <title>, or an empty one",
        "Some webmail and 'view in browser' pages show the title; screen readers announce it.",
    ),
    "missing-preheader": (
        "No preheader text",
        "Inbox lists show the first text of the body next to the subject; a hidden preheader "
        "at the top of <body> lets you choose it.",
    ),
    "markup-unterminated": (
        "Markup never terminated",
        "A comment, tag or <style>/<title>/<script> is never closed: clients swallow "
        "everything after it.",
    ),
    "markup-unclosed": (
        "Element never closed",
        "What follows renders inside it, and clients repair the tree in different ways.",
    ),
    "markup-stray-end-tag": (
        "End tag without a start tag",
        "An end tag closes nothing: usually a typo, misnesting or a block pasted twice.",
    ),
    "markup-invalid-nesting": (
        "Invalid nesting",
        "Browsers restructure this markup (a block inside <p>, content directly inside "
        "<table>/<tr>), so the layout differs from the source.",
    ),
    "markup-nested-link": ("Link inside a link", "Links cannot contain links; clients split them."),
    "markup-duplicate-id": (
        "Duplicate id",
        "Two elements share an id: anchors and CSS aimed at it hit the wrong one.",
    ),
    "markup-truncated": (
        "HTML too large to check completely",
        "Over 200,000 tags: markup, text and image rules cover only the part read.",
    ),
}

_LINKS = {
    "template-placeholder": (
        "Template placeholder in a URL",
        "{{ }}, *| |*, {% %}, ${ } and the like in a URL: a template variable was never filled in.",
    ),
    "invalid-url": (
        "URL is malformed",
        "Unparseable URL, spaces or backslashes, no valid host or a bad port.",
    ),
    "relative-url": (
        "Relative URL",
        "Mail has no base URL: relative links and images go nowhere (unless a <base> is given).",
    ),
    "protocol-relative": (
        "Protocol-relative URL",
        "//host/path has no scheme in a mail client; write https://.",
    ),
    "dangerous-scheme": (
        "Dangerous URL scheme",
        "javascript:, vbscript:, file: and data: links are blocked by clients and flagged by "
        "filters.",
    ),
    "data-uri-image": ("data: image", "data: images are blocked by Gmail and Outlook."),
    "invalid-mailto": ("Invalid mailto: link", "A mailto: link without a valid address."),
    "invalid-tel": ("Invalid tel: or sms: link", "A tel:/sms: link that is not a phone number."),
    "cid-missing": (
        "cid: image without its inline part",
        "The message has no inline part with that Content-ID: the image is broken.",
    ),
    "insecure-link": ("Link over http://", "Use https: clients and filters distrust plain http."),
    "insecure-image": (
        "Image over http://",
        "Use https: clients warn about or block mixed content.",
    ),
    "private-host": (
        "Link to a private or reserved host",
        "localhost, private IPs, .local/.internal/.test/.example names: readers cannot reach it.",
    ),
    "staging-host": (
        "Link to a staging host",
        "A host label such as staging, dev, qa, uat or sandbox: probably not the production site.",
    ),
    "credentials-in-url": (
        "User name in a URL",
        "https://bank.com@evil.com/: the part before @ is a user name, not the host (a "
        "phishing pattern).",
    ),
    "shortener": (
        "URL shortener",
        "Shortened links hide the destination and are scored by spam filters.",
    ),
    "text-domain-mismatch": (
        "Link text names another domain",
        "Link text that is a domain or URL whose registrable domain differs from the link's "
        "(a phishing heuristic).",
    ),
    "missing-anchor": (
        "Anchor with no target",
        "#name with no element of that id or name in the message.",
    ),
    "empty-anchor": ('Empty anchor href="#"', 'A link to "#" goes nowhere.'),
    "empty-href": ('Empty href=""', "A link without a target."),
    "unsubscribe-missing": (
        "Bulk mail without an unsubscribe link",
        "Mail sent to a list needs a visible unsubscribe link in the body (CAN-SPAM, GDPR; "
        "Gmail and Yahoo bulk-sender rules).",
    ),
    "cap-reached": (
        "URLs over the cap were not analysed",
        "Only the first MAILQA_LINK_MAX_URLS unique URLs are checked.",
    ),
    "broken": (
        "Broken link",
        "HTTP status 400 or more, DNS failure, refused connection, TLS error or a redirect loop.",
    ),
    "image-broken": (
        "Broken image",
        "HTTP status 400 or more, DNS failure, refused connection, TLS error or a redirect loop.",
    ),
    "restricted": (
        "Link answered 401, 403 or 429",
        "The server refused the checker; it may need a login or block robots. Check it by hand.",
    ),
    "timeout": ("Link did not answer in time", "No answer within the link check's time budget."),
    "refused": (
        "Link not fetched: not a public address",
        "The host resolves to a private, loopback or reserved address (SSRF guard); allow it "
        "with --link-allow.",
    ),
    "image-not-image": (
        "Image URL does not serve an image",
        "The Content-Type is not image/*: clients show a broken image.",
    ),
    "image-huge": ("Image is very large", "Large images load slowly, on mobile data above all."),
    "redirect-insecure": (
        "https URL redirects to http",
        "The redirect downgrades the connection; link to the final https URL.",
    ),
    "redirect-chain": (
        "Long redirect chain",
        "More than 3 redirects: slow, and filters distrust long chains.",
    ),
}

_AUTH = {
    "spf_fail": ("SPF fails", "The sending IP is not allowed to send for the domain."),
    "spf_softfail": (
        "SPF soft-fails",
        "The domain says the sending IP is probably not allowed to send (~all).",
    ),
    "spf_permerror": (
        "SPF record is broken",
        "A syntax error, several SPF records or a redirect to nothing: receivers treat it as "
        "failed.",
    ),
    "spf_too_many_lookups": (
        "SPF needs more than 10 DNS lookups",
        "RFC 7208 allows 10 DNS-querying terms; beyond that SPF is permerror.",
    ),
    "spf_void_lookups": (
        "SPF has too many lookups that find nothing",
        "More than 2 void lookups make SPF permerror (RFC 7208).",
    ),
    "spf_temperror": ("SPF could not be checked", "The SPF lookups failed (DNS)."),
    "spf_missing": (
        "No SPF record",
        "The domain publishes no SPF record; receivers cannot tell who may send for it.",
    ),
    "spf_not_evaluated": (
        "SPF not evaluated",
        "No sending IP is known (no public Received hop).",
    ),
    "spf_record_too_many_lookups": (
        "SPF record tree needs more than 10 DNS lookups",
        "The SPF record and its includes hold more than 10 DNS-querying terms: a sender matched "
        "after the 10th gets permerror, which receivers treat as failed.",
    ),
    "spf_record_error": (
        "SPF record tree has errors",
        "An include or redirect of the SPF record gives permerror for any sender whose "
        "evaluation reaches it.",
    ),
    "spf_allows_all": (
        "SPF allows every sender",
        "The SPF record ends in +all: anyone may send as this domain.",
    ),
    "dkim_missing": (
        "Message is not DKIM-signed",
        "Mailbox providers expect signed mail, and DMARC then rests on SPF alone.",
    ),
    "dkim_fail": (
        "DKIM signature does not verify",
        "The body or signed headers changed after signing, or the key does not match.",
    ),
    "dkim_permerror": (
        "DKIM signature cannot be checked",
        "No key at the selector, or a malformed signature or key record.",
    ),
    "dkim_temperror": ("DKIM signature could not be checked", "The key lookup failed (DNS)."),
    "dkim_weak_key": (
        "DKIM key shorter than 1024 bits",
        "Keys under 1024 bits are not accepted (RFC 8301); use 2048-bit RSA or Ed25519.",
    ),
    "dmarc_fail": (
        "DMARC fails",
        "Neither SPF nor DKIM passed aligned with the From domain; the domain's policy applies.",
    ),
    "dmarc_not_evaluated": (
        "DMARC not decided",
        "The domain has a DMARC record but no result could be decided for this message.",
    ),
    "dmarc_testing": (
        "DMARC policy is in testing mode (t=y)",
        "Receivers following DMARCbis are asked not to apply the policy; receivers following "
        "only RFC 7489 ignore t= and apply it.",
    ),
    "dmarc_missing": (
        "No DMARC record",
        "Gmail and Yahoo require DMARC for bulk senders.",
    ),
    "dmarc_temperror": ("DMARC could not be checked", "The DMARC lookup failed (DNS)."),
    "dmarc_policy_none": (
        "DMARC policy is p=none",
        "The policy only monitors: spoofed mail is not rejected.",
    ),
    "arc_fail": ("ARC chain does not validate", "An ARC-Seal or ARC-Message-Signature fails."),
    "no_mx": (
        "From domain has no MX record",
        "Replies and bounces cannot be delivered, and some receivers reject such senders.",
    ),
    "null_mx": (
        "From domain accepts no mail (null MX)",
        "The domain publishes a null MX (RFC 7505): replies cannot be delivered.",
    ),
    "no_ptr": (
        "Sending IP has no reverse DNS",
        "Many receivers reject or penalise senders without a PTR record.",
    ),
    "fcrdns_fail": (
        "Reverse DNS is not forward-confirmed",
        "The PTR names of the sending IP do not resolve back to it.",
    ),
}

_BLACKLIST = {
    "listed": (
        "Listed on a block list",
        "The sending IP, a sender domain or a linked domain is on a DNS block list; the "
        "finding links the list's delisting page.",
    ),
    "allowlisted": ("On an allow list", "The sending IP is on a DNS allow list (DNSWL)."),
    "zone_unusable": (
        "Block list could not be used",
        "The list failed its self-test (RFC 5782); its results are unknown, not clean.",
    ),
    "lookup_error": (
        "Block list lookup failed",
        "A lookup timed out, failed or was refused; that result is unknown.",
    ),
}

_GATE = {
    "min-html-score": (
        "HTML support score below min-html-score",
        "The html check's support score is lower than the configured minimum; raise client "
        "support (see the html findings) or lower min-html-score.",
    ),
    "max-spam-score": (
        "Spam score above the maximum",
        "SpamAssassin's score is above max-spam-score (default: spamd's own threshold); see "
        "the spam findings for the rules that added points.",
    ),
}

# Open families: one entry per check, the finding's own title used.
FAMILIES: dict[str, RuleDoc] = {
    "html": RuleDoc(
        "",
        "An HTML or CSS feature that some target email clients do not fully support "
        "(caniemail.com data); the feature's caniemail page has the details and workarounds.",
        CHECK_PAGES["html"],
    ),
    "spam": RuleDoc(
        "",
        "A SpamAssassin rule that added points to the spam score; the message gives the points.",
        CHECK_PAGES["spam"],
    ),
}


def _entries(prefix: str, page: str, table: dict[str, tuple[str, str]]) -> dict[str, RuleDoc]:
    return {f"{prefix}.{name}": RuleDoc(t, h, page) for name, (t, h) in table.items()}


RULES: dict[str, RuleDoc] = {
    **_entries("headers", CHECK_PAGES["headers"], _HEADERS),
    **_entries("hygiene", CHECK_PAGES["hygiene"], _HYGIENE),
    **_entries("links", CHECK_PAGES["links"], _LINKS),
    **_entries("auth", CHECK_PAGES["auth"], _AUTH),
    **_entries("blacklist", CHECK_PAGES["blacklist"], _BLACKLIST),
    **_entries("gate", CHECK_PAGES["gate"], _GATE),
}


def rule_doc(rule: str, check: str) -> RuleDoc | None:
    """The catalogue entry of ``rule`` (reported by ``check``), or its family's; None when
    the rule is unknown (a new rule not catalogued yet, or a third-party check's)."""
    return RULES.get(rule) or FAMILIES.get(check)


__all__ = [
    "CHECK_PAGES",
    "DEFAULT_DOCS_URL",
    "DOCS_URL_ENV",
    "FAMILIES",
    "RULES",
    "RuleDoc",
    "docs_base_url",
    "docs_url",
    "rule_doc",
]
