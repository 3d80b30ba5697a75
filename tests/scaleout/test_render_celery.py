"""Render previews on Celery: the serving process queues them, a `mailqa worker` renders into
the shared data dir, the API serves them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import redis
from tests.scaleout.conftest import TOKEN, Worker, wait_for
from tests.support.servers import Served, serving_stack

from mailqa.settings import Settings

pytestmark = pytest.mark.slow

HTML_MAIL = (
    b"From: a@example.com\r\nTo: b@example.com\r\nSubject: celery render\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    b"<html><body style='background:#fff'><h1>Rendered by a worker</h1></body></html>\r\n"
)


@pytest.fixture(scope="module")
def render_env(
    worker_env: dict[str, str], redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    queue = f"mailqa-render-{uuid.uuid4().hex[:8]}"
    env = {
        **worker_env,
        "MAILQA_CELERY_QUEUE": queue,
        "MAILQA_DATA_DIR": str(tmp_path_factory.mktemp("render-data")),
        "MAILQA_RENDER": "true",
        "MAILQA_CHECKS": "headers",
    }
    yield env
    redis.Redis.from_url(redis_url).delete(queue)


@pytest.fixture(scope="module")
def render_worker(
    render_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    w = Worker(render_env, tmp_path_factory.mktemp("render-worker") / "worker.log", 1)
    w.start()
    yield w
    w.stop()


@pytest_asyncio.fixture(scope="module")
async def render_stack(render_env: dict[str, str]) -> AsyncIterator[Served]:
    settings = Settings(
        data_dir=Path(render_env["MAILQA_DATA_DIR"]),
        database_url=render_env["MAILQA_DATABASE_URL"],
        broker_url=render_env["MAILQA_BROKER_URL"],
        celery_queue=render_env["MAILQA_CELERY_QUEUE"],
        executor="celery",
        checks=["headers"],
        offline=True,
        api_token=TOKEN,
        spamd_managed="off",
        render=True,
    )
    async with serving_stack(settings, smtp=False) as served:
        yield served


async def test_a_worker_renders_and_the_api_serves_it(
    render_stack: Served, render_worker: Worker
) -> None:
    async with httpx.AsyncClient(
        base_url=render_stack.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    ) as c:
        project = (await c.post("/api/v1/projects", json={"name": "celery renders"})).json()
        inbox = (
            await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "r"})
        ).json()
        created = await c.post(
            f"/api/v1/inboxes/{inbox['id']}/messages",
            content=HTML_MAIL,
            headers={"Content-Type": "message/rfc822"},
        )
        message_id = created.json()["id"]
        url = f"/api/v1/messages/{message_id}/renders"

        async def done() -> dict[str, object] | None:
            body = (await c.get(url)).json()
            return body if body["status"] == "done" else None

        listed = await wait_for(done, within=120)
        assert len(listed["renders"]) == 11
        assert all(r["status"] == "ok" for r in listed["renders"])
        png = await c.get(listed["renders"][0]["url"])
        assert png.headers["content-type"] == "image/png"
    # The serving process never started a browser: the worker rendered.
    assert render_stack.service.previews.dispatch is not None
    assert not render_stack.service.previews.browser_started
    assert render_worker.proc is not None and render_worker.proc.poll() is None
