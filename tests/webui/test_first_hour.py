"""What a new user meets in the first hour, at a laptop's 1280×800 in real Chromium: every
tab of a message on screen, no stray "null", a matrix that keeps its headers, tabs that open
at their start, counts on the inbox cards, names as typed, a preview that says when remote
images are loaded, and an audit report whose bar labels are whole."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect
from tests.webui.conftest import ADMIN_TOKEN, Session, Stack, build_message, screenshot

from mailqa.audit.html import render_html
from mailqa.audit.record import AuditRecord
from mailqa.audit.summary import AuditSummary
from mailqa.checks import BUILTIN_CHECKS

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 1280, 800

# CSS features email clients disagree on: enough matrix rows that the matrix scrolls.
FEATURE_RULES = [
    "display:flex",
    "display:grid",
    "position:absolute",
    "border-radius:8px",
    "box-shadow:0 0 2px #000",
    "background-image:linear-gradient(#fff,#000)",
    "font-kerning:none",
    "font-stretch:condensed",
    "object-fit:cover",
    "text-shadow:1px 1px #000",
    "transform:rotate(2deg)",
    "opacity:.5",
    "margin:0 auto",
    "max-width:600px",
    "letter-spacing:1px",
    "text-overflow:ellipsis",
]


def busy_html(image_url: str) -> str:
    """A message with many CSS features (one element each) and a remote image."""
    cells = "".join(
        f'<tr><td style="{rule}">Feature {i}</td></tr>' for i, rule in enumerate(FEATURE_RULES)
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'></head><body>"
        f'<table width="600">{cells}'
        f'<tr><td><img id="remote" src="{image_url}" alt="banner" width="1" height="1"></td></tr>'
        '<tr><td><a href="https://shop.acme.example/sale">Shop the sale</a></td></tr>'
        "</table></body></html>"
    )


@pytest_asyncio.fixture(scope="module")
async def laptop(browser: Browser, stack: Stack) -> AsyncIterator[BrowserContext]:
    """One signed-in 1280×800 browser context for the module; each test opens its pages."""
    context = await browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = await context.new_page()
    await page.goto(f"{stack.base_url}/login")
    await page.fill("#token", ADMIN_TOKEN)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#nav-tree a.inbox")
    await page.close()
    try:
        yield context
    finally:
        await context.close()


@pytest_asyncio.fixture
async def ui(laptop: BrowserContext) -> AsyncIterator[Session]:
    page = await laptop.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield Session(page, [], errors)
    finally:
        await page.close()


@pytest_asyncio.fixture(scope="module")
async def analysed(stack: Stack) -> int:
    """An analysed message with an attachment, a remote image and a long HTML matrix."""
    raw = build_message(
        subject="First hour: spring sale",
        html=busy_html(stack.images.url),
        attachments=[("price-list.csv", "text/csv", b"item,price\nshoe,30\n")],
    )
    message_id = await stack.upload(raw)
    await stack.wait_report(message_id)
    return message_id


async def open_message(page: Page, stack: Stack, message_id: int, tab: str) -> None:
    await page.goto(f"{stack.base_url}/#/message/{message_id}/{tab}")
    await expect(page.locator("#msg-subject")).to_be_visible()
    await expect(page.locator("#tab-qa-html")).to_be_visible()  # the report is in


TAB_BOXES = """
() => [...document.querySelectorAll('#tabs [role="tab"]')].map((t) => {
  const r = t.getBoundingClientRect();
  return { id: t.id, text: t.textContent.trim(), left: r.left, right: r.right,
           top: r.top, bottom: r.bottom };
})
"""

OVERFLOW = """
() => { const bar = document.getElementById("tabs");
        return { bar: bar.scrollWidth - bar.clientWidth,
                 page: document.documentElement.scrollWidth - window.innerWidth }; }
