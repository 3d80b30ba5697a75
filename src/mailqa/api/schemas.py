"""Response and request bodies of the native API (they shape the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from mailqa.core.extract import Extraction
from mailqa.core.message import ParsedMessage
from mailqa.settings import BIGINT_MAX
from mailqa.store.models import Attachment, Message, Project

INT_MAX = 2**31 - 1  # message counts are 32-bit integers on every backend
MAX_AGE_DAYS = 36_500.0  # a hundred years: further back than any stored date

MAX_INBOXES_HELP = (
    "Most inboxes the project may have for a project token to create one; null: "
    "MAILQA_MAX_INBOXES_PER_PROJECT. Set by admin tokens only."
)
MAX_INBOX_QUOTA_HELP = (
    "Largest quota (bytes) a project token may give an inbox here, also the most an inbox "
    "created without one gets; null: MAILQA_MAX_INBOX_QUOTA_BYTES. Set by admin tokens only."
)


class ProjectOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    max_inboxes: int | None = Field(description=MAX_INBOXES_HELP)
    max_inbox_quota_bytes: int | None = Field(description=MAX_INBOX_QUOTA_HELP)

    @classmethod
    def of(cls, p: Project) -> ProjectOut:
        return cls(
            id=p.id,
            name=p.name,
            created_at=p.created_at,
            max_inboxes=p.max_inboxes,
            max_inbox_quota_bytes=p.max_inbox_quota_bytes,
        )


class ProjectIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    max_inboxes: int | None = Field(None, ge=0, le=INT_MAX, description=MAX_INBOXES_HELP)
    max_inbox_quota_bytes: int | None = Field(
        None, gt=0, le=BIGINT_MAX, description=MAX_INBOX_QUOTA_HELP
    )


class ProjectPatch(BaseModel):
    """Fields to change. ``null`` clears a limit (the global setting applies again); the
    name cannot be null."""

    name: str | None = Field(None, min_length=1, max_length=200)
    max_inboxes: int | None = Field(None, ge=0, le=INT_MAX, description=MAX_INBOXES_HELP)
    max_inbox_quota_bytes: int | None = Field(
        None, gt=0, le=BIGINT_MAX, description=MAX_INBOX_QUOTA_HELP
    )

    @model_validator(mode="after")
    def _name_stays_set(self) -> ProjectPatch:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self


class SmtpCredentials(BaseModel):
    host: str
    port: int
    username: str
    password: str
    auth_methods: list[str] = ["PLAIN", "LOGIN"]


class InboxOut(BaseModel):
    id: int
    project_id: int
    name: str
    quota_bytes: int
    used_bytes: int
    message_count: int = Field(description="Messages stored in the inbox.")
    unread_count: int = Field(description="Those of them not read yet.")
    max_messages: int | None
    max_age_days: float | None
    created_at: datetime
    smtp: SmtpCredentials


class InboxIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    quota_bytes: int | None = Field(
        None,
        gt=0,
        le=BIGINT_MAX,
        description="Bytes; project tokens up to MAILQA_MAX_INBOX_QUOTA_BYTES.",
    )
    max_messages: int | None = Field(None, gt=0, le=INT_MAX)
    max_age_days: float | None = Field(None, gt=0, le=MAX_AGE_DAYS)


class InboxPatch(BaseModel):
    """Fields to change. ``null`` clears a retention limit; name and quota cannot be null."""

    name: str | None = Field(None, min_length=1, max_length=200)
    quota_bytes: int | None = Field(
        None,
        gt=0,
        le=BIGINT_MAX,
        description="Bytes; project tokens up to MAILQA_MAX_INBOX_QUOTA_BYTES.",
    )
    max_messages: int | None = Field(None, gt=0, le=INT_MAX)
    max_age_days: float | None = Field(None, gt=0, le=MAX_AGE_DAYS)

    @model_validator(mode="after")
    def _required_stay_set(self) -> InboxPatch:
        for field in ("name", "quota_bytes"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class AttachmentOut(BaseModel):
    index: int
    filename: str | None
    content_type: str
    size: int
    content_id: str | None
    disposition: str | None
    transfer_encoding: str | None = None

    @classmethod
    def of(cls, a: Attachment) -> AttachmentOut:
        return cls(
            index=a.index,
            filename=a.filename,
            content_type=a.content_type,
            size=a.size,
            content_id=a.content_id,
            disposition=a.disposition,
            transfer_encoding=a.transfer_encoding,
        )


class EnvelopeOut(BaseModel):
    mail_from: str | None
    rcpt_to: list[str]
    client_ip: str | None
    helo: str | None
    smtp_tls: bool | None = Field(
        default=None,
        description="Whether the SMTP session used TLS; null: not received over SMTP.",
    )


class MessageOut(BaseModel):
    id: int
    inbox_id: int
    subject: str | None
    from_: str | None = Field(alias="from")
    from_address: str | None
    to: str | None
    cc: str | None
    size: int
    preview_text: str
    is_read: bool
    created_at: datetime
    has_html: bool
    has_text: bool
    analysis_status: str
    score: float | None
    envelope: EnvelopeOut
    source_expired_at: datetime | None = Field(
        None, description="When retention dropped the raw source (it then answers 410)."
    )

    model_config = {"populate_by_name": True}

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls(
            id=m.id,
            inbox_id=m.inbox_id,
            subject=m.subject,
            from_=m.from_header,
            from_address=m.from_address,
            to=m.to_header,
            cc=m.cc_header,
            size=m.size,
            preview_text=m.preview_text,
            is_read=m.is_read,
            created_at=m.created_at,
            has_html=m.has_html,
            has_text=m.has_text,
            analysis_status=m.analysis_status,
            score=m.score,
            envelope=EnvelopeOut(
                mail_from=m.mail_from,
                rcpt_to=list(m.rcpt_to or []),
                client_ip=m.client_ip,
                helo=m.helo,
                smtp_tls=m.smtp_tls,
            ),
            source_expired_at=m.source_expired_at,
        )


class LatestMessageOut(MessageOut):
    """The newest message; with ``extract=true`` its codes and links too."""

    extract: Extraction | None = Field(
        None, description="One-time codes and classified links (with ?extract=true)."
    )


class ExtractionOut(Extraction):
    """A message's one-time codes and classified links."""

    message_id: int


