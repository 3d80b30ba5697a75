"""Limits and edges of the API against the real running server: idle long-polls that cost
nothing, input the database or JSON cannot carry, datetimes out of range, per-project link
caches, quotas and inbox counts, self-hosted API docs and the audit HTML export's CSP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect
from tests.links.local_http import LocalHttpServer
from tests.support.messages import make_message
from tests.support.stack import Running, base_settings, start_stack

from mailqa.core.message import ParsedMessage
from mailqa.service import open_service
from mailqa.store.messages import MessageFilter
from mailqa.store.models import Message
from mailqa.store.repository import Store
from mailqa.worker.selection import select_executor

T = TypeVar("T")


async def until(probe: Callable[[], Awaitable[T | None]], within: float = 30.0) -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {within} s")
        await asyncio.sleep(0.02)


def client(stack: Running, token: str | None = None, **kw: Any) -> httpx.AsyncClient:
    options: dict[str, Any] = {"timeout": 60.0, **kw}
    headers = {"Authorization": f"Bearer {token or stack.token}"}
    return httpx.AsyncClient(base_url=stack.base_url, headers=headers, **options)


async def new_project(stack: Running, name: str) -> int:
    async with stack.client() as c:
        r = await c.post("/api/v1/projects", json={"name": name})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


async def new_inbox(stack: Running, project_id: int, name: str, token: str | None = None) -> int:
    async with client(stack, token) as c:
        r = await c.post(f"/api/v1/projects/{project_id}/inboxes", json={"name": name})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


async def project_token(stack: Running, project_id: int) -> str:
    async with stack.client() as c:
        r = await c.post("/api/v1/tokens", json={"name": "proj", "project_id": project_id})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


async def upload(stack: Running, inbox_id: int, raw: bytes, token: str | None = None) -> int:
    async with client(stack, token) as c:
        r = await c.post(f"/api/v1/inboxes/{inbox_id}/messages", content=raw)
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


def assert_error_shape(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
    return body


# 4. Idle long-polls ------------------------------------------------------------------------

WAITERS = 200
OTHER_WAITERS = 20
CPU_PER_SECOND = 0.2  # generous: idle waiting should cost (close to) nothing
WINDOW_SECONDS = 3.0


def cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


async def test_idle_long_polls_cost_nothing_and_wake_only_their_inbox(running: Running) -> None:
    project = await new_project(running, "long-polls")
    inbox = await new_inbox(running, project, "watched")
    other = await new_inbox(running, project, "elsewhere")
    hub = running.service.store.changes

    queried: Counter[int] = Counter()
    latest = running.service.store.latest_message

    async def counting(inbox_id: int, filters: MessageFilter | None) -> Message | None:
        queried[inbox_id] += 1
        return await latest(inbox_id, filters)

    running.service.store.latest_message = counting  # type: ignore[method-assign]
    limits = httpx.Limits(max_connections=WAITERS + OTHER_WAITERS + 10)
    try:
        async with client(running, limits=limits, timeout=120.0) as c:

            def poll(inbox_id: int, subject: str) -> asyncio.Task[httpx.Response]:
                url = f"/api/v1/inboxes/{inbox_id}/messages/latest"
                params: dict[str, str | int] = {"wait": 90, "subject": subject}
                return asyncio.create_task(c.get(url, params=params))

            watched = [poll(inbox, "wake") for _ in range(WAITERS)]
            elsewhere = [poll(other, "later") for _ in range(OTHER_WAITERS)]

            async def all_waiting() -> bool:
                return (
                    hub.watchers(inbox) == WAITERS and hub.watchers(other) == OTHER_WAITERS
                ) and queried[inbox] == WAITERS

            await until(all_waiting)
            before, started = cpu_seconds(), time.monotonic()
            await asyncio.sleep(WINDOW_SECONDS)  # the measuring window
            used = (cpu_seconds() - before) / (time.monotonic() - started)
            print(f"\nCPU with {WAITERS + OTHER_WAITERS} idle long-polls: {used:.3f} s/s")
            assert used < CPU_PER_SECOND, f"{used:.3f} s of CPU per second while idle"
            assert queried[inbox] == WAITERS and queried[other] == OTHER_WAITERS

            message_id = await upload(running, inbox, make_message("wake up"))
            answers = await asyncio.gather(*watched)
            assert all(r.status_code == 200 for r in answers), answers[0].text
            assert {r.json()["id"] for r in answers} == {message_id}
            # Each waiter re-queried once per change (the capture, maybe its report too).
            assert WAITERS * 2 <= queried[inbox] <= WAITERS * 3
            # The other inbox's waiters were not woken, let alone answered.
            assert queried[other] == OTHER_WAITERS
            assert not any(t.done() for t in elsewhere)
            assert hub.watchers(other) == OTHER_WAITERS

            later = await upload(running, other, make_message("later"))
            answers = await asyncio.gather(*elsewhere)
            assert {r.json()["id"] for r in answers} == {later}
    finally:
        del running.service.store.latest_message


async def test_with_celery_a_shared_slow_poll_sees_other_processes(tmp_path: Path) -> None:
    """With the Celery executor reports are written by workers (other processes): waiters
    see them through one poll shared by all, not a query per waiter."""
    settings = base_settings(tmp_path, executor="celery", change_poll_seconds=0.2)
    async with open_service(settings, executor=select_executor, start_executor=False) as service:
        other_process = Store(settings.effective_database_url)  # its own, silent hub
        try:
            project = await service.store.create_project("celery")
            inbox = await service.store.create_inbox(project.id, "i", 10**6)
            filters = MessageFilter(subject="from a worker")
            waiters = [
                asyncio.create_task(service.wait_for_message(inbox.id, filters, wait=60))
                for _ in range(50)
            ]

            async def all_waiting() -> bool:
                return service.store.changes.watchers(inbox.id) == 50

            await until(all_waiting)
            polls = service.store.changes.polls
            await other_process.insert_message(
                inbox.id, ParsedMessage(make_message("from a worker"))
            )
            rows = await asyncio.gather(*waiters)
            assert {r.subject for r in rows if r is not None} == {"from a worker"}
            # One query per poll for all 50 waiters, a handful of polls in all.
            assert service.store.changes.polls - polls < 50
        finally:
            await other_process.close()


# 6. Lone surrogates in JSON strings ---------------------------------------------------------


def raw_json(text: str) -> dict[str, Any]:
    """Request arguments sending ``text`` as the JSON body, escapes and all (httpx's own
    encoder cannot write a lone surrogate)."""
    return {"content": text.encode(), "headers": {"Content-Type": "application/json"}}


async def test_a_lone_surrogate_in_an_audit_filter_is_refused_and_listing_works(
    running: Running,
) -> None:
    inbox = await new_inbox(running, await new_project(running, "surrogates"), "i")
    async with running.client() as c:
        body = '{"inbox_id": ID, "subject": "\\ud800"}'.replace("ID", str(inbox))
        r = await c.post("/api/v1/audits", **raw_json(body))
        error = assert_error_shape(r, 422)
        assert error["error"] == "invalid_request" and "subject" in error["message"]
        r = await c.get("/api/v1/audits")
        assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/projects", '{"name": "a\\ud800b"}'),
        ("PATCH", "/api/v1/projects/{project}", '{"name": "\\udfff"}'),
        ("POST", "/api/v1/projects/{project}/inboxes", '{"name": "x\\udc80"}'),
        ("PATCH", "/api/v1/inboxes/{inbox}", '{"name": "\\ud83d"}'),
        ("POST", "/api/v1/tokens", '{"name": "t\\ud800"}'),
        ("POST", "/api/v1/audits", '{"inbox_id": {inbox}, "from": "\\ud800"}'),
        ("POST", "/api/v1/audits", '{"inbox_id": {inbox}, "to": "\\udbff"}'),
        ("POST", "/api/v1/audits", '{"inbox_id": {inbox}, "checks": ["\\ud800"]}'),
        ("POST", "/api/v1/audits", '{"inbox_id": {inbox}, "\\ud800": 1}'),
    ],
)
async def test_lone_surrogates_in_any_json_body_answer_422(
    running: Running, method: str, path: str, body: str
) -> None:
    project = await new_project(running, "bodies")
    inbox = await new_inbox(running, project, "i")
    values = {"{project}": str(project), "{inbox}": str(inbox)}
    for key, value in values.items():
        path, body = path.replace(key, value), body.replace(key, value)
    async with running.client() as c:
        r = await c.request(method, path, **raw_json(body))
        error = assert_error_shape(r, 422)
        assert "surrogate" in error["message"]
        for listing in ("/api/v1/projects", "/api/v1/inboxes", "/api/v1/tokens", "/api/v1/audits"):
            r = await c.get(listing)
            assert r.status_code == 200, (listing, r.text)


async def test_an_escaped_surrogate_pair_is_one_character_and_fine(running: Running) -> None:
    async with running.client() as c:
        r = await c.post("/api/v1/projects", **raw_json('{"name": "smile \\ud83d\\ude00"}'))
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "smile \U0001f600"


async def test_lone_surrogates_in_mailtrap_bodies_answer_422(running: Running) -> None:
    project = await new_project(running, "mailtrap-bodies")
    async with running.client() as c:
        body = '{"project": {"name": "\\ud800xy"}}'
        r = await c.post("/api/accounts/1/projects", **raw_json(body))
        assert r.status_code == 422, r.text
        assert any("surrogate" in e for e in r.json()["errors"])
        r = await c.post(
            f"/api/accounts/1/projects/{project}/inboxes",
            **raw_json('{"inbox": {"name": "ab\\udfff"}}'),
        )
        assert r.status_code == 422, r.text
        assert (await c.get("/api/accounts/1/projects")).status_code == 200


async def test_audits_stored_with_surrogates_before_the_fix_still_list(running: Running) -> None:
    from mailqa.audit.store import AuditStore

    inbox = await new_inbox(running, await new_project(running, "legacy"), "i")
    audits = AuditStore(running.service.store)
    legacy = await audits.create(
        inbox, ["headers"], online=False, filters={"subject": "bad \ud800"}, status="failed"
    )
    async with running.client() as c:
        r = await c.get("/api/v1/audits")
        assert r.status_code == 200, r.text
        [shown] = [a for a in r.json() if a["id"] == legacy.id]
        assert shown["filters"]["subject"] == "bad \ufffd"
        assert (await c.get(f"/api/v1/audits/{legacy.id}")).status_code == 200
        assert (await c.delete(f"/api/v1/audits/{legacy.id}")).status_code == 204


async def test_delete_an_audit(running: Running) -> None:
    project = await new_project(running, "delete-audit")
    inbox = await new_inbox(running, project, "i")
    await upload(running, inbox, make_message("audited"))
    stranger = await project_token(running, await new_project(running, "stranger"))
    async with running.client() as c:
        r = await c.post("/api/v1/audits", json={"inbox_id": inbox, "checks": ["headers"]})
        assert r.status_code == 202, r.text
        audit_id = r.json()["id"]

        async def finished() -> dict[str, Any] | None:
            body: dict[str, Any] = (await c.get(f"/api/v1/audits/{audit_id}")).json()
            return body if body["status"] == "done" else None

        assert (await until(finished))["done"] == 1
        async with client(running, stranger) as other:
            assert_error_shape(await other.delete(f"/api/v1/audits/{audit_id}"), 404)
        r = await c.delete(f"/api/v1/audits/{audit_id}")
        assert r.status_code == 204, r.text
        assert_error_shape(await c.get(f"/api/v1/audits/{audit_id}"), 404)
        assert_error_shape(await c.get(f"/api/v1/audits/{audit_id}/messages"), 404)
        assert audit_id not in [a["id"] for a in (await c.get("/api/v1/audits")).json()]
        assert_error_shape(await c.delete(f"/api/v1/audits/{audit_id}"), 404)


async def test_an_audit_still_on_celery_workers_is_not_deleted(running: Running) -> None:
    from mailqa.audit.store import AuditStore

    inbox = await new_inbox(running, await new_project(running, "celery-audit"), "i")
    audits = AuditStore(running.service.store)
    busy = await audits.create(
        inbox, ["headers"], online=False, filters={}, executor="celery", status="running"
    )
    async with running.client() as c:
        error = assert_error_shape(await c.delete(f"/api/v1/audits/{busy.id}"), 409)
        assert error["error"] == "audit_busy"
        await audits.update(busy.id, status="failed", error="stalled")
        assert (await c.delete(f"/api/v1/audits/{busy.id}")).status_code == 204


# 7. Datetimes out of range once in UTC ------------------------------------------------------

OUT_OF_RANGE = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


@pytest.mark.parametrize("when", OUT_OF_RANGE)
async def test_datetimes_out_of_range_in_utc_answer_422(running: Running, when: str) -> None:
    inbox = await new_inbox(running, await new_project(running, "dates"), "i")
    async with running.client() as c:
        for name in ("since", "until"):
            r = await c.get(f"/api/v1/inboxes/{inbox}/messages", params={name: when})
            assert name in assert_error_shape(r, 422)["message"]
            r = await c.post("/api/v1/audits", json={"inbox_id": inbox, name: when})
            assert name in assert_error_shape(r, 422)["message"]
        r = await c.get(f"/api/v1/inboxes/{inbox}/messages/latest", params={"since": when})
        assert "since" in assert_error_shape(r, 422)["message"]
        # The extremes that stay in range still work, naive ones taken as UTC.
        for fine in ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00", "9999-12-31T23:59:59"):
            r = await c.get(f"/api/v1/inboxes/{inbox}/messages", params={"since": fine})
            assert r.status_code == 200, r.text
            r = await c.get(f"/api/v1/inboxes/{inbox}/messages", params={"until": fine})
            assert r.status_code == 200, r.text


# 9. Link results cached per project -------------------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def link_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """A stack whose link check reaches loopback (the test's HTTP server). One analysis
    process: each keeps its own link cache (a distributed one is MAILQA_CACHE_URL's)."""
    settings = base_settings(
        tmp_path_factory.mktemp("links"),
        checks=["headers", "links"],
        offline=False,
        link_allow=["127.0.0.1"],
        analysis_processes=1,
    )
    async with start_stack(settings) as stack:
        yield stack


def html_mail(url: str) -> bytes:
    message = EmailMessage()
    message["From"] = "App <app@app.example>"
    message["To"] = "user@example.com"
    message["Subject"] = "Your link"
    message.set_content("See the link.")
    message.add_alternative(f'<p><a href="{url}">Open</a></p>', subtype="html")
    return message.as_bytes()


async def link_result(stack: Running, inbox_id: int, url: str) -> tuple[dict[str, Any], int]:
    message_id = await upload(stack, inbox_id, html_mail(url))
    async with stack.client() as c:
        r = await c.get(
            f"/api/v1/inboxes/{inbox_id}/messages/latest",
            params={"wait": 60, "analyzed": "true"},
        )
        assert r.status_code == 200 and r.json()["id"] == message_id, r.text
        details = (await c.get(f"/api/v1/messages/{message_id}/report/links")).json()["details"]
    [link] = [link for link in details["links"] if link["url"] == url]
    return link, details["cache_hits"]


async def test_link_cache_hits_never_cross_projects(
    link_stack: Running, server: LocalHttpServer
) -> None:
    project_a = await new_project(link_stack, "A")
    project_b = await new_project(link_stack, "B")
    inbox_a = await new_inbox(link_stack, project_a, "a1")
    inbox_a2 = await new_inbox(link_stack, project_a, "a2")
    inbox_b = await new_inbox(link_stack, project_b, "b")
    secret = f"/page/reset-{uuid.uuid4().hex}"
    url = server.url(secret)

    link, hits = await link_result(link_stack, inbox_b, url)  # only B's mail has it
    assert link["checked"] and link["ok"] and not link["from_cache"] and hits == 0
    assert server.count(secret) >= 1
    fetched_for_b = server.count(secret)

    # A cannot learn that B's mail linked there: A's check fetches it itself.
    link, hits = await link_result(link_stack, inbox_a, url)
    assert link["checked"] and link["ok"] and not link["from_cache"] and hits == 0
    assert server.count(secret) > fetched_for_b
    fetched_for_a = server.count(secret)

    # Within project A the cache still works, across its inboxes.
    link, hits = await link_result(link_stack, inbox_a2, url)
    assert link["from_cache"] and hits == 1
    assert server.count(secret) == fetched_for_a


# 10. Quotas and inbox counts are admin-set limits -----------------------------------------

BIGINT_MAX = 2**63 - 1


async def test_project_tokens_cannot_exceed_the_quota_maximum(any_db: Running) -> None:
    project = await new_project(any_db, "quotas")
    token = await project_token(any_db, project)
    most = any_db.service.settings.max_inbox_quota_bytes
    async with client(any_db, token) as c:
        for quota in (10**15, 9_200_000_000_000_000_000, most + 1):
            r = await c.post(
                f"/api/v1/projects/{project}/inboxes", json={"name": "big", "quota_bytes": quota}
            )
            assert assert_error_shape(r, 403)["error"] == "limit_exceeded"
        r = await c.post(
            f"/api/v1/projects/{project}/inboxes", json={"name": "ok", "quota_bytes": most}
        )
        assert r.status_code == 201, r.text
        inbox = r.json()["id"]
        r = await c.patch(f"/api/v1/inboxes/{inbox}", json={"quota_bytes": 10**15})
        assert assert_error_shape(r, 403)["error"] == "limit_exceeded"
        r = await c.patch(f"/api/v1/inboxes/{inbox}", json={"quota_bytes": 1000})
        assert r.status_code == 200 and r.json()["quota_bytes"] == 1000
    # An admin may set more, as far as the database stores.
    async with any_db.client() as c:
        r = await c.patch(f"/api/v1/inboxes/{inbox}", json={"quota_bytes": BIGINT_MAX})
        assert r.status_code == 200, r.text
        assert (await c.get(f"/api/v1/inboxes/{inbox}")).json()["quota_bytes"] == BIGINT_MAX


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "x", "quota_bytes": 9223372036854775808}',
        '{"name": "x", "quota_bytes": 100000000000000000000000000}',
        '{"name": "x", "quota_bytes": -1}',
        '{"name": "x", "quota_bytes": 0}',
        '{"name": "x", "max_messages": 2147483648}',
        '{"name": "x", "max_messages": -5}',
        '{"name": "x", "max_age_days": 1e308}',
        '{"name": "x", "max_age_days": Infinity}',
        '{"name": "x", "max_age_days": NaN}',
        '{"name": "x", "max_age_days": -1}',
    ],
)
async def test_out_of_range_inbox_limits_answer_422(any_db: Running, body: str) -> None:
    project = await new_project(any_db, "ranges")
    async with any_db.client() as c:  # even an admin
        r = await c.post(f"/api/v1/projects/{project}/inboxes", **raw_json(body))
        assert_error_shape(r, 422)
        inbox = await new_inbox(any_db, project, "patched")
        patch = body.replace('"name": "x", ', "")
        assert_error_shape(await c.patch(f"/api/v1/inboxes/{inbox}", **raw_json(patch)), 422)


