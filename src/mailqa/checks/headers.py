"""Header and MIME-structure hygiene: what receivers and mailbox providers look at first."""

from __future__ import annotations

import re
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any, ClassVar

from mailqa.core.address import is_plain_address
from mailqa.core.check import CheckContext
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Finding, Location, Severity
from mailqa.core.rules import CheckRules

_ADDR_FORBIDDEN = re.compile(r"[@\s<>]")  # outside the one '@': see is_plain_address
_MESSAGE_ID = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")
_LIST_UNSUB_ITEM = re.compile(r"<([^<>]+)>")
_SINGLE_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID")
SUBJECT_MAX = 78
LINE_MAX = 998  # characters per line, CRLF excluded (RFC 5322 section 2.1.1)


RULES = CheckRules(
    "headers",
    page="headers.md#rules",
    category="headers",
    penalties={Severity.ERROR: 25.0, Severity.WARNING: 10.0},
)
PARSE_DEFECT = RULES.rule(
    "parse-defect",
    "Message is malformed",
    Severity.WARNING,
    "The MIME parser found a defect (a bad boundary, a header it could not read...); receivers "
    "may read the message differently.",
)
DUPLICATE_HEADER = RULES.rule(
    "duplicate-header",
    "Header appears more than once",
    Severity.ERROR,
    "RFC 5322 allows From, Sender, Reply-To, To, Cc, Subject, Date and Message-ID once each; "
    "receivers may reject the message.",
)
FROM_MISSING = RULES.rule(
    "from-missing",
    "No From header",
    Severity.ERROR,
    "Every message needs a From header; most providers reject mail without.",
)
FROM_INVALID = RULES.rule(
    "from-invalid",
    "From address is not valid",
    Severity.ERROR,
    "The From header does not hold a valid address.",
)
REPLY_TO_INVALID = RULES.rule(
    "reply-to-invalid",
    "Reply-To address is not valid",
    Severity.WARNING,
    "The Reply-To header does not hold a valid address: replies would bounce.",
)
TO_MISSING = RULES.rule(
    "to-missing",
    "No To or Cc header",
    Severity.WARNING,
    "Messages without a visible recipient look like bulk or spam.",
)
DATE_MISSING = RULES.rule(
    "date-missing",
    "No Date header",
    Severity.ERROR,
    "RFC 5322 requires Date; some providers reject or junk mail without it.",
)
DATE_INVALID = RULES.rule(
    "date-invalid",
    "Date header cannot be parsed",
    Severity.ERROR,
    "Use the RFC 5322 date format, e.g. 'Mon, 23 Nov 2026 10:00:00 +0000'.",
)
MESSAGE_ID_MISSING = RULES.rule(
    "message-id-missing",
    "No Message-ID header",
    Severity.WARNING,
    "Message-ID helps threading and deduplication; spam filters score its absence.",
)
MESSAGE_ID_INVALID = RULES.rule(
    "message-id-invalid",
    "Message-ID is malformed",
    Severity.WARNING,
    "Expected <unique@domain>.",
)
SUBJECT_MISSING = RULES.rule(
    "subject-missing",
    "No subject",
    Severity.WARNING,
    "Mail without a subject is often filtered and rarely opened.",
)
SUBJECT_TOO_LONG = RULES.rule(
    "subject-too-long",
    "Subject is longer than 78 characters",
    Severity.INFO,
    "Clients truncate subjects; keep the key words in the first 78 characters.",
)
SUBJECT_ALL_CAPS = RULES.rule(
    "subject-all-caps",
    "Subject is all capitals",
    Severity.WARNING,
    "All-caps subjects are a classic spam signal.",
)
LIST_UNSUBSCRIBE_MISSING = RULES.rule(
    "list-unsubscribe-missing",
    "Bulk mail without List-Unsubscribe",
    Severity.ERROR,
    "Gmail and Yahoo require List-Unsubscribe (with one-click) for bulk mail (Precedence: "
    "bulk/list, List-Id).",
)
LIST_UNSUBSCRIBE_INVALID = RULES.rule(
    "list-unsubscribe-invalid",
    "List-Unsubscribe is malformed",
    Severity.ERROR,
    "Expected one or more <https://...> or <mailto:...> entries (RFC 2369).",
)
LIST_UNSUBSCRIBE_NO_HTTPS = RULES.rule(
    "list-unsubscribe-no-https",
    "List-Unsubscribe has no HTTPS URL",
    Severity.WARNING,
    "One-click unsubscribe (RFC 8058) needs an HTTPS URL.",
)
LIST_UNSUBSCRIBE_POST_MISSING = RULES.rule(
    "list-unsubscribe-post-missing",
    "No one-click unsubscribe (List-Unsubscribe-Post)",
    Severity.ERROR,
    "Add 'List-Unsubscribe-Post: List-Unsubscribe=One-Click' (RFC 8058); Gmail and Yahoo require "
    "it for bulk senders.",
)
MIME_VERSION_MISSING = RULES.rule(
    "mime-version-missing",
    "Multipart message without MIME-Version",
    Severity.WARNING,
    "Add 'MIME-Version: 1.0'.",
)
TEXT_PART_MISSING = RULES.rule(
    "text-part-missing",
    "HTML without a text/plain alternative",
    Severity.WARNING,
    "Send multipart/alternative with a text part: some clients and filters expect it and spam "
    "scores rise without it.",
)
BODY_MISSING = RULES.rule(
    "body-missing",
    "Message has no readable body",
    Severity.ERROR,
    "Neither a text/plain nor a text/html part was found.",
)
ALTERNATIVE_ORDER = RULES.rule(
    "alternative-order",
    "HTML comes before text in multipart/alternative",
    Severity.WARNING,
    "Clients show the last alternative they support; put text/plain first and text/html last.",
)
LINE_TOO_LONG = RULES.rule(
    "line-too-long",
    "Lines longer than 998 characters",
    Severity.WARNING,
    "RFC 5322 caps lines at 998 characters; servers on the way may break longer ones (a stray '!' "
    "or space in the HTML). Send the body quoted-printable or base64.",
)