class HeaderOut(BaseModel):
    name: str
    value: str


class MessageDetail(MessageOut):
    text_body: str | None
    html_body: str | None
    headers: list[HeaderOut]
    attachments: list[AttachmentOut]
    parse_defects: list[str]

    @classmethod
    def build(
        cls, m: Message, parsed: ParsedMessage | None, attachments: list[Attachment]
    ) -> MessageDetail:
        """``parsed`` is None when retention dropped the source: bodies and headers are gone,
        the rest of the message stays."""
        base = MessageOut.of(m).model_dump()
        return cls(
            **base,
            text_body=parsed.text if parsed else None,
            html_body=parsed.html if parsed else None,
            headers=[HeaderOut(name=k, value=v) for k, v in parsed.headers] if parsed else [],
            attachments=[AttachmentOut.of(a) for a in attachments],
            parse_defects=list(parsed.defects if parsed else m.parse_defects or []),
        )


class MessagePage(BaseModel):
    messages: list[MessageOut]
    page: int
    per_page: int
    total: int


class MessagePatch(BaseModel):
    is_read: bool


class Captured(BaseModel):
    id: int
    inbox_id: int
    size: int


class Count(BaseModel):
    count: int


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    project_id: int | None = None
    is_admin: bool = False


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    is_admin: bool
    project_id: int | None
    token: str | None = Field(None, description="The secret; shown once, at creation.")


class Health(BaseModel):
    status: str
