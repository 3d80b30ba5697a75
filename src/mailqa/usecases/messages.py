"""Messages: capture one over HTTP, list, wait for, read, mark, delete, re-analyse and
release them.

Functions taking a ``principal`` check it may see the message's inbox; those taking a stored
``row`` are for a message already read through one of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailqa.auth import Principal
from mailqa.core.budget import in_thread
from mailqa.core.errors import ConfigError, NotFound, SourceExpired
from mailqa.core.extract import Extraction
from mailqa.core.extract import extract as extract_from
from mailqa.core.message import Attachment as MessageAttachment
from mailqa.core.message import Envelope, ParsedMessage, parse_stored
from mailqa.core.report import Report
from mailqa.relay import Relay, RelayResult
from mailqa.service import Service, envelope_of
from mailqa.store.capture import utf8_size
from mailqa.store.messages import MessageFilter
from mailqa.store.models import Attachment, Message
from mailqa.usecases.inboxes import get_inbox


class UnknownCheck(ConfigError):
    """A re-analysis asked for a check that is not enabled."""


async def get_message(service: Service, principal: Principal, message_id: int) -> Message:
    """The message, or NotFound when it does not exist or its inbox is not visible; with its
    body's facts (parsed now if its analysis has not done it yet)."""
    row = await service.store.get_message(message_id)
    await get_inbox(service, principal, row.inbox_id)
    return row if row.body_parsed else await service.get_message(message_id)


async def inbox_message(
    service: Service, principal: Principal, inbox_id: int, message_id: int
) -> Message:
    """The message of that inbox (NotFound when it is in another one)."""
    await get_inbox(service, principal, inbox_id)
    row = await service.store.get_message(message_id)
    if row.inbox_id != inbox_id:
        raise NotFound(f"message {message_id} not found in inbox {inbox_id}")
    return row if row.body_parsed else await service.get_message(message_id)


async def capture(
    service: Service,
    principal: Principal,
    inbox_id: int,
    raw: bytes,
    envelope: Envelope,
    *,
    source: str,
) -> int:
    """Store a raw message in the inbox and queue its analysis; its id."""
    await get_inbox(service, principal, inbox_id)
    return await service.capture(raw, inbox_id, envelope, source=source)


async def list_messages(
    service: Service,
    principal: Principal,
    inbox_id: int,
    *,
    offset: int = 0,
    limit: int,
    filters: MessageFilter | None = None,
) -> tuple[Sequence[Message], int]:
    """A page of the inbox's messages, newest first, and how many match in all; each with its
    body's facts (its preview: parsed now for those whose analysis has not got to it yet)."""
    await get_inbox(service, principal, inbox_id)
    rows, total = await service.store.list_messages(
        inbox_id, offset=offset, limit=limit, filters=filters
    )
    if all(row.body_parsed for row in rows):
        return rows, total
    return [await _with_body(service, row) for row in rows], total


async def latest_message(
    service: Service,
    principal: Principal,
    inbox_id: int,
    filters: MessageFilter,
    *,
    wait: float,
    analyzed: bool,
) -> Message | None:
    """The newest matching message, waiting up to ``wait`` seconds for one."""
    await get_inbox(service, principal, inbox_id)
    row = await service.wait_for_message(inbox_id, filters, wait=wait, analyzed=analyzed)
    return None if row is None else await _with_body(service, row)


async def _with_body(service: Service, row: Message) -> Message:
    """The row with its body's facts, parsed now if need be (as listed: deleted meanwhile,
    it stays as it was)."""
    if row.body_parsed:
        return row
    try:
        return await service.get_message(row.id)
    except NotFound:
        return row


async def set_read(
    service: Service, principal: Principal, message_id: int, is_read: bool
) -> Message:
    await get_message(service, principal, message_id)
    return await service.store.set_read(message_id, is_read)


async def delete_message(service: Service, principal: Principal, message_id: int) -> None:
    await get_message(service, principal, message_id)
    await service.store.delete_message(message_id)
    await service.previews.forget(message_id)


async def raw_source(service: Service, row: Message) -> bytes:
    """The message exactly as received (SourceExpired once retention dropped it)."""
    return await service.store.get_raw(row.id)


async def parsed_source(raw: bytes, row: Message) -> ParsedMessage:
    """The message's source parsed (big ones off the event loop)."""
    return await parse_stored(raw, envelope_of(row))


