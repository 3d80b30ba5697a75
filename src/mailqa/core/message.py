"""Parse raw RFC 5322 bytes once into an immutable ``ParsedMessage`` the checks read.

Parsing never raises: whatever cannot be read is recorded in ``defects`` and the rest is kept.
"""

from __future__ import annotations

import asyncio
import binascii
import codecs
import email
import email.base64mime
import email.policy
import email.quoprimime
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.header import make_header
from email.message import Message
from email.utils import getaddresses
from functools import cached_property
from typing import TYPE_CHECKING

from mailqa.core.address import sending_ip

if TYPE_CHECKING:
    from mailqa.core.html import HtmlDocument

MAX_MIME_DEPTH = 50
MAX_PARTS = 1000
MAX_DEFECTS = 50


@dataclass(frozen=True)
class Envelope:
    """SMTP envelope and connection facts, when the message was received (or claims to be)."""

    mail_from: str | None = None
    rcpt_to: tuple[str, ...] = ()
    client_ip: str | None = None
    client_name: str | None = None
    helo: str | None = None
    tls: bool | None = None
    """Whether the SMTP session used TLS (STARTTLS or implicit); None: not received over
    SMTP, or not known."""


@dataclass(frozen=True)
class Attachment:
    index: int
    filename: str | None
    content_type: str
    size: int
    content_id: str | None
    disposition: str | None
    transfer_encoding: str | None
    payload: bytes = field(repr=False)


@dataclass(frozen=True)
class MimePart:
    path: str
    depth: int
    content_type: str
    charset: str | None
    transfer_encoding: str | None
    disposition: str | None
    filename: str | None
    size: int


@dataclass(frozen=True)
class ReceivedHop:
    raw: str
    from_name: str | None
    ip: str | None
    by: str | None


_FOLD = re.compile(r"\r?\n[ \t]+")
_RECEIVED_FROM = re.compile(r"\bfrom\s+(\S+)", re.I)
_RECEIVED_BY = re.compile(r"\bby\s+(\S+)", re.I)
_BRACKET_IP = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")
_BARE_IPV4 = re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3})\b")


def _parse_received(value: str) -> ReceivedHop:
    flat = " ".join(value.split())
    from_part = flat.split(" by ", 1)[0]
    ip: str | None = None
    for candidate in _BRACKET_IP.findall(from_part) + _BARE_IPV4.findall(from_part):
        try:
            ip = str(ipaddress.ip_address(candidate))
            break
        except ValueError:
            continue
    m_from = _RECEIVED_FROM.search(flat)
    m_by = _RECEIVED_BY.search(flat)
    return ReceivedHop(
        raw=flat,
        from_name=m_from.group(1) if m_from else None,
        ip=ip,
        by=m_by.group(1).rstrip(";") if m_by else None,
    )


def _decode_bytes(data: bytes, charset: str | None, defects: list[str], where: str) -> str:
    """Decode with the declared charset; fall back (and say so) when it is unknown or lies."""
    name = (charset or "us-ascii").strip().strip('"').lower()
    try:
        codecs.lookup(name)
    except LookupError:
        defects.append(f"{where}: unknown charset {name!r}, decoded as UTF-8")
        name = "utf-8"
    try:
        return data.decode(name)
    except UnicodeDecodeError:
        if name in ("us-ascii", "ascii"):
            # Undeclared 8-bit text is usually UTF-8.
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                pass
        defects.append(f"{where}: bytes invalid in charset {name!r}, replaced")
        return data.decode(name, errors="replace")


def _encoded_words(text: str) -> Iterator[tuple[int, int, int]]:
    """The RFC 2047 encoded words ``=?charset?q|b?text?=`` of ``text``, as the stdlib's
    ``email.header.ecre`` finds them, as ``(start, mark, close)``: the word is
    ``text[start:close + 2]``, its charset ``text[start + 2:mark]``, its encoding
    ``text[mark + 1]`` and its encoded text ``text[mark + 3:close]`` (no newline in it).

    ``ecre`` rescans to the end of the text from every ``=?`` with no ``?=`` after it, which
    is quadratic. Here each ``find`` moves forward only (the next ``?=`` and newline are
    remembered), so the whole walk is linear in the text.
    """
    close = newline = -1
    pos = 0
    while (start := text.find("=?", pos)) >= 0:
        mark = text.find("?", start + 2)
        if mark < 0:
            return
        body = mark + 3
        if text[mark + 1 : mark + 2] in ("q", "Q", "b", "B") and text[mark + 2 : body] == "?":
            if close < body:
                close = text.find("?=", body)
                if close < 0:
                    return  # a later word would need a "?=" further on still
            if newline < body:
                newline = text.find("\n", body)
                if newline < 0:
                    newline = len(text)
            if newline > close:
                yield start, mark, close
                pos = close + 2
                continue
        pos = start + 1


