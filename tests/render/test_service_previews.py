"""Render previews in the running service: a job after capture, stored content-addressed,
served by the API, pruned with the message."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from PIL import Image
from tests.render.test_render import DARK_TEMPLATE
from tests.support.stack import Running, base_settings, start_stack

from mailqa.previews import CHROMIUM_NOT_FOUND, preview_state
from mailqa.render.variants import DEFAULT_VARIANTS, pick_variants
from mailqa.settings import Settings

pytestmark = pytest.mark.slow


def mail(subject: str, html: str) -> bytes:
    return (
        f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n"
    ).encode()


@pytest_asyncio.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    settings = base_settings(tmp_path_factory.mktemp("previews"), render=True)
    async with start_stack(settings) as running:
        # Three variants keep the module quick; the service renders what it is given.
        running.service.previews.variants = pick_variants(
            ["desktop-600", "dark-600", "outlook-windows-600"]
        )
        yield running


async def upload(stack: Running, raw: bytes) -> int:
    async with stack.client() as c:
        inboxes = (await c.get("/api/v1/inboxes")).json()
        if not inboxes:
            project = (await c.post("/api/v1/projects", json={"name": "previews"})).json()
            url = f"/api/v1/projects/{project['id']}/inboxes"
            inboxes = [(await c.post(url, json={"name": "renders"})).json()]
        inbox = inboxes[0]
        r = await c.post(
            f"/api/v1/inboxes/{inbox['id']}/messages",
            content=raw,
            headers={"Content-Type": "message/rfc822"},
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


async def test_renders_follow_capture_and_are_served(stack: Running) -> None:
    message_id = await upload(stack, mail("dark", DARK_TEMPLATE))
    await stack.service.previews.join()
    async with stack.client() as c:
        report = await c.get(f"/api/v1/messages/{message_id}/report")
        assert f"/api/v1/messages/{message_id}/renders" in report.headers["link"]
        listed = (await c.get(f"/api/v1/messages/{message_id}/renders")).json()
        assert listed["state"] == "on" and listed["status"] == "done"
        names = [r["variant"] for r in listed["renders"]]
        assert names == ["desktop-600", "dark-600", "outlook-windows-600"]
        assert all(r["emulated"] and r["label"].startswith("emulated: ") for r in listed["renders"])
        light = await c.get(listed["renders"][0]["url"])
        dark = await c.get(listed["renders"][1]["url"])
        fold = await c.get(listed["renders"][0]["fold_url"])
        assert light.headers["content-type"] == "image/png"
        assert light.content != dark.content
        with Image.open(io.BytesIO(fold.content)) as image:
            assert image.width == 600
        missing = await c.get(f"/api/v1/messages/{message_id}/renders/nope.png")
        assert missing.status_code == 404


async def test_same_html_is_one_file_and_renders_go_with_the_message(stack: Running) -> None:
    previews = stack.service.previews
    first = await upload(stack, mail("one", "<p>shared body</p>"))
    second = await upload(stack, mail("two", "<p>shared body</p>"))
    await previews.join()
    one, two = previews.files.read(first), previews.files.read(second)
    assert one is not None and two is not None
    assert [r.key for r in one.renders] == [r.key for r in two.renders]
    objects = previews.files.objects
    keys = {r.key for r in one.renders if r.key}
    assert len(keys) == 3
    async with stack.client() as c:
        assert (await c.delete(f"/api/v1/messages/{first}")).status_code == 204
        assert (await c.get(f"/api/v1/messages/{first}/renders")).status_code == 404
    await previews.sweep()
    assert all(previews.files.get(k) is not None for k in keys)  # the second still has them
    async with stack.client() as c:
        assert (await c.delete(f"/api/v1/messages/{second}")).status_code == 204
    await previews.sweep()
    assert all(previews.files.get(k) is None for k in keys)
    assert not any(p.name.startswith(tuple(keys)) for p in objects.glob("*/*"))


async def test_rerender_renders_again(stack: Running) -> None:
    message_id = await upload(stack, mail("again", "<p>again</p>"))
    await stack.service.previews.join()
    async with stack.client() as c:
        before = (await c.get(f"/api/v1/messages/{message_id}/renders")).json()
        queued = await c.post(f"/api/v1/messages/{message_id}/renders")
        assert queued.status_code == 202
        assert queued.json()["status"] == "pending"
        await stack.service.previews.join()
        after = (await c.get(f"/api/v1/messages/{message_id}/renders")).json()
    assert after["status"] == "done"
    assert [r["key"] for r in after["renders"]] == [r["key"] for r in before["renders"]]
    assert after["renders"][0]["duration_ms"] > 0


def test_renders_are_unavailable_without_chromium(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, render=None, render_chromium=str(tmp_path / "none"))
    assert preview_state(settings) == ("unavailable", CHROMIUM_NOT_FOUND)
    assert preview_state(Settings(data_dir=tmp_path, render=False))[0] == "off"
    assert preview_state(Settings(data_dir=tmp_path, render=None))[0] == "on"
    assert len(DEFAULT_VARIANTS) == 11


async def test_with_renders_off_the_api_says_so(stack: Running) -> None:
    previews = stack.service.previews
    saved = previews.state, previews.reason
    previews.state, previews.reason = "unavailable", CHROMIUM_NOT_FOUND
    try:
        message_id = await upload(stack, mail("off", "<p>not rendered</p>"))
        async with stack.client() as c:
            listed = (await c.get(f"/api/v1/messages/{message_id}/renders")).json()
            refused = await c.post(f"/api/v1/messages/{message_id}/renders")
    finally:
        previews.state, previews.reason = saved
    assert listed == {
        "state": "unavailable",
        "reason": "unavailable: chromium not found",
        "status": "none",
        "renders": [],
        "warnings": [],
    }
    assert refused.status_code == 409
    assert refused.json()["error"] == "renders_unavailable"