"""

STRAY_WORDS = re.compile(r"\b(null|undefined|NaN|\[object Object\])\b")


async def test_every_tab_fits_at_1280_and_no_null_shows(
    ui: Session, stack: Stack, analysed: int
) -> None:
    page = ui.page
    report = await stack.wait_report(analysed)
    await open_message(page, stack, analysed, "preview")
    tabs = await page.evaluate(TAB_BOXES)
    ids = {t["id"] for t in tabs}
    assert {f"tab-qa-{name}" for name in report["checks"]} <= ids
    assert {"tab-preview", "tab-text", "tab-source", "tab-raw", "tab-headers-list"} <= ids
    assert "tab-previews" in ids  # the emulated renders
    for tab in tabs:  # every tab whole, inside the viewport: nothing to scroll to
        assert tab["left"] >= 0 and tab["right"] <= WIDTH, tab
        assert tab["top"] >= 0 and tab["bottom"] <= HEIGHT, tab
    assert await page.evaluate(OVERFLOW) == {"bar": 0, "page": 0}
    names = [t["text"] for t in tabs]
    assert len(set(names)) == len(names), names  # no two tabs with one name
    await expect(page.locator("#tab-headers-list")).to_have_text("Headers")
    await expect(page.locator("#tab-qa-headers")).to_contain_text("Header checks")
    # Two labelled rows: the message's views, then its QA report.
    groups = page.locator("#tabs .tab-group")
    await expect(groups.locator(".tab-group-label")).to_have_text(["Message", "QA report"])
    await expect(groups.nth(0).locator('[role="tab"]')).to_have_count(7)
    await expect(groups.nth(1).locator('[role="tab"]')).to_have_count(1 + len(report["checks"]))
    await screenshot(page, "20-tabs-at-1280")
    # No stray "null" (nor undefined) on the page, whichever tab is open.
    for tab in tabs:
        await page.click(f"#{tab['id']}")
        await expect(page.locator(f"#panel-{tab['id'].removeprefix('tab-')}")).to_be_visible()
        if tab["id"] == "tab-raw":
            await expect(page.locator("#raw-source")).to_contain_text("Subject:")
        text = await page.evaluate("document.body.innerText")
        assert not STRAY_WORDS.search(text), (tab["id"], STRAY_WORDS.findall(text))
        assert await page.evaluate(OVERFLOW) == {"bar": 0, "page": 0}, tab["id"]
    assert not ui.errors


RECT = """
(selector) => { const r = document.querySelector(selector).getBoundingClientRect();
                return { left: r.left, top: r.top, right: r.right, bottom: r.bottom }; }
"""


async def rect_of(page: Page, selector: str) -> dict[str, float]:
    """Where the element is in the viewport."""
    return dict(await page.evaluate(RECT, selector))


async def test_a_tab_opens_at_its_start_not_where_the_last_one_was(
    ui: Session, stack: Stack, analysed: int
) -> None:
    page = ui.page
    await open_message(page, stack, analysed, "qa-html")
    await expect(page.locator("#html-matrix")).to_be_visible()
    await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    scrolled = await page.evaluate("window.scrollY")
    assert scrolled > 400  # far down the HTML check's long panel
    tab = page.locator("#tab-qa-links")
    await expect(tab).to_be_in_viewport()  # the tab bar stays under the top bar
    await tab.click()
    panel = page.locator("#panel-qa-links")
    await expect(panel).to_be_visible()
    assert await page.evaluate("window.scrollY") < scrolled
    bar = await rect_of(page, "#tabs")
    top = await rect_of(page, "#panel-qa-links")
    # The new panel starts right under the tab bar: its first line is on screen.
    assert bar["bottom"] <= top["top"] <= bar["bottom"] + 24, (bar, top)
    await expect(panel.locator("h2").first).to_be_in_viewport()
    # A panel's own scroll box starts at the top again too.
    await page.click("#tab-raw")
    raw = page.locator("#raw-source")
    await expect(raw).to_contain_text("Subject:")
    await page.set_viewport_size({"width": WIDTH, "height": 420})  # the raw box scrolls
    try:
        await raw.evaluate("p => { p.scrollTop = p.scrollHeight; }")
        assert await raw.evaluate("p => p.scrollTop") > 0
        await page.click("#tab-text")
        await page.click("#tab-raw")
        assert await raw.evaluate("p => p.scrollTop") == 0
    finally:
        await page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    assert not ui.errors


async def test_remote_images_note_says_what_the_preview_does(
    ui: Session, stack: Stack, analysed: int
) -> None:
    page = ui.page
    await open_message(page, stack, analysed, "preview")
    note = page.locator("#preview-note")
    await expect(note).to_contain_text("Remote images are blocked")
    await page.click("#remote-images")
    frame = page.frame_locator("#preview-frame")
    await expect(frame.locator("#remote")).to_have_js_property("naturalWidth", 1)
    await expect(note).to_contain_text("Remote images are loaded")
    await expect(note).not_to_contain_text("blocked")
    await screenshot(page, "23-remote-images-loaded")
    await page.click("#remote-images")
    await expect(note).to_contain_text("Remote images are blocked")
    assert not ui.errors


BOX_UNDER_TABS = """
(selector) => { const box = document.querySelector(selector).getBoundingClientRect();
                const bar = document.getElementById("tabs").getBoundingClientRect();
                window.scrollBy({ top: box.top - bar.bottom - 8, behavior: "instant" }); }