LIMIT = 3


@pytest_asyncio.fixture(scope="module", params=["sqlite", "postgresql"])
async def limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Running]:
    """A stack allowing project tokens at most LIMIT inboxes per project."""
    extra: dict[str, Any] = {"max_inboxes_per_project": LIMIT}
    if request.param == "postgresql":
        extra["database_url"] = request.getfixturevalue("pg_url")
    settings = base_settings(tmp_path_factory.mktemp(f"limits-{request.param}"), **extra)
    async with start_stack(settings) as stack:
        yield stack


async def test_project_tokens_create_at_most_the_inbox_limit(limited: Running) -> None:
    project = await new_project(limited, "counted")
    token = await project_token(limited, project)
    async with client(limited, token) as c:

        async def create(n: int) -> httpx.Response:
            return await c.post(f"/api/v1/projects/{project}/inboxes", json={"name": f"n{n}"})

        answers = await asyncio.gather(*(create(n) for n in range(LIMIT + 5)))  # at once
        assert sorted(r.status_code for r in answers) == [201] * LIMIT + [403] * 5
        refused = next(r for r in answers if r.status_code == 403)
        assert assert_error_shape(refused, 403)["error"] == "limit_exceeded"
        r = await c.post(
            f"/api/accounts/1/projects/{project}/inboxes", json={"inbox": {"name": "mt"}}
        )
        assert r.status_code == 403 and r.json()["code"] == "limit_exceeded", r.text
        r = await c.get("/api/v1/inboxes")
        assert len(r.json()) == LIMIT
    # The limit is the admin's to exceed.
    assert await new_inbox(limited, project, "by the admin")
    async with client(limited, token) as c:
        r = await c.delete(f"/api/v1/inboxes/{(await c.get('/api/v1/inboxes')).json()[0]['id']}")
        assert r.status_code == 204
        assert_error_shape(await create_one(c, project), 403)  # still LIMIT left