def _header_location(header: str, value: str | None = None) -> list[Location]:
    snippet = f"{header}: {value}" if value is not None else header
    return [Location(part="headers", snippet=snippet[:200])]


def is_bulk(msg: ParsedMessage) -> bool:
    """Mail sent to a list: Precedence bulk/list, a List-Id, or an unsubscribe header."""
    precedence = (msg.header("Precedence") or "").strip().lower()
    return (
        precedence in ("bulk", "list", "junk")
        or msg.header("List-Id") is not None
        or msg.header("List-Unsubscribe") is not None
    )


def sender_facts(msg: ParsedMessage) -> dict[str, Any]:
    """What the bulk-sender requirements read of the headers and the SMTP session
    (``mailqa.core.compliance``)."""
    unsub = msg.header("List-Unsubscribe") or ""
    targets = [t.lower() for t in _LIST_UNSUB_ITEM.findall(unsub)]
    post = (msg.header("List-Unsubscribe-Post") or "").replace(" ", "").lower()
    from_address = msg.from_address or ""
    return {
        "unsubscribe": {
            "https": any(t.startswith("https://") for t in targets),
            "mailto": any(t.startswith("mailto:") for t in targets),
            "one_click": post == "list-unsubscribe=one-click",
        },
        "header_counts": {
            name: len(msg.header_all(name)) for name in ("from", "date", "message-id")
        },
        "from_domain": from_address.rpartition("@")[2].lower() or None,
        "smtp_tls": msg.envelope.tls if msg.envelope.tls is not None else _received_tls(msg),
    }


_WITH = re.compile(r"\bwith\s+([A-Za-z0-9]+)", re.IGNORECASE)


def _received_tls(msg: ParsedMessage) -> bool | None:
    """Whether the newest ``Received:`` says its hop used TLS: RFC 3848's protocol types
    (``with ESMTPS``, ``ESMTPSA``, ``UTF8SMTPS``...) end in S or SA when it did. For a message
    read from a file, whose SMTP session mailqa did not see; None without one."""
    received = msg.header("Received")
    found = _WITH.search(received or "")
    if found is None:
        return None
    protocol = found.group(1).upper().removesuffix("A")  # A: authenticated
    if not protocol.endswith(("SMTP", "SMTPS", "LMTP", "LMTPS")):
        return None
    return protocol.endswith("S")