"""

SHOWN_AT_CENTRE = """
(el) => { const r = el.getBoundingClientRect();
          const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          return hit !== null && el.contains(hit); }
"""


async def test_the_matrix_keeps_its_client_row_and_feature_column_in_view(
    ui: Session, stack: Stack, analysed: int
) -> None:
    page = ui.page
    await open_message(page, stack, analysed, "qa-html")
    box = page.locator("#html-matrix-scroll")
    await expect(box.locator("#html-matrix")).to_be_visible()
    sizes = await box.evaluate("b => [b.scrollHeight, b.clientHeight]")
    assert sizes[0] > sizes[1] + 200, sizes  # the matrix is long enough to scroll
    client = box.locator("th.client").first
    first_feature = box.locator("tbody th.feature").first
    await page.evaluate(BOX_UNDER_TABS, "#html-matrix-scroll")
    await box.evaluate("b => { b.scrollTop = b.scrollHeight; }")
    assert await box.evaluate("b => b.scrollTop") > 200
    frame = await rect_of(page, "#html-matrix-scroll")
    header = await client.bounding_box()
    assert header is not None
    # The client row stays at the top of the box, on top of the rows scrolled under it.
    assert abs(header["y"] - frame["top"]) <= 2, (header, frame)
    assert await client.evaluate(SHOWN_AT_CENTRE)
    await expect(client).to_be_in_viewport()
    await screenshot(page, "21-matrix-scrolled-down")
    # Narrower: the matrix scrolls sideways too, and the feature column stays.
    await page.set_viewport_size({"width": 900, "height": HEIGHT})
    try:
        await page.evaluate(BOX_UNDER_TABS, "#html-matrix-scroll")  # the tabs wrap at 900 px
        await box.evaluate("b => { b.scrollTop = 0; b.scrollLeft = b.scrollWidth; }")
        assert await box.evaluate("b => b.scrollLeft") > 100
        frame = await rect_of(page, "#html-matrix-scroll")
        column = await first_feature.bounding_box()
        assert column is not None
        assert abs(column["x"] - frame["left"]) <= 2, (column, frame)
        assert await first_feature.evaluate(SHOWN_AT_CENTRE)
        assert await box.locator("th.client").last.evaluate(SHOWN_AT_CENTRE)
        await screenshot(page, "22-matrix-scrolled-sideways")
    finally:
        await page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    assert not ui.errors


async def test_inbox_cards_show_counts_and_names_as_typed(ui: Session, stack: Stack) -> None:
    project_name, inbox_name = "Sign-Ups & Receipts", "eu-west: Order mails (QA)"
    async with stack.api() as c:
        project = (await c.post("/api/v1/projects", json={"name": project_name})).json()
        inbox = (
            await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": inbox_name})
        ).json()
    try:
        ids = [
            await stack.upload(build_message(subject=f"Order {n}"), inbox_id=inbox["id"])
            for n in range(3)
        ]
        async with stack.api() as c:
            r = await c.patch(f"/api/v1/messages/{ids[0]}", json={"is_read": True})
            r.raise_for_status()
            listed = {i["id"]: i for i in (await c.get("/api/v1/inboxes")).json()}
            one = (await c.get(f"/api/v1/inboxes/{inbox['id']}")).json()
        for shown in (listed[inbox["id"]], one):
            assert (shown["message_count"], shown["unread_count"]) == (3, 2)
        assert (inbox["message_count"], inbox["unread_count"]) == (0, 0)  # as created
        page = ui.page
        await page.goto(f"{stack.base_url}/#/")
        card = page.locator(f'#main a.qa-card[href="#/inbox/{inbox["id"]}"]')
        await expect(card.locator(".message-count")).to_have_text("3 messages")
        await expect(card.locator(".unread-count")).to_have_text("2 unread")
        # As typed: what is drawn (innerText follows text-transform), not only the DOM text.
        assert await card.locator(".name").evaluate("n => n.innerText") == inbox_name
        nav = page.locator("#nav-tree")
        heading = nav.locator(".project", has_text=project_name)
        assert await heading.evaluate("n => n.innerText") == project_name
        await screenshot(page, "24-inbox-cards")
        # Counts follow the mail: read the others from the inbox, and the card says so.
        async with stack.api() as c:
            (await c.post(f"/api/v1/inboxes/{inbox['id']}/all_read")).raise_for_status()
        await page.goto(f"{stack.base_url}/#/inbox/{inbox['id']}")
        await expect(page.locator("#messages .msg-link")).to_have_count(3)
        await page.goto(f"{stack.base_url}/#/")
        await expect(card.locator(".unread-count")).to_have_text("all read")
        assert not ui.errors
    finally:
        async with stack.api() as c:
            await c.delete(f"/api/v1/projects/{project['id']}")


def audit_summary(messages: int) -> dict[str, Any]:
    """What the audit aggregator makes of ``messages`` records that all break one rule."""
    long_rule = "headers-list-unsubscribe-post-missing-for-one-click-unsubscribe"
    records = [
        AuditRecord(
            key=f"mail/{n}.eml",
            status="failed" if n % 4 else "warning",
            score=40.0 + n % 60,
            checks={"headers": "failed", "html": "warning"},
            rules=["css-display-flex", long_rule] if n % 2 else ["css-display-flex"],
            html_unsupported=["css-display-flex"],
        )
        for n in range(messages)
    ]
    return AuditSummary().add_all(records).to_dict()


BAR_LABELS = """
() => [...document.querySelectorAll(".bars tr")].slice(1).length === 0 ? [] :
  [...document.querySelectorAll(".bars td.bar-value, .bars td.bar-name")].map((td) => {
    const card = td.closest(".card").getBoundingClientRect();
    const r = td.getBoundingClientRect();
    return { text: td.textContent, cut: td.scrollWidth > td.clientWidth,
             inSvg: td.closest("svg") !== null, left: r.left, right: r.right,
             cardLeft: card.left, cardRight: card.right };
  })
