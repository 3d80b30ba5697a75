"""Mailtrap's send JSON → a correct MIME message, built with the stdlib ``email`` package.

Structure (only the layers a message needs are made)::

    multipart/mixed                      when there are regular attachments
    └── multipart/alternative            when there are both text and html
        ├── text/plain
        └── multipart/related            when html has inline (content_id) images
            ├── text/html
            └── image/png  Content-ID: <logo>

Header values with non-ASCII text are RFC 2047 encoded; display names are quoted as needed.
``custom_variables`` and ``category`` travel in ``X-MT-Custom-Variables`` / ``X-MT-Category``
headers, the way Mailtrap's SMTP path carries them. Bcc recipients are envelope recipients
only: no ``Bcc`` header is written.
"""

from __future__ import annotations

import binascii
import json
import mimetypes
import re
from base64 import b64decode
from datetime import UTC, datetime
from email.charset import QP, Charset
from email.encoders import encode_base64
from email.errors import HeaderParseError
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mailqa.core.address import is_plain_address

MAX_RECIPIENTS_PER_FIELD = 1000
# Headers the builder writes itself; a request may not set them through ``headers``.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "x-mt-category",
        "x-mt-custom-variables",
    }
)
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII except ':' (RFC 5322 ftext)
_CRLF = compat32.clone(linesep="\r\n")
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP
_EMAIL_FORBIDDEN = re.compile(r"[@\s<>()\[\],;:\"\\]")  # outside the one '@': is_plain_address


class SendError(ValueError):
    """The send request cannot become a message; ``errors`` are Mailtrap-style strings."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class SendAddress(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: str = Field(min_length=3, max_length=320)
    name: str | None = Field(None, max_length=500)

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        value = value.strip()
        if not is_plain_address(value, _EMAIL_FORBIDDEN):
            raise ValueError(f"'{value}' is not a valid email address")
        local, _, domain = value.rpartition("@")
        if not local.isascii():
            raise ValueError(f"'{value}': non-ASCII local parts (SMTPUTF8) are not supported")
        if not domain.isascii():  # internationalised domain: its ASCII (punycode) form
            try:
                domain = domain.encode("idna").decode("ascii")
            except UnicodeError as exc:
                raise ValueError(f"'{value}': the domain is not a valid IDN") from exc
        return f"{local}@{domain}"

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and ("\r" in value or "\n" in value):
            raise ValueError("must not contain line breaks")
        return value


class SendAttachment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    content: str = Field(description="Base64-encoded bytes.")
    filename: str = Field(min_length=1, max_length=255)
    type: str | None = Field(None, description="MIME type; guessed from the filename if unset.")
    disposition: Literal["attachment", "inline"] | None = None
    content_id: str | None = Field(None, max_length=255)

    def decoded(self) -> bytes:
        try:
            return b64decode("".join(self.content.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"attachment '{self.filename}': content is not valid base64") from exc

    def mime_type(self) -> tuple[str, str]:
        ctype = self.type or mimetypes.guess_type(self.filename)[0] or "application/octet-stream"
        maintype, _, subtype = ctype.strip().lower().partition("/")
        if not maintype or not subtype or "/" in subtype or not _HEADER_NAME.match(ctype):
            raise ValueError(f"attachment '{self.filename}': '{ctype}' is not a MIME type")
        return maintype, subtype


class SendRequest(BaseModel):
    """One message of Mailtrap's send API (``POST /api/send``)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    from_: SendAddress | None = Field(None, alias="from")
    to: list[SendAddress] = Field(default_factory=list, max_length=MAX_RECIPIENTS_PER_FIELD)
    cc: list[SendAddress] = Field(default_factory=list, max_length=MAX_RECIPIENTS_PER_FIELD)
    bcc: list[SendAddress] = Field(default_factory=list, max_length=MAX_RECIPIENTS_PER_FIELD)
    reply_to: SendAddress | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    attachments: list[SendAttachment] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    custom_variables: dict[str, Any] = Field(default_factory=dict)
    category: str | None = Field(None, max_length=255)
    template_uuid: str | None = None
    template_variables: dict[str, Any] | None = None

    @property
    def recipients(self) -> list[str]:
        return [a.email for a in (*self.to, *self.cc, *self.bcc)]

    def problems(self) -> list[str]:
        """What keeps this request from being a complete message (pydantic checks the types)."""
        errors: list[str] = []
        if self.from_ is None:
            errors.append("'from' is required")
        if not self.to and not self.cc and not self.bcc:
            errors.append("'to' is required: at least one recipient in to, cc or bcc")
        if self.template_uuid is not None:
            errors.append(
                "templates are not supported: send 'subject' with 'text' and/or 'html' instead "
                "of 'template_uuid'"
            )
            return errors
        if not (self.subject or "").strip():
            errors.append("'subject' is required")
        if self.text is None and self.html is None:
            errors.append("'text' or 'html' is required")
        if self.subject and ("\r" in self.subject or "\n" in self.subject):
            errors.append("'subject' must not contain line breaks")
        if self.category is not None and ("\r" in self.category or "\n" in self.category):
            errors.append("'category' must not contain line breaks")
        for name, value in self.headers.items():
            if not _HEADER_NAME.match(name):
                errors.append(f"headers: '{name}' is not a valid header name")
            elif name.lower() in RESERVED_HEADERS:
                errors.append(f"headers: '{name}' is reserved and cannot be set")
            if "\r" in value or "\n" in value:
                errors.append(f"headers: the value of '{name}' must not contain line breaks")
        for att in self.attachments:
            try:
                att.decoded()
                att.mime_type()
            except ValueError as exc:
                errors.append(str(exc))
            if att.disposition == "inline" and not att.content_id:
                errors.append(f"attachment '{att.filename}': inline attachments need content_id")
        return errors


