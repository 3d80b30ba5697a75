"""The rules of the links check: every finding it makes is one of these."""

from __future__ import annotations

from mailqa.core.report import Severity
from mailqa.core.rules import CheckRules

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
    "{{ }}, *| |*, {% %}, ${ } and the like in a URL: a template variable was never filled in. "
    "In a template file (mailqa check page.html) it is the template's own merge tag: info.",
    in_template=Severity.INFO,
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
    "Mail has no base URL: relative links and images go nowhere (unless a <base> is given). "
    "In a template file (images/logo.png) they are assets still to host: a warning.",
    in_template=Severity.WARNING,
)
MISSING_SCHEME = RULES.rule(
    "missing-scheme",
    "URL without its scheme",
    Severity.ERROR,
    "facebook.com or www.shop.example/sale written without https://: clients read it as a "
    "relative path that goes nowhere, in a template as in a message.",
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
    "A mailto: link whose address is not one; a bare mailto: with nothing is a warning, and "
    "mailto:?subject=... (the reader picks the recipient, RFC 6068) is fine.",
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
    "The message has no inline part with that Content-ID: the image is broken. In a template "
    "file the sending code attaches the part: a warning, to check it does.",
    in_template=Severity.WARNING,
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
    "localhost, private IPs, .local/.internal/.test names: readers cannot reach it.",
)
EXAMPLE_HOST = RULES.rule(
    "example-host",
    "Link to an example domain",
    Severity.ERROR,
    "example.com, example.org and example.net (RFC 2606): sample content nobody replaced. "
    "In a template file it is a placeholder still to fill in: a warning.",
    in_template=Severity.WARNING,
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
    'A link without a target: href="" or a URL that is only a scheme (https://).',
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