"""


@pytest.mark.parametrize("width", [WIDTH, 420])
async def test_audit_report_bar_labels_are_whole(browser: Browser, width: int) -> None:
    summary = audit_summary(200)
    html = render_html(summary, "First-hour audit")
    context = await browser.new_context(viewport={"width": width, "height": HEIGHT})
    try:
        page = await context.new_page()
        await page.set_content(html)
        labels = await page.evaluate(BAR_LABELS)
        texts = [label["text"] for label in labels]
        # Every count with its share, and every name, in full.
        assert "200 (100%)" in texts and "100 (50%)" in texts
        for ranked in (*summary["top_rules"][:10], *summary["html_unsupported"][:10]):
            assert ranked["name"] in texts
        for label in labels:
            assert not label["cut"], label
            assert not label["inSvg"], label  # text, not a fixed-width drawing
            assert label["cardLeft"] <= label["left"] and label["right"] <= label["cardRight"]
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
        # Why these scores can differ from the inbox badges.
        note = page.locator("#score-note")
        await expect(note).to_contain_text("checks this audit ran: headers, html")
        for name in BUILTIN_CHECKS:
            if name not in ("headers", "html"):
                await expect(note).to_contain_text(name)
        await expect(note).to_contain_text("score badge of a message in a mailqa inbox")
        await screenshot(page, f"25-audit-report-{width}")
    finally:
        await context.close()