async def parsed(service: Service, row: Message) -> ParsedMessage:
    """The stored message parsed."""
    return await parsed_source(await raw_source(service, row), row)


async def extract(service: Service, principal: Principal, message_id: int) -> Extraction:
    """The message's one-time codes and classified links (``core.extract``)."""
    row = await get_message(service, principal, message_id)
    return await extraction(service, row)


async def extraction(service: Service, row: Message) -> Extraction:
    """Codes and links of a message already read (off the event loop: it reads the HTML)."""
    msg = await parsed(service, row)
    return await in_thread(extract_from, msg)


async def attachments(service: Service, row: Message) -> Sequence[Attachment]:
    """The attachment index stored at capture."""
    return await service.store.get_attachments(row.id)


async def message_detail(
    service: Service, principal: Principal, message_id: int
) -> tuple[Message, ParsedMessage | None, Sequence[Attachment]]:
    """The row, its parse (None once the source has expired) and its attachments."""
    row = await get_message(service, principal, message_id)
    try:
        message: ParsedMessage | None = await parsed(service, row)
    except SourceExpired:
        message = None
    return row, message, await attachments(service, row)


async def attachment_at(row: Message, raw: bytes, index: int) -> MessageAttachment | None:
    """The ``index``-th attachment of the message's source, or None when out of range."""
    message = await parsed_source(raw, row)
    if not 0 <= index < len(message.attachments):
        return None
    return message.attachments[index]


async def body_sizes(service: Service, row: Message) -> tuple[int, int]:
    """HTML and text body sizes: stored at capture, read from the source for older rows
    (0 when retention dropped it)."""
    if row.html_size is not None and row.text_size is not None:
        return row.html_size, row.text_size
    try:
        message = await parsed(service, row)
    except SourceExpired:
        return 0, 0
    return utf8_size(message.html), utf8_size(message.text)


async def report(service: Service, principal: Principal, message_id: int) -> Report | None:
    """The stored report, or None while the analysis has not finished."""
    await get_message(service, principal, message_id)
    return await service.store.get_report(message_id)


async def reports_of(
    service: Service, rows: Sequence[Message], only_checks: Sequence[str]
) -> dict[int, Report]:
    """The stored reports of the messages, with only those sections (one query)."""
    return await service.store.get_reports([r.id for r in rows], only_checks=only_checks)


async def finished_report(service: Service, row: Message, *, wait: float) -> Report | None:
    """The stored report, waiting up to ``wait`` seconds for a pending one."""
    found = await service.store.get_report(row.id)
    if found is None and wait > 0:
        only_this = MessageFilter(after_id=row.id - 1, before_id=row.id + 1)
        await service.wait_for_message(row.inbox_id, only_this, wait=wait, analyzed=True)
        found = await service.store.get_report(row.id)
    return found


async def analyze(
    service: Service, principal: Principal, message_id: int, only: list[str] | None
) -> Report:
    """Run the analysis again now (all checks, or ``only`` those) and store the report."""
    await get_message(service, principal, message_id)
    if only:
        unknown = [c for c in only if c not in service.pipeline.checks]
        if unknown:
            raise UnknownCheck(
                f"unknown check(s): {', '.join(unknown)}; "
                f"enabled: {', '.join(service.pipeline.checks)}"
            )
    return await service.analyze_now(message_id, only=only)


async def release(
    service: Service, principal: Principal, message_id: int, to: list[str] | None
) -> RelayResult:
    """Deliver the message for real, unchanged, through the SMTP relay: to ``to``, else its
    envelope recipients, else its To and Cc. Raises ``RelayError``."""
    row = await get_message(service, principal, message_id)
    raw = await raw_source(service, row)
    recipients = list(to) if to else list(row.rcpt_to or [])
    if not recipients:
        message = await parsed_source(raw, row)
        recipients = [*message.to, *message.cc]
    return await Relay(service.settings).forward(raw, row.mail_from or row.from_address, recipients)


async def forward(service: Service, row: Message, email: str) -> RelayResult:
    """Re-send the message through the SMTP relay to ``email``. Raises ``RelayError``."""
    raw = await raw_source(service, row)
    return await Relay(service.settings).forward(raw, row.mail_from or row.from_address, [email])