class HeadersCheck:
    name: ClassVar[str] = "headers"
    rules: ClassVar[CheckRules] = RULES
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = True

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        findings: list[Finding] = []
        findings += self._structure(msg)
        findings += self._originator(msg)
        findings += self._identity(msg)
        findings += self._subject(msg)
        findings += self._unsubscribe(msg)
        findings += self._mime(msg)
        errors = sum(f.severity == Severity.ERROR for f in findings)
        warnings = sum(f.severity == Severity.WARNING for f in findings)
        summary = f"{errors} error(s), {warnings} warning(s)" if findings else "headers look right"
        return CheckResult.from_findings(
            self.name,
            findings,
            RULES.penalties,
            summary=summary,
            details={
                "bulk": is_bulk(msg),
                "header_count": len(msg.headers),
                "sender": sender_facts(msg),
            },
        )

    def _structure(self, msg: ParsedMessage) -> list[Finding]:
        out = [PARSE_DEFECT.finding(defect) for defect in msg.defects]
        for name in _SINGLE_HEADERS:
            values = msg.header_all(name)
            if len(values) > 1:
                out.append(
                    DUPLICATE_HEADER.finding(
                        f"RFC 5322 allows one {name} header; receivers may reject the message.",
                        title=f"{name} appears {len(values)} times",
                        locations=_header_location(name, values[1]),
                    )
                )
        return out

    def _originator(self, msg: ParsedMessage) -> list[Finding]:
        out: list[Finding] = []
        if not msg.from_:
            out.append(
                FROM_MISSING.finding(
                    "Every message needs a From header; most providers reject mail without."
                )
            )
        else:
            addrs = [a for _, a in getaddresses([msg.from_])]
            if not addrs or not all(is_plain_address(a, _ADDR_FORBIDDEN) for a in addrs):
                out.append(
                    FROM_INVALID.finding(
                        "The From header does not hold a valid address.",
                        locations=_header_location("From", msg.from_),
                    )
                )
        if msg.reply_to:
            addrs = [a for _, a in getaddresses([msg.reply_to])]
            if not addrs or not all(is_plain_address(a, _ADDR_FORBIDDEN) for a in addrs):
                out.append(
                    REPLY_TO_INVALID.finding(
                        "Replies would bounce.",
                        locations=_header_location("Reply-To", msg.reply_to),
                    )
                )
        if not msg.to and not msg.cc and not msg.header("Bcc"):
            out.append(
                TO_MISSING.finding("Messages without a visible recipient look like bulk or spam.")
            )
        return out

    def _identity(self, msg: ParsedMessage) -> list[Finding]:
        out: list[Finding] = []
        if not msg.date:
            out.append(
                DATE_MISSING.finding(
                    "RFC 5322 requires Date; some providers reject or junk mail without it."
                )
            )
        else:
            try:
                parsedate_to_datetime(msg.date)
            except (TypeError, ValueError, IndexError):
                out.append(
                    DATE_INVALID.finding(
                        "Use the RFC 5322 date format, e.g. 'Mon, 23 Nov 2026 10:00:00 +0000'.",
                        locations=_header_location("Date", msg.date),
                    )
                )
        if not msg.message_id:
            out.append(
                MESSAGE_ID_MISSING.finding(
                    "Message-ID helps threading and deduplication; spam filters score its absence."
                )
            )
        elif not _MESSAGE_ID.match(msg.message_id.strip()):
            out.append(
                MESSAGE_ID_INVALID.finding(
                    "Expected <unique@domain>.",
                    locations=_header_location("Message-ID", msg.message_id),
                )
            )
        return out

    def _subject(self, msg: ParsedMessage) -> list[Finding]:
        if msg.subject is None or not msg.subject.strip():
            return [
                SUBJECT_MISSING.finding(
                    "Mail without a subject is often filtered and rarely opened."
                )
            ]
        out: list[Finding] = []
        subject = msg.subject.strip()
        if len(subject) > SUBJECT_MAX:
            out.append(
                SUBJECT_TOO_LONG.finding(
                    f"Clients truncate subjects; keep the key words in the first "
                    f"{SUBJECT_MAX} characters.",
                    title=f"Subject is {len(subject)} characters",
                    locations=_header_location("Subject", subject),
                )
            )
        letters = [c for c in subject if c.isalpha()]
        if len(letters) >= 10 and all(c.isupper() for c in letters):
            out.append(
                SUBJECT_ALL_CAPS.finding(
                    "All-caps subjects are a classic spam signal.",
                    locations=_header_location("Subject", subject),
                )
            )
        return out

    def _unsubscribe(self, msg: ParsedMessage) -> list[Finding]:
        unsub = msg.header("List-Unsubscribe")
        if not is_bulk(msg):
            return []
        if unsub is None:
            return [
                LIST_UNSUBSCRIBE_MISSING.finding(
                    "Gmail and Yahoo require List-Unsubscribe (with one-click) for bulk mail."
                )
            ]
        out: list[Finding] = []
        targets = _LIST_UNSUB_ITEM.findall(unsub)
        if not targets:
            out.append(
                LIST_UNSUBSCRIBE_INVALID.finding(
                    "Expected one or more <https://...> or <mailto:...> entries (RFC 2369).",
                    locations=_header_location("List-Unsubscribe", unsub),
                )
            )
            return out
        https = [t for t in targets if t.lower().startswith("https://")]
        post = (msg.header("List-Unsubscribe-Post") or "").replace(" ", "")
        if not https:
            out.append(
                LIST_UNSUBSCRIBE_NO_HTTPS.finding(
                    "One-click unsubscribe (RFC 8058) needs an HTTPS URL.",
                    locations=_header_location("List-Unsubscribe", unsub),
                )
            )
        if post.lower() != "list-unsubscribe=one-click":
            out.append(
                LIST_UNSUBSCRIBE_POST_MISSING.finding(
                    "Add 'List-Unsubscribe-Post: List-Unsubscribe=One-Click' (RFC 8058); "
                    "Gmail and Yahoo require it for bulk senders.",
                    locations=_header_location(
                        "List-Unsubscribe-Post", msg.header("List-Unsubscribe-Post")
                    ),
                )
            )
        return out

    def _mime(self, msg: ParsedMessage) -> list[Finding]:
        out: list[Finding] = []
        if len(msg.parts) > 1 and msg.header("MIME-Version") is None:
            out.append(MIME_VERSION_MISSING.finding("Add 'MIME-Version: 1.0'."))
        if msg.html is not None and msg.text is None:
            out.append(
                TEXT_PART_MISSING.finding(
                    "Send multipart/alternative with a text part: some clients and "
                    "filters expect it and spam scores rise without it."
                )
            )
        if msg.html is None and msg.text is None and not msg.attachments:
            out.append(BODY_MISSING.finding("Neither a text/plain nor a text/html part was found."))
        out += self._long_lines(msg.raw)
        for part in msg.parts:
            if part.content_type == "multipart/alternative":
                kids = [
                    p
                    for p in msg.parts
                    if p.path.startswith(part.path + ".") and p.depth == part.depth + 1
                ]
                types = [p.content_type for p in kids]
                if (
                    "text/html" in types
                    and "text/plain" in types
                    and (types.index("text/html") < types.index("text/plain"))
                ):
                    out.append(
                        ALTERNATIVE_ORDER.finding(
                            "Clients show the last alternative they support; put "
                            "text/plain first and text/html last."
                        )
                    )
        return out

    def _long_lines(self, raw: bytes) -> list[Finding]:
        lengths = [len(line.rstrip(b"\r")) for line in raw.split(b"\n")]
        long = [i for i, n in enumerate(lengths) if n > LINE_MAX]
        if not long:
            return []
        longest = max(long, key=lambda i: lengths[i])
        return [
            LINE_TOO_LONG.finding(
                f"Line {longest + 1} of the message has {lengths[longest]} characters. RFC 5322 "
                f"caps lines at {LINE_MAX}; servers on the way may break them, which shows up "
                "as a stray '!' or space in the HTML. Send the body quoted-printable or base64.",
                title=f"{len(long)} line(s) longer than {LINE_MAX} characters",
            )
        ]
