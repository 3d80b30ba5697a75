"""Render previews in the running service: a job after capture, stored content-addressed,
served by the API, pruned with the message."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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
    settings = base_settings(
        tmp_path_factory.mktemp("previews"), render=True, checks=["headers", "accessibility"]
    )
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


# Light grey from a class whose colour is a custom property: the static cascade cannot know
# it (a "needs review" item); axe-core computes it in the render. Line 6 is light grey the
# static check does know: one finding, confirmed, not two.
GREY_TEMPLATE = """<!DOCTYPE html><html lang="en"><head><title>Grey</title>
<style>:root { --muted: #cccccc; } .muted { color: var(--muted); }</style></head>
<body><div lang="en"><h1>Notice</h1>
<p class="muted">This light grey sentence is hard to read on white.</p>
<p>Dark enough text.</p>
<p style="color:#dddddd">Inline light grey the static check reads.</p>
</div></body></html>"""


async def accessibility_when_rendered(stack: Running, message_id: int) -> dict[str, Any]:
    """The report's accessibility section once the axe-core audit is merged into it."""
    async with stack.client() as c:
        for _ in range(600):
            r = await c.get(f"/api/v1/messages/{message_id}/report")
            if r.status_code == 200:
                section: dict[str, Any] = r.json()["checks"]["accessibility"]
                if "rendered" in section["details"]:
                    return section
            await asyncio.sleep(0.05)
    raise AssertionError("the axe-core audit never reached the report")


async def test_axe_finds_contrast_the_static_cascade_leaves_to_review(stack: Running) -> None:
    message_id = await upload(stack, mail("grey", GREY_TEMPLATE))
    await stack.service.previews.join()
    manifest = stack.service.previews.files.read(message_id)
    assert manifest is not None and manifest.axe is not None, manifest
    section = await accessibility_when_rendered(stack, message_id)
    contrast = [f for f in section["findings"] if f["rule"] == "accessibility.color-contrast"]
    lines = sorted(loc["line"] for f in contrast for loc in f["locations"])
    assert lines == [4, 6], contrast  # each element once
    rendered = [f for f in contrast if f["data"].get("source") == "axe-core (rendered)"]
    assert len(rendered) == 1 and rendered[0]["locations"][0]["line"] == 4
    assert rendered[0]["data"]["wcag"] == "1.4.3" and rendered[0]["severity"] == "warning"
    assert "#cccccc" in str(rendered[0]["data"]["elements"])
    static = [f for f in contrast if "source" not in f["data"]]
    assert len(static) == 1 and static[0]["data"]["confirmed_by"] == "axe-core"
    reviews = [i for i in section["details"]["needs_review"] if i["kind"] == "contrast"]
    assert not [i for i in reviews if i["line"] == 4]
    assert section["details"]["rendered"]["source"] == "axe-core 4.14.1, rendered"
    # Rendering again merges nothing twice.
    await stack.service.previews.render_message(message_id, manifest.uid, force=True)
    again = await accessibility_when_rendered(stack, message_id)
    assert again["findings"] == section["findings"]
    # Analysed again after the render: the stored audit is merged into the new report.
    report = await stack.service.analyze(message_id, only=["accessibility"])
    analysed = report.checks["accessibility"]
    assert analysed.details["rendered"]["added"] == 1
    assert [f.model_dump(mode="json") for f in analysed.findings] == section["findings"]


async def test_an_audit_that_fails_is_said_in_the_manifest(stack: Running) -> None:
    previews = stack.service.previews
    message_id = await upload(stack, mail("slow", GREY_TEMPLATE + "<!-- slow -->"))
    await previews.join()
    manifest = previews.files.read(message_id)
    assert manifest is not None
    timeout = previews._config.timeout
    previews._config.timeout = 0.001
    try:
        await previews.render_message(message_id, manifest.uid, force=True)
    finally:
        previews._config.timeout = timeout
    failed = previews.files.read(message_id)
    assert failed is not None and failed.status == "done"
    assert failed.axe is None and failed.axe_error == "axe-core timed out after 0.001 s"
    async with stack.client() as c:
        listed = (await c.get(f"/api/v1/messages/{message_id}/renders")).json()
    assert listed["axe_error"] == failed.axe_error


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
        "axe": None,
        "axe_error": None,
    }
    assert refused.status_code == 409
    assert refused.json()["error"] == "renders_unavailable"