def _decode_header(header: str) -> list[tuple[bytes | str, str | None]]:
    """``email.header.decode_header`` for a string, with the same result, in linear time.

    The stdlib version pops words off the front of lists, deletes from the middle of one and
    grows bytes by concatenation: quadratic in the number of encoded words (100 000 words in
    a Subject took seconds). This is the same algorithm on lists that are appended to and
    joined once.
    """
    if next(_encoded_words(header), None) is None:
        return [(header, None)]
    words: list[tuple[str, str | None, str | None]] = []  # (text, encoding, charset)
    for line in header.splitlines():
        first = True
        prev = 0
        for start, mark, close in _encoded_words(line):
            unencoded = line[prev:start]
            if first:
                unencoded, first = unencoded.lstrip(), False
            if unencoded:
                words.append((unencoded, None, None))
            words.append(
                (line[mark + 3 : close], line[mark + 1].lower(), line[start + 2 : mark].lower())
            )
            prev = close + 2
        unencoded = line[prev:].lstrip() if first else line[prev:]
        if unencoded:
            words.append((unencoded, None, None))
    # White space alone between two encoded words is dropped (RFC 2047 section 6.2).
    last = len(words) - 1
    decoded: list[tuple[bytes | str, str | None]] = []
    for i, (encoded, encoding, charset) in enumerate(words):
        if 0 < i < last and words[i - 1][1] and words[i + 1][1] and encoded.isspace():
            continue
        if encoding is None:
            decoded.append((encoded, charset))
        elif encoding == "q":
            decoded.append((email.quoprimime.header_decode(encoded), charset))
        else:
            padding = len(encoded) % 4  # Postel's law: add missing padding
            if padding:
                encoded += "==="[: 4 - padding]
            try:
                decoded.append((email.base64mime.decode(encoded), charset))
            except binascii.Error:
                raise HeaderParseError("Base64 decoding error") from None
    # Runs of words in one charset become one chunk: unencoded words joined by a space.
    collapsed: list[tuple[bytes | str, str | None]] = []
    run: list[bytes] = []
    run_charset: str | None = None
    for word, charset in decoded:
        data = bytes(word, "raw-unicode-escape") if isinstance(word, str) else word
        if run and charset != run_charset:
            collapsed.append(((b" " if run_charset is None else b"").join(run), run_charset))
            run = []
        run.append(data)
        run_charset = charset
    collapsed.append(((b" " if run_charset is None else b"").join(run), run_charset))
    return collapsed


def decode_header_value(value: object) -> str:
    """Unfold a raw header value and decode RFC 2047 encoded words; never raises."""
    text = _FOLD.sub(" ", str(value)).strip()
    if "=?" not in text:
        return text
    try:
        return str(make_header(_decode_header(text)))
    except Exception:  # malformed encoded word: keep the raw text
        return text


def _addresses(values: list[str]) -> tuple[str, ...]:
    flat = [_FOLD.sub(" ", str(v)) for v in values]
    return tuple(addr for _, addr in getaddresses(flat) if addr)


def _walk(root: Message, defects: list[str]) -> Iterator[tuple[str, int, Message]]:
    """Depth-first walk without recursion, bounded in depth and count."""
    stack: list[tuple[str, int, Message]] = [("1", 0, root)]
    count = 0
    while stack:
        path, depth, part = stack.pop()
        count += 1
        if count > MAX_PARTS:
            defects.append(f"more than {MAX_PARTS} MIME parts; the rest were not read")
            return
        yield path, depth, part
        if part.is_multipart():
            if depth >= MAX_MIME_DEPTH:
                defects.append(f"MIME nesting deeper than {MAX_MIME_DEPTH}; inner parts not read")
                continue
            payload = part.get_payload()
            children = payload if isinstance(payload, list) else []
            for i in range(len(children) - 1, -1, -1):
                child = children[i]
                if isinstance(child, Message):
                    stack.append((f"{path}.{i + 1}", depth + 1, child))


