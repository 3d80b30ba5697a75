"""`mailqa audit --executor celery` as a user runs it: files imported and fanned out to a real
worker, Ctrl-C and --resume, deleted mail, stalled workers, transient check failures."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis
from tests.audit.conftest import expected, make_message, write_eml_dir
from tests.scaleout.conftest import ROOT, Worker, probe_message
from tests.support.postgres import throwaway_pg_database

from mailqa.audit.store import AuditStore
from mailqa.audit.stored import AuditManager
from mailqa.core.message import ParsedMessage
from mailqa.service import open_service
from mailqa.settings import Settings
from mailqa.store.database import migrate
from mailqa.store.repository import Store
from mailqa.worker.selection import select_executor

pytestmark = pytest.mark.slow

MAILQA = [sys.executable, str(ROOT / "tests" / "scaleout" / "worker_main.py"), "audit"]


@pytest.fixture(scope="module")
def audit_pg() -> Iterator[str]:
    """A database of this module's own: the other tests take the first inbox they list."""
    yield from throwaway_pg_database("mailqa_audit")


@pytest.fixture(scope="module")
def base_env(worker_env: dict[str, str], audit_pg: str) -> dict[str, str]:
    return {**worker_env, "MAILQA_DATABASE_URL": audit_pg}


def queue_env(base_env: dict[str, str]) -> dict[str, str]:
    """The settings of this module, on a queue of its own."""
    return {**base_env, "MAILQA_CELERY_QUEUE": f"mailqa-audit-{uuid.uuid4().hex[:8]}"}


@pytest.fixture(scope="module")
def audit_env(base_env: dict[str, str], redis_url: str) -> Iterator[dict[str, str]]:
    # A task held by a busy process must not be handed to the other one meanwhile.
    env = {**queue_env(base_env), "MAILQA_CELERY_VISIBILITY_TIMEOUT": "120"}
    yield env
    redis.Redis.from_url(redis_url).delete(env["MAILQA_CELERY_QUEUE"])


