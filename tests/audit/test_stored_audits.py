"""Audits of stored mail: `mailqa audit --inbox` against the database (SQLite and PostgreSQL)
or a running server, and the audits API run inline by the server (the Celery variants are in
tests/scaleout)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import delete, update
from tests.audit.conftest import expected, make_message, run_cli
from tests.support.servers import loopback_http, serving_http

from mailqa.app import create_app
from mailqa.audit.record import AuditRecord
from mailqa.audit.sources import StoredInboxSource
from mailqa.audit.store import AuditStore
from mailqa.audit.stored import AuditManager, audit_parsed, audit_stored_message
from mailqa.core.analyzer import Analyzer
from mailqa.core.check import CheckContext
from mailqa.core.errors import TransientCheckError
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import CheckResult, Status
from mailqa.service import Service, open_service
from mailqa.settings import Settings
from mailqa.store.models import AuditResult, Message
from mailqa.worker.selection import select_executor

TOKEN = "mq_audit_admin_token_0123456789"
N = 24


@dataclass
class Stored:
    service: Service
    inbox_id: int
    cli: list[str]  # how `mailqa audit` reaches this database
    env: dict[str, str] | None

    def client(self) -> httpx.AsyncClient:
        app = create_app(self.service.settings, self.service)
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://t",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )


@pytest_asyncio.fixture(scope="module", params=["sqlite", "postgresql"])
async def stored(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stored]:
    data_dir = tmp_path_factory.mktemp("stored-audit")
    cli, env, database = ["--data-dir", str(data_dir)], None, {}
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        cli, env, database = [], {"MAILQA_DATABASE_URL": url}, {"database_url": url}
    settings = Settings(
        data_dir=data_dir,
        api_token=TOKEN,
        checks=["headers"],
        offline=True,
        spamd_managed="off",
        celery_retry_backoff=0.01,
        **database,
    )
    async with open_service(settings, executor=select_executor) as service:
        await service.ensure_admin_token()
        project = await service.store.create_project("audits")
        inbox = await service.store.create_inbox(project.id, "audited", 10**9)
        for i in range(N):
            await service.store.insert_message(inbox.id, ParsedMessage(make_message(i)))
        yield Stored(service, inbox.id, cli, env)


@asynccontextmanager
async def served(service: Service) -> AsyncIterator[str]:
    """The API of ``service`` on a loopback port, for the CLI's ``--server``."""
    app = create_app(service.settings, service)
    async with serving_http(loopback_http(app, lifespan="auto")) as port:
        yield f"http://127.0.0.1:{port}"


async def wait_done(c: httpx.AsyncClient, audit_id: int) -> dict[str, Any]:
    for _ in range(600):
        audit: dict[str, Any] = (await c.get(f"/api/v1/audits/{audit_id}")).json()
        if audit["status"] == "done":
            return audit
        await asyncio.sleep(0.05)
    raise AssertionError(f"audit not done: {audit}")