async def create_one(c: httpx.AsyncClient, project: int) -> httpx.Response:
    return await c.post(f"/api/v1/projects/{project}/inboxes", json={"name": "one more"})


# 11, 12. Self-hosted API docs; the audit HTML export's CSP, in a real browser -------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@dataclass
class Visit:
    """A page that records what it fetched (answered requests) and what the browser
    refused under the page's CSP."""

    page: Page
    fetched: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


async def visit(browser: Browser, token: str | None = None) -> Visit:
    context = await browser.new_context(
        extra_http_headers={"Authorization": f"Bearer {token}"} if token else None
    )
    page = await context.new_page()
    seen = Visit(page)
    page.on("response", lambda r: seen.fetched.append(r.url))
    page.on(
        "console",
        lambda m: seen.refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return seen


@pytest.mark.parametrize(
    ("path", "assets"),
    [
        ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"]),
        ("/redoc", ["redoc.standalone.js", "favicon.png"]),
    ],
)
async def test_docs_pages_load_only_their_own_assets(
    running: Running, browser: Browser, path: str, assets: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=running.base_url) as c:
        page = await c.get(path)
        assert page.status_code == 200
        assert not re.findall(r"(?:https?:)?//[\w.-]+", page.text), "an external host"
        for asset in assets:
            assert f"/docs/static/{asset}" in page.text
            r = await c.get(f"/docs/static/{asset}")
            assert r.status_code == 200 and len(r.content) > 1000, asset
        assert "'unsafe-eval'" not in page.headers["content-security-policy"]

    seen = await visit(browser)
    try:
        await seen.page.goto(running.base_url + path)
        title = ".swagger-ui .info .title" if path == "/docs" else "h1"
        await expect(seen.page.locator(title).first).to_contain_text("mailqa", timeout=30_000)
        if path == "/redoc":
            # Its sidebar credit asks for a logo from ReDoc's CDN: the CSP refuses it and
            # the image hides itself.
            credit = seen.page.locator('a[href="https://redocly.com/redoc/"]')
            await expect(credit).to_contain_text("Redocly")
            await expect(credit.locator("img")).to_have_count(0)
        await expect(seen.page.locator("body")).to_contain_text("sandbox")  # the spec's tags
        outside = [
            u for u in seen.fetched if not u.startswith((running.base_url + "/", "data:", "blob:"))
        ]
        assert not outside, outside
        assert f"{running.base_url}/openapi.json" in seen.fetched
        refused = [m for m in seen.refused if "cdn.redoc.ly/redoc/logo-mini.svg" not in m]
        assert not refused, refused
    finally:
        await seen.page.context.close()


async def test_the_audit_html_export_is_styled_under_its_csp(
    running: Running, browser: Browser
) -> None:
    inbox = await new_inbox(running, await new_project(running, "export"), "i")
    await upload(running, inbox, make_message("exported"))
    async with running.client() as c:
        r = await c.post("/api/v1/audits", json={"inbox_id": inbox, "checks": ["headers"]})
        audit_id = r.json()["id"]

        async def finished() -> bool:
            r = await c.get(f"/api/v1/audits/{audit_id}")
            return bool(r.json()["status"] == "done")

        await until(finished)
        export = await c.get(f"/api/v1/audits/{audit_id}/export", params={"format": "html"})
    assert export.status_code == 200
    csp = export.headers["content-security-policy"]
    [style] = re.findall(r"<style>(.*?)</style>", export.text, re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert "sandbox" in csp and "script-src" not in csp and "'unsafe-inline'" not in csp
    assert "style=" not in export.text

    seen = await visit(browser, running.token)
    try:
        url = f"{running.base_url}/api/v1/audits/{audit_id}/export?format=html"
        response = await seen.page.goto(url)
        assert response is not None and response.status == 200
        background = await seen.page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(244, 246, 248)"
        legend = seen.page.locator("span.s-passed").first
        colour = await legend.evaluate("e => getComputedStyle(e).color")
        assert colour == "rgb(46, 158, 91)"
        assert not seen.refused, seen.refused
    finally:
        await seen.page.context.close()
