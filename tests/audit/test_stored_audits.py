"""Audits of stored mail: `mailqa audit --inbox` against the database, and the audits API
run inline by the server (the Celery variant is in tests/scaleout)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from tests.audit.conftest import expected, make_message, run_cli

from mailqa.api.app import create_app
from mailqa.core.message import ParsedMessage
from mailqa.service import Service, open_service
from mailqa.settings import Settings

TOKEN = "mq_audit_admin_token_0123456789"
N = 24


@pytest_asyncio.fixture(scope="module")
async def stored(tmp_path_factory: Any) -> AsyncIterator[tuple[Service, int, Path]]:
    data_dir = tmp_path_factory.mktemp("stored-audit")
    settings = Settings(
        data_dir=data_dir,
        api_token=TOKEN,
        checks=["headers"],
        offline=True,
        spamd_managed="off",
    )
    async with open_service(settings) as service:
        await service.ensure_admin_token()
        project = await service.store.create_project("audits")
        inbox = await service.store.create_inbox(project.id, "audited", 10**9)
        for i in range(N):
            await service.store.insert_message(inbox.id, ParsedMessage(make_message(i)))
        yield service, inbox.id, data_dir


async def test_cli_audits_a_stored_inbox(stored: tuple[Service, int, Path]) -> None:
    _, inbox_id, data_dir = stored
    done = await asyncio.to_thread(
        run_cli,
        "audit",
        "--inbox",
        str(inbox_id),
        "--data-dir",
        str(data_dir),
        "--checks",
        "headers",
        "--jobs",
        "1",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["messages"] == N
    rules = {r["name"]: r["messages"] for r in summary["top_rules"]}
    assert rules["headers.subject-missing"] == expected(N).subject_missing


async def test_audits_api_inline(stored: tuple[Service, int, Path]) -> None:
    service, inbox_id, _ = stored
    app = create_app(service.settings, service)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
        bad = await c.post("/api/v1/audits", json={"inbox_id": inbox_id, "checks": ["nope"]})
        assert bad.status_code == 400 and "unknown check" in bad.json()["message"]
        missing = await c.post("/api/v1/audits", json={"inbox_id": 99999})
        assert missing.status_code == 404
        r = await c.post("/api/v1/audits", json={"inbox_id": inbox_id, "checks": ["headers"]})
        assert r.status_code == 202, r.text
        audit_id = r.json()["id"]
        for _ in range(300):
            audit = (await c.get(f"/api/v1/audits/{audit_id}")).json()
            if audit["status"] == "done":
                break
            await asyncio.sleep(0.05)
        assert audit["status"] == "done", audit
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
        page = await c.get(f"/api/v1/audits/{audit_id}/export", params={"format": "html"})
        assert page.status_code == 200 and "<svg" in page.text and "<script" not in page.text
        as_json = await c.get(f"/api/v1/audits/{audit_id}/export", params={"format": "json"})
        assert as_json.json()["summary"] == audit["summary"]
        listed = (await c.get("/api/v1/audits")).json()
        assert audit_id in [a["id"] for a in listed]
        anonymous = await httpx.AsyncClient(transport=transport, base_url="http://t").get(
            f"/api/v1/audits/{audit_id}"
        )
        assert anonymous.status_code == 401


async def test_chunk_reads_and_writes_in_bulk(stored: tuple[Service, int, Path]) -> None:
    """The Celery task's path: one read for a chunk (missing ids left out), one idempotent
    write of its records."""
    from mailqa.audit.store import AuditStore
    from mailqa.audit.stored import PipelineCache, audit_parsed

    service, inbox_id, _ = stored
    page = await service.store.list_messages(inbox_id, limit=3)
    ids = [m.id for m in page[0]]
    parsed = await service.load_parsed_many([*ids, 987_654])
    assert sorted(parsed) == sorted(ids)
    for mid in ids:
        assert parsed[mid].raw == await service.store.get_raw(mid)
    audits = AuditStore(service.store)
    audit = await audits.create(inbox_id, ["headers"], online=False, filters={})
    pipeline = PipelineCache(10).get(["headers"])
    records = [await audit_parsed(service, pipeline, audit, m, parsed[m]) for m in ids]
    await audits.save_results(audit.id, records)
    await audits.save_results(audit.id, records)  # a redelivered chunk changes nothing
    assert await audits.count_results(audit.id) == len(ids)
    stored_records = [r async for r in audits.iter_results(audit.id)]
    assert sorted(r.message_id for r in stored_records) == sorted(ids)
