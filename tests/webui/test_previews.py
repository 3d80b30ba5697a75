"""The Previews tab in the browser: the emulated renders side by side, click to zoom."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from tests.webui.conftest import Session, Stack, build_message

from mailqa.previews import Previews
from mailqa.render.variants import pick_variants

pytestmark = pytest.mark.slow

DARK = """<html><head><style>
@media (prefers-color-scheme: dark) { body { background: #000; color: #fff; } }
</style></head><body><h1>Previews</h1><div style="display:flex"><p>one</p><p>two</p></div>
</body></html>"""


@pytest_asyncio.fixture
async def renders_on(stack: Stack) -> AsyncIterator[Previews]:
    """The server's render previews turned on (tests run with MAILQA_RENDER=false)."""
    previews = stack.service.previews
    saved = previews.state, previews.reason, previews.variants
    previews.state, previews.reason = "on", "on"
    previews.variants = pick_variants(["desktop-600", "dark-600", "outlook-windows-600"])
    await previews.start()
    try:
        yield previews
    finally:
        await previews.stop()
        previews.state, previews.reason, previews.variants = saved


async def test_previews_tab_says_when_renders_are_off(stack: Stack, ui: Session) -> None:
    message_id = await stack.upload(build_message(subject="no renders", html="<p>x</p>"))
    await ui.page.goto(f"{stack.base_url}/#/message/{message_id}/previews")
    state = ui.page.locator("#previews-state")
    await state.wait_for(timeout=30_000)  # the first page of the session starts slower
    assert "off" in (await state.inner_text())
    assert ui.errors == []


async def test_previews_tab_shows_the_variants_and_zooms(
    stack: Stack, ui: Session, renders_on: Previews
) -> None:
    message_id = await stack.upload(build_message(subject="renders", html=DARK))
    await renders_on.join()
    page = ui.page
    await page.goto(f"{stack.base_url}/#/message/{message_id}/previews")
    figures = page.locator("#preview-grid figure.preview")
    await figures.first.wait_for()
    assert await figures.count() == 3
    variants = [await figures.nth(i).get_attribute("data-variant") for i in range(3)]
    assert variants == ["desktop-600", "dark-600", "outlook-windows-600"]
    assert "Emulated previews" in await page.locator("#previews-note").inner_text()
    caption = await figures.nth(2).locator("figcaption").inner_text()
    assert "emulated" in caption and "Outlook for Windows" in caption
    # Every thumbnail loaded (the PNGs come from the API with the session's cookie).
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#preview-grid img')].every(i => i.complete)"
    )
    widths = await page.eval_on_selector_all(
        "#preview-grid img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : -1)"
    )
    assert widths == [600, 600, 600]

    await figures.nth(1).locator("button.preview-open").click()
    zoom = page.locator("#preview-zoom")
    await zoom.locator("img").wait_for()
    assert await zoom.evaluate("d => d.open")
    await page.wait_for_function(
        "() => document.querySelector('#preview-zoom img').naturalWidth === 600"
    )
    assert "prefers-color-scheme: dark" in await zoom.inner_text()
    await zoom.locator("button.close").click()
    assert not await zoom.evaluate("d => d.open")
    assert ui.errors == []