@pytest.fixture(scope="module")
def audit_worker(
    audit_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    w = Worker(audit_env, tmp_path_factory.mktemp("audit-worker") / "worker.log")
    w.start()
    yield w
    w.stop()


@pytest_asyncio.fixture
async def store(audit_pg: str) -> AsyncIterator[Store]:
    await asyncio.to_thread(migrate, audit_pg)
    s = Store(audit_pg)
    yield s
    await s.close()


async def new_inbox(store: Store, raws: list[bytes]) -> tuple[int, list[int]]:
    project = await store.create_project(f"celery audits {uuid.uuid4().hex[:6]}")
    inbox = await store.create_inbox(project.id, "audited", 10**9)
    ids = [(await store.insert_message(inbox.id, ParsedMessage(raw))).id for raw in raws]
    return inbox.id, ids


def audit(env: dict[str, str], *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAILQA, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def start_audit(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*MAILQA, *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stored_audit_id(stderr: str) -> int:
    return int(stderr.rsplit("stored audit ", 1)[1].split()[0])


async def test_files_are_imported_and_fanned_out(
    audit_env: dict[str, str], audit_worker: Worker, store: Store, tmp_path: Path
) -> None:
    n = 45
    source = write_eml_dir(tmp_path / "eml", n)
    out, reports = tmp_path / "out", tmp_path / "reports"
    args = [str(source), "--executor", "celery", "--checks", "headers", "--out", str(out)]
    done = await asyncio.to_thread(
        audit, audit_env, *args, "--reports", str(reports), "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    rules = {r["name"]: r["messages"] for r in summary["top_rules"]}
    assert summary["messages"] == n
    assert rules["headers.subject-missing"] == expected(n).subject_missing
    assert rules["headers.date-missing"] == expected(n).date_missing
    keys = [json.loads(line)["key"] for line in (out / "results.jsonl").open()]
    assert sorted(keys) == sorted(str(p) for p in source.glob("*.eml"))  # files, not ids
    assert len(list(reports.glob("*.json"))) == n
    assert json.loads(next(reports.glob("*.json")).read_text())["checks"]["headers"]
    assert "Score distribution" in (out / "report.html").read_text()

    saved = await AuditStore(store).get(stored_audit_id(done.stderr))
    assert (saved.status, saved.executor, saved.imported, saved.total) == (
        "done",
        "celery",
        True,
        n,
    )
    rows, total = await store.list_messages(saved.inbox_id, limit=n)
    assert total == n and {m.analysis_status for m in rows} == {"analyzed"}

    again = await asyncio.to_thread(audit, audit_env, *args, "--resume", "--format", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["messages"] == n
    assert len((out / "results.jsonl").read_text().splitlines()) == n


async def test_ctrl_c_keeps_what_arrived_and_resume_finishes(
    audit_env: dict[str, str], audit_worker: Worker, tmp_path: Path
) -> None:
    """A [slow] message holds its chunk of 20 (the probe check blocks on its first run); the
    other chunk's results reach --out before Ctrl-C."""
    source = write_eml_dir(tmp_path / "eml", 30)
    token = f"slowaudit{uuid.uuid4().hex[:6]}"
    (source / "zz-slow.eml").write_bytes(probe_message("[slow] audit", token))
    out = tmp_path / "out"
    results = out / "results.jsonl"
    args = [str(source), "--executor", "celery", "--checks", "headers,slow", "--out", str(out)]
    proc = await asyncio.to_thread(start_audit, audit_env, *args, "--format", "json")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and len(results.read_text().splitlines()) >= 20:
            break
        await asyncio.sleep(0.1)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    stdout, stderr = await asyncio.to_thread(proc.communicate, timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "--resume" in stderr
    partial = json.loads(stdout)["messages"]
    assert 20 <= partial < 31
    assert len(results.read_text().splitlines()) == partial

    done = await asyncio.to_thread(audit, audit_env, *args, "--resume", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["messages"] == 31
    keys = [json.loads(line)["key"] for line in results.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 31


async def test_a_message_deleted_after_queueing_does_not_hang_the_audit(
    base_env: dict[str, str], store: Store, tmp_path: Path
) -> None:
    env = queue_env(base_env)  # no worker on it yet: the tasks wait in the queue
    inbox_id, ids = await new_inbox(store, [make_message(i) for i in range(5)])
    proc = await asyncio.to_thread(
        start_audit, env, "--inbox", str(inbox_id), "--executor", "celery",
        "--checks", "headers", "--format", "json",
    )  # fmt: skip
    audits = AuditStore(store)
    try:
        for _ in range(300):
            listed = [a for a in await audits.list_audits([inbox_id]) if a.total == 5]
            if listed:
                break
            await asyncio.sleep(0.1)
        assert listed, "the audit was not queued"
        assert listed[0].filters["since"] is None and listed[0].executor == "celery"
        await store.delete_message(ids[0])  # deleted after it was queued
        worker = Worker(env, tmp_path / "worker.log")
        await asyncio.to_thread(worker.start)
        try:
            stdout, stderr = await asyncio.to_thread(proc.communicate, timeout=60)
        finally:
            worker.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
        redis.Redis.from_url(env["MAILQA_BROKER_URL"]).delete(env["MAILQA_CELERY_QUEUE"])
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["messages"] == 5 and summary["statuses"]["missing"] == 1
    saved = await audits.get(stored_audit_id(stderr))
    assert saved.status == "done" and await audits.count_results(saved.id) == 5


async def test_no_worker_ends_with_a_clear_error(base_env: dict[str, str], store: Store) -> None:
    env = queue_env(base_env)  # nobody consumes this queue
    inbox_id, _ = await new_inbox(store, [make_message(i) for i in range(3)])
    since = "2020-01-01"
    try:
        done = await asyncio.to_thread(
            audit, env, "--inbox", str(inbox_id), "--executor", "celery", "--checks", "headers",
            "--since", since, "--stall-timeout", "2", timeout=60,
        )  # fmt: skip
    finally:
        redis.Redis.from_url(env["MAILQA_BROKER_URL"]).delete(env["MAILQA_CELERY_QUEUE"])
    assert done.returncode == 3, done.stderr
    assert "stalled" in done.stderr and "3 of 3 messages have no result" in done.stderr
    [saved] = await AuditStore(store).list_audits([inbox_id])
    assert saved.status == "failed" and "stalled" in (saved.error or "")
    assert saved.filters["since"].startswith("2020-01-01T00:00:00")


async def test_an_api_audit_with_no_worker_fails_as_stalled(
    base_env: dict[str, str], store: Store, tmp_path: Path
) -> None:
    """Started through the API (the server fans it out), an audit nobody works on ends
    ``failed`` with the reason after MAILQA_AUDIT_STALL_SECONDS, not ``running`` for ever."""
    env = queue_env(base_env)  # nobody consumes this queue
    inbox_id, _ = await new_inbox(store, [make_message(i) for i in range(3)])
    settings = Settings(
        data_dir=tmp_path,
        database_url=env["MAILQA_DATABASE_URL"],
        broker_url=env["MAILQA_BROKER_URL"],
        celery_queue=env["MAILQA_CELERY_QUEUE"],
        executor="celery",
        checks=["headers"],
        offline=True,
        spamd_managed="off",
        audit_stall_seconds=1.5,
    )
    try:
        async with open_service(settings, executor=select_executor) as service:
            manager = AuditManager(service)
            audit = await manager.start(inbox_id, ["headers"])
            try:
                for _ in range(300):
                    current, done = await manager.progress(audit.id)
                    if current.status not in ("queued", "running"):
                        break
                    await asyncio.sleep(0.1)
            finally:
                await manager.close()
    finally:
        redis.Redis.from_url(env["MAILQA_BROKER_URL"]).delete(env["MAILQA_CELERY_QUEUE"])
    assert current.status == "failed" and done == 0, current
    assert "stalled" in (current.error or "") and "3 of 3 messages" in (current.error or "")


async def test_audit_tasks_retry_only_the_failed_check(
    audit_env: dict[str, str], audit_worker: Worker, store: Store, markers: Path
) -> None:
    token = f"auditflaky{uuid.uuid4().hex[:6]}"
    inbox_id, _ = await new_inbox(store, [probe_message("[flaky] audited", token)])
    done = await asyncio.to_thread(
        audit, audit_env, "--inbox", str(inbox_id), "--executor", "celery",
        "--checks", "headers,slow,flaky", "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["checks"]["flaky"] == {"passed": 1}
    runs = {
        check: len((markers / f"{check}-{token}_sender.example.runs").read_text().splitlines())
        for check in ("flaky", "slow")
    }
    assert runs == {"flaky": 3, "slow": 1}
