"""The principals of mailqa.auth and what the use cases let each of them do."""

from __future__ import annotations

import pytest
from tests.support.stack import Running

from mailqa.auth import (
    AdminTokenRefused,
    Principal,
    SmtpIdentity,
    smtp_identity_valid,
    smtp_principal,
    token_principal,
)
from mailqa.core.errors import Forbidden, NotFound
from mailqa.usecases import inboxes, projects, tokens


async def test_each_principal_sees_its_own(running: Running) -> None:
    service = running.service
    store = service.store
    operator = Principal.operator()
    one = await projects.create_project(service, operator, "usecases one")
    other = await projects.create_project(service, operator, "usecases other")
    inbox = await inboxes.create_inbox(service, operator, one.id, "a")
    foreign = await inboxes.create_inbox(service, operator, other.id, "b")

    plain, _ = await tokens.create_token(
        store, operator, "scoped", is_admin=False, project_id=one.id
    )
    scoped = await token_principal(store, plain)
    assert scoped is not None and not scoped.is_admin and scoped.project_id == one.id
    assert [p.id for p in await projects.list_projects(service, scoped)] == [one.id]
    assert {i.id for i in await inboxes.list_inboxes(service, scoped)} == {inbox.id}
    with pytest.raises(NotFound):
        await inboxes.get_inbox(service, scoped, foreign.id)
    with pytest.raises(NotFound):
        await projects.rename_project(service, scoped, other.id, "taken")
    with pytest.raises(Forbidden, match="admin"):
        await projects.delete_project(service, scoped, one.id)
    with pytest.raises(Forbidden):
        await tokens.list_tokens(store, scoped)

    by_smtp = await smtp_principal(
        store, inbox.smtp_username, inbox.smtp_password, allow_admin_tokens=False
    )
    assert by_smtp == Principal.of_smtp_inbox(inbox.id) and not by_smtp.is_admin
    assert (await inboxes.delivery_inbox(service, by_smtp)) is not None
    with pytest.raises(NotFound):
        await inboxes.get_inbox(service, by_smtp, foreign.id)
    wrong = await smtp_principal(store, inbox.smtp_username, "wrong", allow_admin_tokens=False)
    assert wrong is None


async def test_smtp_logins_and_their_revocation(running: Running) -> None:
    service = running.service
    store = service.store
    operator = Principal.operator()
    with pytest.raises(AdminTokenRefused):
        await smtp_principal(store, "any", running.token, allow_admin_tokens=False)
    admin = await smtp_principal(store, "any", running.token, allow_admin_tokens=True)
    assert admin is not None and admin.is_admin

    plain, token = await tokens.create_token(store, operator, "smtp", is_admin=False)
    sandbox_login = await smtp_principal(store, "any", plain, allow_admin_tokens=False)
    assert sandbox_login is not None
    sandbox = await inboxes.delivery_inbox(service, sandbox_login)
    assert sandbox is not None and sandbox_login.can_see_inbox(sandbox)
    identity = SmtpIdentity.of(sandbox_login, "any", plain, sandbox.id)
    assert identity.token_id == token.id and await smtp_identity_valid(store, identity)
    await tokens.revoke_token(store, operator, token.id)
    assert not await smtp_identity_valid(store, identity)
    assert await token_principal(store, plain) is None

    project = await projects.create_project(service, operator, "usecases smtp")
    inbox = await inboxes.create_inbox(service, operator, project.id, "c")
    by_inbox = Principal.of_smtp_inbox(inbox.id)
    identity = SmtpIdentity.of(by_inbox, inbox.smtp_username, inbox.smtp_password, inbox.id)
    assert identity.token_id is None and await smtp_identity_valid(store, identity)
    await inboxes.reset_credentials(service, operator, inbox.id)
    assert not await smtp_identity_valid(store, identity)
