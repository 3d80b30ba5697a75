"""Real Redis, real PostgreSQL, the API and SMTP capture in this process with the Celery
executor, and `mailqa worker` as a subprocess (with two probe checks installed)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis
from tests.scaleout import probe_checks
from tests.support.postgres import throwaway_pg_database
from tests.support.servers import serving_stack

from mailqa.service import Service
from mailqa.settings import Settings

TOKEN = "mq_scaleout_admin_token_0123456789"
ROOT = Path(__file__).resolve().parents[2]
CHECKS = "headers,slow,flaky"


def probe_message(subject: str, token: str) -> bytes:
    """A small message; the probe checks read ``token`` (its Message-ID) to mark their runs."""
    msg = EmailMessage()
    msg["From"] = "App <app@sender.example>"
    msg["To"] = "user@example.com"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = f"<{token}@sender.example>"
    msg.set_content("Hello there.\n")
    return msg.as_bytes()


@pytest.fixture(scope="session")
def scaleout_pg() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session."""
    yield from throwaway_pg_database("mailqa_scaleout")


@pytest.fixture(scope="session")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("markers")


@pytest.fixture(scope="session")
def queue(redis_url: str) -> Iterator[str]:
    name = f"mailqa-test-{uuid.uuid4().hex[:8]}"
    yield name
    redis.Redis.from_url(redis_url).delete(name)


@pytest.fixture(scope="session")
def worker_env(redis_url: str, scaleout_pg: str, queue: str, markers: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILQA_")}
    env.update(
        MAILQA_DATABASE_URL=scaleout_pg,
        MAILQA_BROKER_URL=redis_url,
        MAILQA_CELERY_QUEUE=queue,
        MAILQA_CHECKS=CHECKS,
        MAILQA_OFFLINE="true",
        MAILQA_CELERY_RETRY_BACKOFF="0.2",
        MAILQA_CELERY_VISIBILITY_TIMEOUT="5",
        MAILQA_TEST_MARKERS=str(markers),
        MAILQA_SPAMD_MANAGED="off",
        PYTHONUNBUFFERED="1",
    )
    return env


class Worker:
    """`mailqa worker` in its own process group, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 2) -> None:
        self.env = env
        self.log = log
        self.concurrency = concurrency
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "tests" / "scaleout" / "worker_main.py"),
                    "worker",
                    "--concurrency",
                    str(self.concurrency),
                    "--hostname",
                    f"test-{uuid.uuid4().hex[:6]}@%h",
                ],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_bytes()[offset:]
            if b" ready." in text:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"worker did not start:\n{self.log.read_text()[-3000:]}")

    def kill_all(self) -> None:
        """SIGKILL the whole worker: parent and pool processes, no chance to clean up."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture(scope="session")
def worker(
    worker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    w = Worker(worker_env, tmp_path_factory.mktemp("worker") / "worker.log")
    w.start()
    yield w
    w.stop()


@dataclass
class CeleryStack:
    service: Service
    base_url: str
    smtp_port: int
    markers: Path

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=90
        )

    def smtp_send(self, raw: bytes) -> None:
        import smtplib

        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            smtp.sendmail("sender@app.example", ["user@example.com"], raw)


@pytest_asyncio.fixture(scope="session")
async def celery_stack(
    worker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory, markers: Path
) -> AsyncIterator[CeleryStack]:
    """The API and SMTP server in this process, enqueuing on Celery (the worker analyses)."""
    probe_checks.install()
    env = worker_env
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("celery-stack"),
        database_url=env["MAILQA_DATABASE_URL"],
        broker_url=env["MAILQA_BROKER_URL"],
        celery_queue=env["MAILQA_CELERY_QUEUE"],
        executor="celery",
        checks=CHECKS.split(","),
        offline=True,
        api_token=TOKEN,
        spamd_managed="off",
        webhook_allow=["127.0.0.1"],  # tests/scaleout/test_webhooks_celery.py's receiver
        webhook_poll_seconds=0.2,
    )
    try:
        async with serving_stack(settings) as served:
            yield CeleryStack(served.service, served.base_url, served.smtp_port, markers)
    finally:
        probe_checks.uninstall()


async def wait_for(predicate: Any, within: float = 60, interval: float = 0.2) -> Any:
    """Poll an async predicate until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)