async def test_cli_audits_a_stored_inbox(stored: Stored) -> None:
    done = await asyncio.to_thread(
        run_cli,
        "audit",
        "--inbox",
        str(stored.inbox_id),
        *stored.cli,
        "--checks",
        "headers",
        "--jobs",
        "1",
        "--format",
        "json",
        env=stored.env,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["messages"] == N
    rules = {r["name"]: r["messages"] for r in summary["top_rules"]}
    assert rules["headers.subject-missing"] == expected(N).subject_missing


async def test_cli_reads_an_inbox_from_a_running_server(stored: Stored, tmp_path: Path) -> None:
    async with served(stored.service) as url:
        args = ["audit", "--inbox", str(stored.inbox_id), "--checks", "headers", "--jobs", "1"]
        done = await asyncio.to_thread(
            run_cli,
            *args,
            "--server",
            url,
            "--token",
            TOKEN,
            "--out",
            str(tmp_path),
            "--format",
            "json",
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["messages"] == N
        keys = [json.loads(line)["key"] for line in (tmp_path / "results.jsonl").open()]
        assert len(set(keys)) == N and all(k.startswith("message:") for k in keys)
        refused = await asyncio.to_thread(run_cli, *args, "--server", url, "--token", "mq_wrong")
        assert refused.returncode == 2 and "refused" in refused.stderr


async def test_audits_api_inline(stored: Stored) -> None:
    async with stored.client() as c:
        bad = await c.post("/api/v1/audits", json={"inbox_id": stored.inbox_id, "checks": ["nope"]})
        assert bad.status_code == 400 and "unknown check" in bad.json()["message"]
        missing = await c.post("/api/v1/audits", json={"inbox_id": 99999})
        assert missing.status_code == 404
        r = await c.post(
            "/api/v1/audits", json={"inbox_id": stored.inbox_id, "checks": ["headers"]}
        )
        assert r.status_code == 202, r.text
        audit_id = r.json()["id"]
        audit = await wait_done(c, audit_id)
        assert audit["total"] == audit["done"] == N
        assert audit["summary"]["messages"] == N
        failing = await c.get(
            f"/api/v1/audits/{audit_id}/messages", params={"status": "failed", "per_page": 500}
        )
        failed = failing.json()
        assert failed["total"] == audit["summary"]["statuses"].get("failed", 0)
        assert all(m["status"] == "failed" for m in failed["messages"])
        exported = await c.get(f"/api/v1/audits/{audit_id}/export", params={"format": "csv"})
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert exported.headers["content-type"].startswith("text/csv") and len(rows) == N
        assert sorted(int(r["message_id"]) for r in rows) == sorted(
            m.id for m in (await stored.service.store.list_messages(stored.inbox_id, limit=N))[0]
        )
        page = await c.get(f"/api/v1/audits/{audit_id}/export", params={"format": "html"})
        assert page.status_code == 200 and "<svg" in page.text and "<script" not in page.text
        as_json = await c.get(f"/api/v1/audits/{audit_id}/export", params={"format": "json"})
        assert as_json.json()["summary"] == audit["summary"]
        listed = (await c.get("/api/v1/audits")).json()
        assert audit_id in [a["id"] for a in listed]
        anonymous = await httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(stored.service.settings, stored.service)),
            base_url="http://t",
        ).get(f"/api/v1/audits/{audit_id}")
        assert anonymous.status_code == 401


async def test_chunk_reads_and_writes_in_bulk(stored: Stored) -> None:
    """The Celery task's path: one read for a chunk (missing ids left out), one idempotent
    write of its records."""
    service = stored.service
    page = await service.store.list_messages(stored.inbox_id, limit=3)
    ids = [m.id for m in page[0]]
    parsed = await service.load_parsed_many([*ids, 987_654])
    assert sorted(parsed) == sorted(ids)
    for mid in ids:
        assert parsed[mid].raw == await service.store.get_raw(mid)
    audits = AuditStore(service.store)
    audit = await audits.create(stored.inbox_id, ["headers"], online=False, filters={})
    analyzer = service.analyzer.for_checks(["headers"])
    records = [await audit_parsed(service, analyzer, audit, m, parsed[m]) for m in ids]
    await audits.save_results(audit.id, records)
    await audits.save_results(audit.id, records)  # a redelivered chunk changes nothing
    assert await audits.count_results(audit.id) == len(ids)
    stored_records = [r async for r in audits.iter_results(audit.id)]
    assert sorted(r.message_id or 0 for r in stored_records) == sorted(ids)


async def test_a_done_audit_keeps_its_summary(stored: Stored) -> None:
    """The summary of a finished audit is stored: polls no longer re-read every record."""
    async with stored.client() as c:
        r = await c.post(
            "/api/v1/audits", json={"inbox_id": stored.inbox_id, "checks": ["headers"]}
        )
        audit = await wait_done(c, r.json()["id"])
        saved = await AuditStore(stored.service.store).get(audit["id"])
        assert saved.summary == audit["summary"]
        async with stored.service.store.sessions() as s, s.begin():
            await s.execute(delete(AuditResult).where(AuditResult.audit_id == audit["id"]))
        again = (await c.get(f"/api/v1/audits/{audit['id']}")).json()
        assert again["summary"] == audit["summary"] and again["done"] == 0