class ParsedMessage:
    """A message parsed once. Treat it as read-only; derived data is computed lazily once."""

    def __init__(self, raw: bytes, envelope: Envelope | None = None) -> None:
        self.raw = raw
        self.envelope = envelope or Envelope()
        defects: list[str] = []
        self.headers: tuple[tuple[str, str], ...] = ()
        self.subject: str | None = None
        self.from_: str | None = None
        self.to: tuple[str, ...] = ()
        self.cc: tuple[str, ...] = ()
        self.reply_to: str | None = None
        self.date: str | None = None
        self.message_id: str | None = None
        self.text: str | None = None
        self.html: str | None = None
        self.text_parts = 0
        self.html_parts = 0
        self.attachments: tuple[Attachment, ...] = ()
        self.parts: tuple[MimePart, ...] = ()
        self.received: tuple[ReceivedHop, ...] = ()
        if not raw.strip():
            defects.append("empty message")
        try:
            self._parse(raw, defects)
        except RecursionError:
            defects.append("message structure too deeply nested to parse")
        except Exception as exc:  # the stdlib parser is lenient; this is the last resort
            defects.append(f"could not parse message: {type(exc).__name__}: {exc}")
        # Whole-message defects first: per-part ones can be many and get cut.
        unique = sorted(dict.fromkeys(defects), key=lambda d: d.startswith("part "))
        if len(unique) > MAX_DEFECTS:
            unique = [*unique[:MAX_DEFECTS], f"... and {len(unique) - MAX_DEFECTS} more defects"]
        self.defects: tuple[str, ...] = tuple(unique)

    def _parse(self, raw: bytes, defects: list[str]) -> None:
        # compat32 is ~10x faster than policy.default; headers are decoded here instead.
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        for d in msg.defects:
            defects.append(f"message: {type(d).__name__}: {d}")
        self.headers = tuple((name, decode_header_value(value)) for name, value in msg.items())
        self.subject = self.header("Subject")
        self.from_ = self.header("From")
        self.reply_to = self.header("Reply-To")
        self.date = self.header("Date")
        self.message_id = self.header("Message-ID")
        # Split address lists before decoding: an encoded display name may hold a comma.
        self.to = _addresses(msg.get_all("To") or [])
        self.cc = _addresses(msg.get_all("Cc") or [])
        self.received = tuple(_parse_received(v) for v in self.header_all("Received"))

        parts: list[MimePart] = []
        attachments: list[Attachment] = []
        for path, depth, part in _walk(msg, defects):
            for d in part.defects if part is not msg else ():
                defects.append(f"part {path}: {type(d).__name__}")
            ctype = part.get_content_type()
            disposition = part.get_content_disposition()
            try:
                raw_name = part.get_filename()
            except Exception:
                raw_name = None
            filename = decode_header_value(raw_name) if raw_name is not None else None
            charset = part.get_content_charset()
            cte_header = part.get("Content-Transfer-Encoding")
            cte = (str(cte_header).strip().lower() or None) if cte_header else None
            if part.is_multipart():
                parts.append(MimePart(path, depth, ctype, charset, None, disposition, filename, 0))
                continue
            try:
                payload = part.get_payload(decode=True)
            except Exception as exc:
                defects.append(f"part {path}: cannot decode body: {exc}")
                payload = None
            data = payload if isinstance(payload, bytes) else b""
            parts.append(
                MimePart(
                    path,
                    depth,
                    ctype,
                    charset,
                    cte,
                    disposition,
                    filename,
                    len(data),
                )
            )
            is_attachment = disposition == "attachment" or (
                filename is not None and ctype not in ("text/plain", "text/html")
            )
            if not is_attachment and ctype == "text/html":
                self.html_parts += 1
                if self.html is None:
                    self.html = _decode_bytes(data, charset, defects, f"part {path}")
                continue
            if not is_attachment and ctype == "text/plain":
                self.text_parts += 1
                if self.text is None:
                    self.text = _decode_bytes(data, charset, defects, f"part {path}")
                continue
            if is_attachment or disposition == "inline" or part.get("Content-ID"):
                cid = decode_header_value(part.get("Content-ID", "")) or None
                attachments.append(
                    Attachment(
                        index=len(attachments),
                        filename=filename,
                        content_type=ctype,
                        size=len(data),
                        content_id=cid.strip("<> ") if cid else None,
                        disposition=disposition,
                        transfer_encoding=cte,
                        payload=data,
                    )
                )
        self.parts = tuple(parts)
        self.attachments = tuple(attachments)

    def header(self, name: str) -> str | None:
        """First value of a header (decoded), or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]

    @cached_property
    def from_address(self) -> str | None:
        """The bare address of the From header."""
        if not self.from_:
            return None
        pairs = getaddresses([self.from_])
        return (pairs[0][1] or None) if pairs else None

    @cached_property
    def sending_ip(self) -> str | None:
        """The IP the message was sent from (``mailqa.core.address.sending_ip``)."""
        return sending_ip(self)

    @cached_property
    def preview_text(self) -> str:
        """The first words a mail client would show under the subject."""
        if self.text:
            return " ".join(self.text[:4000].split())[:200]
        if self.html:
            return self.html_document.preview
        return ""

    @cached_property
    def html_document(self) -> HtmlDocument:
        """The HTML part parsed once, shared by every check that reads HTML."""
        from mailqa.core.html import HtmlDocument

        return HtmlDocument(self.html or "")


PARSE_IN_THREAD = 256 * 1024
"""Messages larger than this are parsed in a worker thread, so the event loop stays free."""


async def parse_stored(raw: bytes, envelope: Envelope | None = None) -> ParsedMessage:
    """A message parsed without stalling the event loop."""
    if len(raw) > PARSE_IN_THREAD:
        return await asyncio.to_thread(ParsedMessage, raw, envelope)
    return ParsedMessage(raw, envelope)


HEAD_LIMIT = 1024 * 1024
"""Capture reads at most this much of a message's header block before the ``250``."""


