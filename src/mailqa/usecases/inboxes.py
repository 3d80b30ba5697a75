"""Inboxes: list, create, read, change and empty them; the sandbox inbox of a token; the
inbox an SMTP login delivers to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mailqa.auth import Principal
from mailqa.core.errors import LimitExceeded, MailqaError, NotFound
from mailqa.service import Service
from mailqa.store.inboxes import InboxStats
from mailqa.store.models import Inbox, Project
from mailqa.store.sandboxes import DEFAULT_NAME
from mailqa.usecases.projects import require_visible


async def get_inbox(service: Service, principal: Principal, inbox_id: int) -> Inbox:
    """The inbox, or NotFound when it does not exist or the principal may not see it."""
    inbox = await service.store.get_inbox(inbox_id)
    if not principal.can_see_inbox(inbox):
        raise NotFound(f"inbox {inbox_id} not found")
    return inbox


async def list_inboxes(
    service: Service, principal: Principal, project_id: int | None = None
) -> list[Inbox]:
    """The inboxes the principal may see (of one project, with ``project_id``)."""
    rows = await service.store.list_inboxes(project_id)
    return [i for i in rows if principal.can_see_inbox(i)]


async def inbox_stats(
    service: Service, principal: Principal, inboxes: Sequence[Inbox]
) -> dict[int, InboxStats]:
    """Message counts and newest arrival of the given inboxes the principal may see."""
    return await service.store.inbox_stats([i.id for i in inboxes if principal.can_see_inbox(i)])


def _inbox_limit(service: Service, principal: Principal) -> int | None:
    """How many inboxes a project may have for this principal to create one, unless the
    project sets its own limit (None: no limit)."""
    return None if principal.is_admin else service.settings.max_inboxes_per_project


def _default_quota(service: Service, project: Project) -> int:
    """The quota of an inbox created without one: the global default, within the project's
    maximum."""
    quota = service.settings.inbox_quota_bytes
    if project.max_inbox_quota_bytes is not None:
        quota = min(quota, project.max_inbox_quota_bytes)
    return quota


def _check_quota(
    service: Service, principal: Principal, project: Project, quota_bytes: int | None
) -> None:
    """Project tokens may set quotas up to the project's maximum (an admin's
    ``max_inbox_quota_bytes``, else the configured one); admins any."""
    if quota_bytes is None or principal.is_admin:
        return
    if project.max_inbox_quota_bytes is not None:
        most, which = project.max_inbox_quota_bytes, "the project's max_inbox_quota_bytes"
    else:
        settings = service.settings
        most = max(settings.max_inbox_quota_bytes, settings.inbox_quota_bytes)
        which = "MAILQA_MAX_INBOX_QUOTA_BYTES"
    if quota_bytes > most:
        raise LimitExceeded(
            f"quota_bytes {quota_bytes} is over {most}, the most a project token may set "
            f"({which}); an admin token can set more"
        )


async def create_inbox(
    service: Service,
    principal: Principal,
    project_id: int,
    name: str,
    *,
    quota_bytes: int | None = None,
    max_messages: int | None = None,
    max_age_days: float | None = None,
) -> Inbox:
    """A new inbox in the project (the default quota unless given), within the limits a
    non-admin principal has."""
    require_visible(principal, project_id)
    project = await service.store.get_project(project_id)
    _check_quota(service, principal, project, quota_bytes)
    return await service.store.create_inbox(
        project_id,
        name,
        quota_bytes or _default_quota(service, project),
        max_inboxes=_inbox_limit(service, principal),
        max_messages=max_messages,
        max_age_days=max_age_days,
    )


async def update_inbox(
    service: Service, principal: Principal, inbox_id: int, **fields: Any
) -> Inbox:
    """Change the given fields (name, quota_bytes, max_messages, max_age_days)."""
    inbox = await get_inbox(service, principal, inbox_id)
    if fields.get("quota_bytes") is not None:
        project = await service.store.get_project(inbox.project_id)
        _check_quota(service, principal, project, fields["quota_bytes"])
    return await service.store.update_inbox(inbox_id, **fields)


async def delete_inbox(service: Service, principal: Principal, inbox_id: int) -> None:
    await get_inbox(service, principal, inbox_id)
    await service.store.delete_inbox(inbox_id)


async def reset_credentials(service: Service, principal: Principal, inbox_id: int) -> Inbox:
    """A new SMTP password; sessions authenticated with the old one deliver nothing more."""
    await get_inbox(service, principal, inbox_id)
    return await service.store.reset_credentials(inbox_id)


async def toggle_email_username(service: Service, principal: Principal, inbox_id: int) -> Inbox:
    """Turn the inbox's e-mail address on or off (Mailtrap's toggle_email_username)."""
    await get_inbox(service, principal, inbox_id)
    return await service.store.toggle_email_username(inbox_id)


async def reset_email_username(service: Service, principal: Principal, inbox_id: int) -> Inbox:
    """A new random e-mail username (Mailtrap's reset_email_username)."""
    await get_inbox(service, principal, inbox_id)
    return await service.store.reset_email_username(inbox_id)


class EmailUsernameTaken(MailqaError):
    """Another inbox has that e-mail username."""


async def rename_email_username(
    service: Service, principal: Principal, inbox_id: int, email_username: str
) -> Inbox:
    """Give the inbox the e-mail username chosen (lower-cased); one another inbox has is
    refused with ``EmailUsernameTaken``."""
    await get_inbox(service, principal, inbox_id)
    wanted = email_username.lower()
    holder = await service.store.inbox_by_email_username(wanted)
    if holder is not None and holder.id != inbox_id:
        raise EmailUsernameTaken(f"email_username {wanted!r} is taken by another inbox")
    return await service.store.update_inbox(inbox_id, email_username=wanted)


async def purge_inbox(service: Service, principal: Principal, inbox_id: int) -> int:
    """Delete every message of the inbox (its quota is free again at once); the count."""
    await get_inbox(service, principal, inbox_id)
    purged = await service.store.purge_inbox(inbox_id)
    await service.previews.sweep()
    return purged


async def mark_all_read(service: Service, principal: Principal, inbox_id: int) -> int:
    await get_inbox(service, principal, inbox_id)
    return await service.store.mark_all_read(inbox_id)


async def sandbox_inbox(
    service: Service, principal: Principal, *, create: bool = False
) -> Inbox | None:
    """The token's sandbox (its default inbox), created when ``create`` (a first delivery);
    None when it has none, or the principal is not a token."""
    if principal.token is None:
        return None
    return await service.store.sandbox_inbox(
        principal.token, create=create, quota_bytes=service.settings.inbox_quota_bytes
    )


async def delivery_inbox(service: Service, principal: Principal) -> Inbox | None:
    """Where the mail of an SMTP login goes: the inbox whose credentials it used, or the
    token's sandbox inbox (created on first use)."""
    if principal.kind == "smtp_inbox" and principal.inbox_id is not None:
        return await get_inbox(service, principal, principal.inbox_id)
    return await sandbox_inbox(service, principal, create=True)


@dataclass(frozen=True)
class StartInbox:
    """The inbox unauthenticated SMTP mail goes to, as ``mailqa serve`` announces it."""

    inbox: Inbox
    created: bool  # made by this start: a fresh server, its credentials not shown before


async def default_inbox_at_start(service: Service) -> StartInbox | None:
    """The default inbox, made when the server has no inbox at all, so that a new user has an
    ``inbox_id`` for the SDKs before sending anything. A server that has inboxes gets none
    made (its default one may have been deleted on purpose); ``None`` then when it has no
    default inbox (or ``MAILQA_SMTP_DEFAULT_INBOX`` names a missing one)."""
    settings = service.settings
    store = service.store
    if settings.smtp_default_inbox is not None:
        try:
            return StartInbox(await store.get_inbox(settings.smtp_default_inbox), created=False)
        except NotFound:
            return None
    if not await store.list_inboxes():
        return StartInbox(await store.default_inbox(settings.inbox_quota_bytes), created=True)
    for project in await store.list_projects():
        if project.name == DEFAULT_NAME:
            for inbox in await store.list_inboxes(project.id):
                if inbox.name == DEFAULT_NAME:
                    return StartInbox(inbox, created=False)
    return None