async def test_csv_export_reads_a_page_at_a_time(stored: Stored) -> None:
    from mailqa.api.routes.audits import csv_chunks

    manager = AuditManager(stored.service)
    audit = await manager.start(stored.inbox_id, ["headers"])
    for _ in range(600):
        if (await manager.progress(audit.id))[0].status == "done":
            break
        await asyncio.sleep(0.05)
    chunks = [chunk async for chunk in csv_chunks(manager, audit.id, batch=5)]
    assert len(chunks) >= N // 5  # one chunk per page of records, never the whole file
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert len(rows) == N and len({r["message_id"] for r in rows}) == N


class FailingSaves(AuditStore):
    """Refuses to store the results of chosen messages (first attempts, or every one)."""

    def __init__(self, store: Any, refuse: set[int], every_time: bool) -> None:
        super().__init__(store)
        self.refuse, self.every_time = refuse, every_time

    async def save_result(self, audit_id: int, record: AuditRecord) -> None:
        if record.message_id in self.refuse:
            if not self.every_time:
                self.refuse.discard(record.message_id)
            raise OSError("database connection lost")
        await super().save_result(audit_id, record)


@pytest.mark.parametrize("every_time", [False, True])
async def test_an_inline_audit_never_ends_done_with_a_record_missing(
    stored: Stored, every_time: bool
) -> None:
    """A result that cannot be stored becomes an ``errored`` record; if even that cannot be
    stored, the audit fails instead of ending ``done`` with fewer records than messages."""
    manager = AuditManager(stored.service)
    rows, _ = await stored.service.store.list_messages(stored.inbox_id, limit=2)
    manager.audits = FailingSaves(stored.service.store, {rows[0].id}, every_time)
    audit = await manager.start(stored.inbox_id, ["headers"])
    for _ in range(600):
        current, _ = await manager.progress(audit.id)
        if current.status in ("done", "failed"):
            break
        await asyncio.sleep(0.05)
    records = {r.message_id: r async for r in manager.audits.iter_results(audit.id)}
    if every_time:
        assert current.status == "failed" and "could not be stored" in (current.error or "")
        assert len(records) == N - 1
    else:
        assert current.status == "done" and len(records) == N
        assert records[rows[0].id].status == "errored"
        assert "database connection lost" in (records[rows[0].id].error or "")


