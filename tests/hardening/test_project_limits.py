"""Limits an admin sets on one project (issue 14, item 10): how many inboxes its project
tokens may create and the largest quota they may give one. Null falls back to the global
MAILQA_MAX_INBOXES_PER_PROJECT and MAILQA_MAX_INBOX_QUOTA_BYTES. Against the real server,
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from tests.support.stack import Running

from mailqa.store.database import alembic_config, migrate

MB = 1024 * 1024
BIGINT_MAX = 2**63 - 1


async def new_project(stack: Running, name: str, **limits: int | None) -> dict[str, Any]:
    async with stack.client() as c:
        r = await c.post("/api/v1/projects", json={"name": name, **limits})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body


async def project_token(stack: Running, project_id: int) -> str:
    async with stack.client() as c:
        r = await c.post("/api/v1/tokens", json={"name": "proj", "project_id": project_id})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
    return body


async def create_inbox(c: httpx.AsyncClient, project_id: int, **body: Any) -> httpx.Response:
    return await c.post(f"/api/v1/projects/{project_id}/inboxes", json={"name": "i", **body})


async def test_an_admin_sets_a_projects_limits_and_its_json_shows_them(any_db: Running) -> None:
    plain = await new_project(any_db, "no limits")
    assert plain["max_inboxes"] is None and plain["max_inbox_quota_bytes"] is None
    limited = await new_project(any_db, "limited", max_inboxes=2, max_inbox_quota_bytes=5 * MB)
    assert limited["max_inboxes"] == 2 and limited["max_inbox_quota_bytes"] == 5 * MB
    project = limited["id"]
    token = await project_token(any_db, project)
    async with any_db.client(token) as c:  # the project's own token reads them
        shown = (await c.get(f"/api/v1/projects/{project}")).json()
        assert (shown["max_inboxes"], shown["max_inbox_quota_bytes"]) == (2, 5 * MB)
        [listed] = (await c.get("/api/v1/projects")).json()
        assert listed == shown
    async with any_db.client() as c:
        r = await c.patch(f"/api/v1/projects/{project}", json={"max_inboxes": 7})
        assert r.status_code == 200, r.text
        assert (r.json()["max_inboxes"], r.json()["max_inbox_quota_bytes"]) == (7, 5 * MB)
        r = await c.patch(f"/api/v1/projects/{project}", json={"max_inbox_quota_bytes": None})
        assert (r.json()["max_inboxes"], r.json()["max_inbox_quota_bytes"]) == (7, None)
        r = await c.patch(f"/api/v1/projects/{project}", json={"name": "renamed"})
        assert r.json()["name"] == "renamed" and r.json()["max_inboxes"] == 7
        shown = (await c.get(f"/api/v1/projects/{project}")).json()
        assert (shown["name"], shown["max_inboxes"], shown["max_inbox_quota_bytes"]) == (
            "renamed",
            7,
            None,
        )
        error_of(await c.patch(f"/api/v1/projects/{project}", json={"name": None}), 422)


async def test_a_project_token_cannot_set_its_projects_limits(any_db: Running) -> None:
    project = (await new_project(any_db, "own limits", max_inboxes=1))["id"]
    token = await project_token(any_db, project)
    async with any_db.client(token) as c:
        for body in (
            {"max_inboxes": 50},
            {"max_inbox_quota_bytes": 10**12},
            {"max_inboxes": None},
            {"name": "and more", "max_inboxes": 50},
        ):
            error = error_of(await c.patch(f"/api/v1/projects/{project}", json=body), 403)
            assert error["error"] == "forbidden" and "admin" in error["message"], error
            assert next(iter(set(body) - {"name"})) in error["message"]
        r = await c.post("/api/v1/projects", json={"name": "mine", "max_inboxes": 50})
        assert r.status_code == 403, r.text
        # Renaming is still the project token's to do, and nothing else changed.
        r = await c.patch(f"/api/v1/projects/{project}", json={"name": "renamed by its token"})
        assert r.status_code == 200 and r.json()["name"] == "renamed by its token"
        assert r.json()["max_inboxes"] == 1 and r.json()["max_inbox_quota_bytes"] is None


async def test_a_project_token_creates_at_most_the_projects_inbox_limit(any_db: Running) -> None:
    most = 2
    project = (await new_project(any_db, "two inboxes", max_inboxes=most))["id"]
    token = await project_token(any_db, project)
    async with any_db.client(token) as c:
        answers = await asyncio.gather(*(create_inbox(c, project) for _ in range(most + 4)))
        assert sorted(r.status_code for r in answers) == [201] * most + [403] * 4
        refused = next(r for r in answers if r.status_code == 403)
        error = error_of(refused, 403)
        assert error["error"] == "limit_exceeded" and "max_inboxes=2" in error["message"]
        r = await c.post(
            f"/api/accounts/1/projects/{project}/inboxes", json={"inbox": {"name": "mt"}}
        )
        assert r.status_code == 403 and r.json()["code"] == "limit_exceeded", r.text
    async with any_db.client() as c:  # the admin may exceed it
        assert (await create_inbox(c, project)).status_code == 201
        # Raised above the global limit, the project's own one applies.
        glob = any_db.service.settings.max_inboxes_per_project
        r = await c.patch(f"/api/v1/projects/{project}", json={"max_inboxes": glob + 5})
        assert r.status_code == 200, r.text
    async with any_db.client(token) as c:
        assert (await create_inbox(c, project)).status_code == 201
    async with any_db.client() as c:  # zero: project tokens create none at all
        r = await c.patch(f"/api/v1/projects/{project}", json={"max_inboxes": 0})
        assert r.status_code == 200, r.text
    async with any_db.client(token) as c:
        assert error_of(await create_inbox(c, project), 403)["error"] == "limit_exceeded"


async def test_cleared_the_global_inbox_limit_applies_again(any_db: Running) -> None:
    project = (await new_project(any_db, "cleared", max_inboxes=0))["id"]
    token = await project_token(any_db, project)
    async with any_db.client(token) as c:
        assert (await create_inbox(c, project)).status_code == 403
    async with any_db.client() as c:
        r = await c.patch(f"/api/v1/projects/{project}", json={"max_inboxes": None})
        assert r.status_code == 200 and r.json()["max_inboxes"] is None
    async with any_db.client(token) as c:
        assert (await create_inbox(c, project)).status_code == 201


async def test_a_project_token_cannot_exceed_the_projects_quota_maximum(any_db: Running) -> None:
    settings = any_db.service.settings
    most = 3 * MB
    assert most < settings.inbox_quota_bytes  # below even the default quota
    project = (await new_project(any_db, "small quotas", max_inbox_quota_bytes=most))["id"]
    token = await project_token(any_db, project)
    async with any_db.client(token) as c:
        error = error_of(await create_inbox(c, project, quota_bytes=most + 1), 403)
        assert error["error"] == "limit_exceeded"
        assert "max_inbox_quota_bytes" in error["message"] and str(most) in error["message"]
        r = await create_inbox(c, project, quota_bytes=most)
        assert r.status_code == 201 and r.json()["quota_bytes"] == most
        # An inbox created without a quota gets the default, within the project's maximum.
        r = await create_inbox(c, project)
        assert r.status_code == 201 and r.json()["quota_bytes"] == most
        inbox = r.json()["id"]
        r = await c.patch(f"/api/v1/inboxes/{inbox}", json={"quota_bytes": most + 1})
        assert error_of(r, 403)["error"] == "limit_exceeded"
        r = await c.patch(f"/api/v1/inboxes/{inbox}", json={"quota_bytes": MB})
        assert r.status_code == 200 and r.json()["quota_bytes"] == MB
        r = await c.patch(f"/api/v1/inboxes/{inbox}", json={"name": "renamed"})  # no quota
        assert r.status_code == 200, r.text
    async with any_db.client() as c:  # the admin may set more
        r = await c.patch(f"/api/v1/inboxes/{inbox}", json={"quota_bytes": 10 * most})
        assert r.status_code == 200 and r.json()["quota_bytes"] == 10 * most


async def test_a_projects_quota_maximum_may_be_above_the_global_one(any_db: Running) -> None:
    settings = any_db.service.settings
    glob = max(settings.max_inbox_quota_bytes, settings.inbox_quota_bytes)
    project = (await new_project(any_db, "big quotas", max_inbox_quota_bytes=4 * glob))["id"]
    other = (await new_project(any_db, "global quotas"))["id"]
    token = await project_token(any_db, project)
    other_token = await project_token(any_db, other)
    async with any_db.client(token) as c:
        r = await create_inbox(c, project, quota_bytes=4 * glob)
        assert r.status_code == 201 and r.json()["quota_bytes"] == 4 * glob
        r = await create_inbox(c, project)
        assert r.json()["quota_bytes"] == settings.inbox_quota_bytes  # the default
        assert (await create_inbox(c, project, quota_bytes=4 * glob + 1)).status_code == 403
    async with any_db.client(other_token) as c:  # other projects keep the global maximum
        error = error_of(await create_inbox(c, other, quota_bytes=glob + 1), 403)
        assert "MAILQA_MAX_INBOX_QUOTA_BYTES" in error["message"]
        assert (await create_inbox(c, other, quota_bytes=glob)).status_code == 201


@pytest.mark.parametrize(
    "limits",
    [
        {"max_inboxes": -1},
        {"max_inboxes": 2**31},
        {"max_inboxes": 1.5},
        {"max_inboxes": "many"},
        {"max_inbox_quota_bytes": 0},
        {"max_inbox_quota_bytes": -5},
        {"max_inbox_quota_bytes": BIGINT_MAX + 1},
    ],
)
async def test_out_of_range_project_limits_answer_422(
    any_db: Running, limits: dict[str, Any]
) -> None:
    async with any_db.client() as c:
        error_of(await c.post("/api/v1/projects", json={"name": "x", **limits}), 422)
        project = (await new_project(any_db, "ranges"))["id"]
        error_of(await c.patch(f"/api/v1/projects/{project}", json=limits), 422)


async def test_the_largest_project_limits_are_stored(any_db: Running) -> None:
    body = await new_project(
        any_db, "largest", max_inboxes=2**31 - 1, max_inbox_quota_bytes=BIGINT_MAX
    )
    async with any_db.client() as c:
        shown = (await c.get(f"/api/v1/projects/{body['id']}")).json()
    assert (shown["max_inboxes"], shown["max_inbox_quota_bytes"]) == (2**31 - 1, BIGINT_MAX)


def _autoincrement_tables(db: sqlite3.Connection) -> set[str]:
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for name, sql in rows if "AUTOINCREMENT" in (sql or "")}


def test_the_migration_adds_the_limits_and_keeps_sqlite_ids_unique(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0008")
    db = sqlite3.connect(tmp_path / "old.db")
    before = _autoincrement_tables(db)
    assert "projects" in before
    db.execute("INSERT INTO projects (id, name, created_at) VALUES (1, 'p', '2026-01-01')")
    db.commit()
    db.close()
    migrate(url)
    db = sqlite3.connect(tmp_path / "old.db")
    assert db.execute("SELECT max_inboxes, max_inbox_quota_bytes FROM projects").fetchall() == [
        (None, None)
    ]
    assert before <= _autoincrement_tables(db)  # none lost (later revisions add tables)
    db.close()
    command.downgrade(alembic_config(url), "0008")
    db = sqlite3.connect(tmp_path / "old.db")
    columns = {row[1] for row in db.execute("PRAGMA table_info(projects)")}
    assert columns == {"id", "name", "created_at"}
    assert before <= _autoincrement_tables(db)  # none lost (later revisions add tables)
    db.close()