def validation_messages(exc: ValidationError) -> list[str]:
    """pydantic errors as short ``field.path: message`` strings."""
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "body"
        message = str(err["msg"]).removeprefix("Value error, ")
        out.append(f"{where}: {message}")
    return out


def parse_send_request(data: Any) -> SendRequest:
    """Validate one send payload; raise ``SendError`` listing every problem."""
    if not isinstance(data, dict):
        raise SendError(["the request body must be a JSON object"])
    try:
        request = SendRequest.model_validate(data)
    except ValidationError as exc:
        raise SendError(validation_messages(exc)) from exc
    problems = request.problems()
    if problems:
        raise SendError(problems)
    return request


def _address(a: SendAddress) -> str:
    """``Name <addr>``; a non-ASCII name is RFC 2047 encoded, special characters quoted."""
    return formataddr((a.name or "", a.email), charset="utf-8")


def _domain(request: SendRequest) -> str:
    sender = request.from_.email if request.from_ else "mailqa.invalid"
    return sender.rpartition("@")[2] or "mailqa.invalid"


def _set_header(msg: Message, name: str, value: str) -> None:
    """Add a header; a non-ASCII value is RFC 2047 encoded."""
    msg[name] = value if value.isascii() else Header(value, "utf-8")  # type: ignore[assignment]


def build_message(request: SendRequest, *, now: datetime | None = None) -> bytes:
    """The message as CRLF bytes, ready to capture or relay."""
    problems = request.problems()
    if problems:
        raise SendError(problems)
    try:
        return _build(request, now or datetime.now(UTC))
    except (ValueError, TypeError, LookupError, HeaderParseError) as exc:
        raise SendError([f"cannot build the message: {exc}"]) from exc


def _text_part(content: str, subtype: str) -> MIMEText:
    """7bit when the text allows it, else UTF-8 quoted-printable (readable, no long lines)."""
    if content.isascii() and all(len(line) <= 998 for line in content.splitlines()):
        part = MIMEText(content, subtype, "us-ascii")
    else:
        part = MIMEText(content, subtype, _UTF8_QP)  # type: ignore[arg-type]  # takes a Charset
    del part["MIME-Version"]
    return part