def dated(subject: str, sender: str, to: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    msg.set_content("Hello.\n")
    return msg.as_bytes()


async def test_audit_filters(stored: Stored) -> None:
    store = stored.service.store
    project = await store.create_project("filtered audits")
    inbox = await store.create_inbox(project.id, "filtered", 10**9)
    mail = [  # (subject, from, to, received in 2020)
        ("Invoice 1", "billing@shop.example", "alice@example.com", True),
        ("Invoice 2", "Billing <billing@shop.example>", "team@example.com", False),
        ("Newsletter", "news@shop.example", "Team <team@example.com>", False),
        ("newsletter again", "news@shop.example", "bob@example.com", True),
        ("Receipt", "billing@shop.example", "bob@example.com", False),
        ("Hello", "friend@other.example", "alice@example.com", False),
    ]
    for subject, sender, to, old in mail:
        row = await store.insert_message(inbox.id, ParsedMessage(dated(subject, sender, to)))
        if old:
            async with store.sessions() as s, s.begin():
                await s.execute(
                    update(Message)
                    .where(Message.id == row.id)
                    .values(created_at=datetime(2020, 6, 1, tzinfo=UTC))
                )
    cases: list[tuple[dict[str, str], int]] = [
        ({}, 6),
        ({"subject": "INVOICE"}, 2),
        ({"from": "billing@"}, 3),
        ({"to": "team@"}, 2),
        ({"since": "2024-01-01T00:00:00+00:00"}, 4),
        ({"until": "2021-01-01T00:00:00+00:00"}, 2),
        ({"subject": "newsletter", "since": "2024-01-01T00:00:00+00:00"}, 1),
    ]
    async with stored.client() as c:
        for filters, want in cases:
            body = {"inbox_id": inbox.id, "checks": ["headers"], **filters}
            r = await c.post("/api/v1/audits", json=body)
            assert r.status_code == 202, r.text
            audit = await wait_done(c, r.json()["id"])
            assert (audit["total"], audit["summary"]["messages"]) == (want, want), filters
            assert {k: v for k, v in audit["filters"].items() if v is not None} == filters


async def test_a_restart_resumes_interrupted_inline_audits(stored: Stored) -> None:
    """An inline audit a stopped server left running is resumed when the app starts: the
    messages that already have a result are not audited again. Celery audits are left to
    the workers."""
    service = stored.service
    audits = AuditStore(service.store)
    interrupted = await audits.create(
        stored.inbox_id, ["headers"], online=False, filters={}, status="running"
    )
    rows, _ = await service.store.list_messages(stored.inbox_id, limit=3)
    earlier = [
        AuditRecord(key=f"message:{m.id}", message_id=m.id, status="passed", subject="earlier")
        for m in rows
    ]
    await audits.save_results(interrupted.id, earlier)
    workers = await audits.create(
        stored.inbox_id, ["headers"], online=False, filters={}, executor="celery", status="running"
    )
    await audits.update(workers.id, total=N)

    app = create_app(service.settings, service)
    async with app.router.lifespan_context(app):
        for _ in range(600):
            if (await audits.get(interrupted.id)).status == "done":
                break
            await asyncio.sleep(0.05)
    resumed = await audits.get(interrupted.id)
    assert resumed.status == "done" and resumed.total == N
    records = [r async for r in audits.iter_results(interrupted.id)]
    assert len(records) == N
    kept = [r for r in records if r.subject == "earlier"]
    assert sorted(r.message_id or 0 for r in kept) == sorted(m.id for m in rows)
    assert (await audits.get(workers.id)).status == "running"
    assert await audits.count_results(workers.id) == 0


async def test_a_deleted_message_gets_a_missing_record(stored: Stored) -> None:
    service = stored.service
    audits = AuditStore(service.store)
    audit = await audits.create(stored.inbox_id, ["headers"], online=False, filters={})
    analyzer = service.analyzer.for_checks(["headers"])
    record = await audit_stored_message(service, analyzer, audits, audit, 987_654)
    assert (record.status, record.message_id) == ("missing", 987_654)
    assert [r.status async for r in audits.iter_results(audit.id)] == ["missing"]


async def test_inbox_audits_record_messages_whose_source_expired(stored: Stored) -> None:
    """`mailqa audit --inbox`, on the database and over a server's API, audits a message whose
    raw source retention dropped as ``missing``, never skips it silently."""
    store = stored.service.store
    inbox = await store.create_inbox(
        (await store.get_inbox(stored.inbox_id)).project_id, "x", 10**9
    )
    first = await store.insert_message(inbox.id, ParsedMessage(make_message(1)))
    cutoff = datetime.now(UTC)
    await store.insert_message(inbox.id, ParsedMessage(make_message(2)))
    assert await store.expire_sources(inbox.id, cutoff) == 1

    items = [i async for i in StoredInboxSource(store, inbox.id).items()]
    assert [(i.message_id, i.status) for i in items if i.status] == [(first.id, "missing")]

    args = ["audit", "--inbox", str(inbox.id), "--checks", "headers", "--format", "json"]
    on_db = await asyncio.to_thread(run_cli, *args, *stored.cli, env=stored.env)
    async with served(stored.service) as url:
        on_server = await asyncio.to_thread(run_cli, *args, "--server", url, "--token", TOKEN)
    for done in (on_db, on_server):
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["messages"] == 2 and summary["statuses"]["missing"] == 1, summary


class Flaky:
    """Fails transiently the first ``failures`` times for each message."""

    name: ClassVar[str] = "flaky"
    needs_network: ClassVar[bool] = False
    failures = 2

    def __init__(self) -> None:
        self.runs = 0

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        self.runs += 1
        if self.runs <= self.failures:
            raise TransientCheckError(f"daemon unavailable (attempt {self.runs})")
        return CheckResult(name=self.name, status=Status.PASSED)


class Counted:
    name: ClassVar[str] = "counted"
    needs_network: ClassVar[bool] = False

    def __init__(self) -> None:
        self.runs = 0

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        self.runs += 1
        return CheckResult(name=self.name, status=Status.PASSED)


@pytest.mark.parametrize(("failures", "status"), [(2, "passed"), (10, "errored")])
async def test_audits_retry_transient_failures_of_that_check_alone(
    stored: Stored, failures: int, status: str
) -> None:
    """The analysis task's rules: only the failed check runs again, with backoff, up to
    MAILQA_CELERY_MAX_RETRIES times."""
    service = stored.service
    flaky, counted = Flaky(), Counted()
    flaky.failures = failures
    pipeline = Pipeline([flaky, counted], timeout=5)  # type: ignore[list-item]
    audit = await AuditStore(service.store).create(
        stored.inbox_id, ["headers"], online=False, filters={}
    )
    analyzer = Analyzer(pipeline, service.analyzer.ctx, service.analyzer.retry)
    record = await audit_parsed(service, analyzer, audit, 1, ParsedMessage(make_message(1)))
    retries = service.settings.celery_max_retries
    assert record.checks == {"flaky": status, "counted": "passed"}
    assert flaky.runs == min(failures, retries) + 1 and counted.runs == 1


async def test_stored_sources_read_a_sampled_message_again(stored: Stored) -> None:
    """The render sample reads its messages again: from the database, or over the API."""
    from mailqa.audit.sources import ServerInboxSource

    source = StoredInboxSource(stored.service.store, stored.inbox_id)
    items = [item async for item in source.items()]
    assert len(items) == N
    for item in items[:2]:
        assert await source.read_again(item.key, item.message_id) == item.raw
    assert await source.read_again("mail/x.eml", None) is None
    async with served(stored.service) as url:
        remote = ServerInboxSource(url, stored.inbox_id, TOKEN)
        over_http = [item async for item in remote.items()]
        assert [i.key for i in over_http] == [i.key for i in items]
        for item in over_http[:2]:
            assert await remote.read_again(item.key, item.message_id) == item.raw
        assert await remote.read_again("message:1", None) is None


@pytest.mark.slow
async def test_cli_renders_a_sample_of_a_stored_inbox(stored: Stored, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = await asyncio.to_thread(
        run_cli,
        "audit",
        "--inbox",
        str(stored.inbox_id),
        *stored.cli,
        "--checks",
        "headers",
        "--out",
        str(out),
        "--render-sample",
        "1",
        "--render-variants",
        "desktop-600",
        "--format",
        "json",
        env=stored.env,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    worst = min(r["score"] for r in records)
    # ties go to the first in input order: a stored inbox is read newest (highest id) first
    newest = max(r["message_id"] for r in records if r["score"] == worst)
    (sampled,) = json.loads(done.stdout)["render_sample"]["messages"]
    assert sampled["key"] == f"message:{newest}" and sampled["score"] == worst
    assert sampled["folder"] == f"renders/message_{newest}"
    assert (out / sampled["pngs"]["desktop-600"]["fold"]).read_bytes()[:4] == b"\x89PNG"
    assert sampled["pngs"]["desktop-600"]["fold"] in (out / "report.html").read_text()
