"""A fresh server makes its default inbox at start-up, so SDK users have an inbox_id before
sending anything; a server that has inboxes is left as it is."""

from __future__ import annotations

from pathlib import Path

from tests.support.stack import base_settings

from mailqa.service import open_service
from mailqa.usecases.inboxes import default_inbox_at_start
from mailqa.worker.selection import select_executor


async def test_made_on_a_fresh_server_then_found_again(tmp_path: Path) -> None:
    settings = base_settings(tmp_path, analysis_processes=0)
    async with open_service(settings, executor=select_executor, start_executor=False) as service:
        first = await default_inbox_at_start(service)
        assert first is not None and first.created
        assert first.inbox.name == "Default"
        project = await service.store.get_project(first.inbox.project_id)
        assert project.name == "Default"
        # the inbox unauthenticated SMTP mail goes to
        smtp_inbox = await service.store.default_inbox(settings.inbox_quota_bytes)
        assert smtp_inbox.id == first.inbox.id
        again = await default_inbox_at_start(service)
        assert again is not None and not again.created and again.inbox.id == first.inbox.id


async def test_a_deleted_default_inbox_stays_deleted(tmp_path: Path) -> None:
    settings = base_settings(tmp_path, analysis_processes=0)
    async with open_service(settings, executor=select_executor, start_executor=False) as service:
        made = await default_inbox_at_start(service)
        assert made is not None
        other = await service.store.create_inbox(made.inbox.project_id, "staging", 1_000_000)
        await service.store.delete_inbox(made.inbox.id)
        assert await default_inbox_at_start(service) is None
        assert [i.id for i in await service.store.list_inboxes()] == [other.id]


async def test_the_configured_default_inbox_is_the_one_named(tmp_path: Path) -> None:
    settings = base_settings(tmp_path, analysis_processes=0)
    async with open_service(settings, executor=select_executor, start_executor=False) as service:
        project = await service.store.create_project("app")
        chosen = await service.store.create_inbox(project.id, "qa", 1_000_000)
    settings = settings.model_copy(update={"smtp_default_inbox": chosen.id})
    async with open_service(settings, executor=select_executor, start_executor=False) as service:
        named = await default_inbox_at_start(service)
        assert named is not None and not named.created and named.inbox.id == chosen.id
    settings = settings.model_copy(update={"smtp_default_inbox": chosen.id + 100})
    async with open_service(settings, executor=select_executor, start_executor=False) as service:
        assert await default_inbox_at_start(service) is None