def _file_part(att: SendAttachment, disposition: str) -> MIMEBase:
    maintype, subtype = att.mime_type()
    part = MIMEBase(maintype, subtype)
    del part["MIME-Version"]
    part.set_payload(att.decoded())
    encode_base64(part)
    filename: str | tuple[str, str, str] = (
        att.filename if att.filename.isascii() else ("utf-8", "", att.filename)
    )
    part.add_header("Content-Disposition", disposition, filename=filename)
    if att.content_id:
        part["Content-ID"] = f"<{att.content_id.strip('<> ')}>"
    return part


def _multipart(subtype: str, parts: list[Message]) -> MIMEMultipart:
    container = MIMEMultipart(subtype)
    del container["MIME-Version"]
    for part in parts:
        container.attach(part)
    return container


def _build(request: SendRequest, now: datetime) -> bytes:
    # compat32 MIME classes: several times faster than EmailMessage with the modern policy.
    assert request.from_ is not None
    inline = [a for a in request.attachments if a.disposition == "inline" and a.content_id]
    regular = [a for a in request.attachments if not (a.disposition == "inline" and a.content_id)]

    html: Message | None = _text_part(request.html, "html") if request.html is not None else None
    text: Message | None = _text_part(request.text, "plain") if request.text is not None else None
    if inline:  # inline images relate to the html (or, without html, to the text)
        related_to = html if html is not None else text
        assert related_to is not None
        related = _multipart("related", [related_to, *(_file_part(a, "inline") for a in inline)])
        if html is not None:
            html = related
        else:
            text = related
    if text is not None and html is not None:
        body: Message = _multipart("alternative", [text, html])
    else:
        body = text if text is not None else html  # type: ignore[assignment]
    if regular:
        body = _multipart(
            "mixed", [body, *(_file_part(a, a.disposition or "attachment") for a in regular)]
        )

    body["From"] = _address(request.from_)
    if request.to:
        body["To"] = ", ".join(_address(a) for a in request.to)
    if request.cc:
        body["Cc"] = ", ".join(_address(a) for a in request.cc)
    if request.reply_to:
        body["Reply-To"] = _address(request.reply_to)
    _set_header(body, "Subject", request.subject or "")
    body["Date"] = format_datetime(now)
    body["Message-ID"] = make_msgid(domain=_domain(request))
    if request.category:
        _set_header(body, "X-MT-Category", request.category)
    if request.custom_variables:
        body["X-MT-Custom-Variables"] = json.dumps(request.custom_variables)
    for name, value in request.headers.items():
        _set_header(body, name, value)
    # The root part's Content-* headers move after the generated ones, as mailers write them.
    content = [(k, v) for k, v in body.items() if k.lower().startswith("content-")]
    for name in dict.fromkeys(k for k, _ in content):
        del body[name]
    body["MIME-Version"] = "1.0"
    for name, value in content:
        body[name] = value
    return body.as_bytes(policy=_CRLF)


def merge_batch_item(base: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """A batch request's fields over the batch ``base`` (request values win)."""
    merged = dict(base)
    merged.update({k: v for k, v in item.items() if v is not None})
    return merged


def size_floor(request: SendRequest) -> int:
    """A lower bound of the built message's size (bytes), read from the request alone: its
    bodies (7bit or quoted-printable: at least their UTF-8 bytes), attachments (base64: at
    least their base64 characters), subject and headers. Nothing is encoded or decoded."""
    total = 0
    for text in (request.text, request.html, request.subject, request.category):
        if text:
            total += len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
    for att in request.attachments:
        blanks = sum(att.content.count(c) for c in " \t\r\n")
        total += len(att.content) - blanks + len(att.filename)
    for name, value in request.headers.items():
        total += len(name) + len(value)
    for address in (*request.to, *request.cc, request.from_, request.reply_to):
        if address is not None:
            total += len(address.email)
    return total