def header_block(raw: bytes, limit: int = HEAD_LIMIT) -> bytes:
    """The header block of ``raw`` (up to the first empty line), at most ``limit`` bytes
    (cut at a line end): two bounded searches, whatever the size of the body, and no copy
    but the block itself."""
    end = limit + 4
    ends = [i for i in (raw.find(b"\r\n\r\n", 0, end), raw.find(b"\n\n", 0, end)) if i >= 0]
    if ends:
        return raw[: min(ends)]
    if len(raw) <= limit:
        return raw
    cut = raw.rfind(b"\n", 0, limit)
    return raw[: cut if cut >= 0 else limit]


_STORED_HEADER = re.compile(
    rb"^(subject|from|to|cc|message-id)[ \t]*:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)",
    re.I | re.M,
)
"""A header the message row stores, at a line start, with its continuation lines."""


def header_line(raw: bytes, name: str) -> int | None:
    """The line (counted from 1) of the first ``name:`` field in the header block of
    ``raw``, for findings about a header; None when there is none."""
    wanted = name.lower().encode("ascii") + b":"
    for number, line in enumerate(header_block(raw).split(b"\n"), 1):
        if line[: len(wanted)].lower() == wanted:
            return number
    return None


@dataclass(frozen=True)
class HeaderScan:
    """The headers capture stores, read from the header block by one linear search (no MIME
    parse): decoded as ``ParsedMessage`` decodes them, the first of each."""

    subject: str | None = None
    from_: str | None = None
    to: str | None = None
    cc: str | None = None
    message_id: str | None = None

    @classmethod
    def of(cls, block: bytes) -> HeaderScan:
        found: dict[str, str] = {}
        for match in _STORED_HEADER.finditer(block):
            name = match.group(1).lower().decode()
            if name not in found:
                # 8-bit bytes as the full parse (compat32) shows them: U+FFFD each
                raw_value = match.group(2).decode("ascii", "replace")
                found[name] = decode_header_value(raw_value)
        return cls(
            subject=found.get("subject"),
            from_=found.get("from"),
            to=found.get("to"),
            cc=found.get("cc"),
            message_id=found.get("message-id"),
        )

    def header(self, name: str) -> str | None:
        """First value of one of the scanned headers (Subject, From, To, Cc, Message-ID)."""
        key = name.lower()
        return {
            "subject": self.subject,
            "from": self.from_,
            "to": self.to,
            "cc": self.cc,
            "message-id": self.message_id,
        }.get(key)

    @property
    def from_address(self) -> str | None:
        """The bare address of the From header."""
        if not self.from_:
            return None
        pairs = getaddresses([self.from_])
        return (pairs[0][1] or None) if pairs else None


@dataclass(frozen=True)
class CapturedMessage:
    """What capture stores before it answers: the raw bytes, the envelope and the headers.

    Only the header block is read (bounded by ``HEAD_LIMIT``, the few headers the row
    stores); the body (parts, previews, attachments) is parsed once, by the analysis job,
    which stores what it found.
    """

    raw: bytes
    envelope: Envelope
    head: HeaderScan

    @classmethod
    def scan(
        cls, raw: bytes, envelope: Envelope | None = None, block: bytes | None = None
    ) -> CapturedMessage:
        """``block``: ``header_block(raw)`` when the caller has it already."""
        block = header_block(raw) if block is None else block
        return cls(raw, envelope or Envelope(), HeaderScan.of(block))

    @property
    def defects(self) -> tuple[str, ...]:
        """Known before the body is parsed (the full parse stores all of them): a header
        block alone would report every multipart message as missing its parts."""
        return ("empty message",) if not self.raw or self.raw.isspace() else ()
