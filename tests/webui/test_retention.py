"""A message whose raw source retention dropped, in real Chromium: the report stays and every
view of the source says it is gone, without a broken frame, an error or a dead download."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import ConsoleMessage, Request, expect
from tests.webui.conftest import Session, Stack, build_message, screenshot

pytestmark = pytest.mark.slow

FLEX_LINE = 4
FLEX_HTML = (
    "<!doctype html>\n<html>\n<body>\n"
    '<div style="display:flex"><h1>Autumn catalogue</h1></div>\n'  # line FLEX_LINE
    "</body>\n</html>\n"
)
AT_FLEX_LINE = re.compile(rf"^line {FLEX_LINE}(:\d+)?$")
ATTACHMENT = ("terms.csv", "text/csv", b"clause,text\n1,no refunds\n")
SOURCE_PANES = ["preview", "text", "source", "raw", "headers-list"]
RERUN_REASON = "Re-running the analysis needs the source."


def campaign(subject: str) -> bytes:
    return build_message(
        subject=subject,
        html=FLEX_HTML,
        text="Autumn catalogue\n",
        attachments=[ATTACHMENT],
    )


async def test_a_message_without_its_source_keeps_its_report(ui: Session, stack: Stack) -> None:
    page = ui.page
    console_errors: list[str] = []
    source_fetches: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    def on_request(request: Request) -> None:
        if re.search(r"/(raw|preview|attachments/\d+)(\?|$)", request.url):
            source_fetches.append(request.url)

    page.on("console", on_console)
    page.on("request", on_request)
    async with stack.api() as c:
        project = (await c.post("/api/v1/projects", json={"name": "Retention"})).json()
        inbox = (
            await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "Archive"})
        ).json()
    try:
        old_id = await stack.upload(campaign("Old campaign 3c9a"), inbox_id=inbox["id"])
        report = await stack.wait_report(old_id)
        cutoff = datetime.now(UTC)
        new_id = await stack.upload(campaign("New campaign 8d21"), inbox_id=inbox["id"])
        await stack.wait_report(new_id)
        assert await stack.service.store.expire_sources(inbox["id"], cutoff) == 1
        async with stack.api() as c:
            old = (await c.get(f"/api/v1/messages/{old_id}")).json()
            assert (await c.get(f"/api/v1/messages/{old_id}/raw")).status_code == 410
        expired_at = old["source_expired_at"]
        assert expired_at and old["html_body"] is None and old["headers"] == []
        assert len(old["attachments"]) == 1  # the metadata outlives the source

        # The list marks the message, visibly and in the link's spoken name.
        await page.goto(f"{stack.base_url}/#/inbox/{inbox['id']}")
        # Made after the page loaded: the view fetches the sidebar again to know it.
        await expect(page.locator(".inbox-head h1")).to_have_text("Archive")
        await expect(page.locator("main")).not_to_contain_text("null")
        old_row = page.locator("#messages li", has_text="Old campaign 3c9a")
        new_row = page.locator("#messages li", has_text="New campaign 8d21")
        marker = old_row.locator(".badge.b-expired")
        await expect(marker).to_be_visible()
        await expect(marker).to_have_text("source expired")
        await expect(marker).to_have_attribute(
            "title", re.compile("^Source cleaned up by retention on ")
        )
        await expect(old_row.locator("a.msg-link")).to_have_accessible_name(
            re.compile(r"Old campaign 3c9a, from .*\. Source cleaned up by retention$")
        )
        await expect(new_row).to_be_visible()
        await expect(new_row.locator(".b-expired")).to_have_count(0)
        await expect(new_row.locator("a.msg-link")).not_to_have_accessible_name(
            re.compile("retention")
        )
        await screenshot(page, "17-inbox-source-expired")

        # Opening it lands on its report, under the notice with the date.
        await old_row.locator("a.msg-link").click()
        await expect(page).to_have_url(re.compile(rf"#/message/{old_id}/overview$"))
        notice = page.locator("#source-expired")
        await expect(notice).to_be_visible()
        await expect(notice).to_contain_text(
            "The source of this message was cleaned up by retention on "
        )
        await expect(notice).to_contain_text(
            "the QA report stays; the body, headers, raw source and attachments are no longer"
            " available."
        )
        when = notice.locator("time")
        await expect(when).to_have_attribute("datetime", expired_at)
        shown = await page.evaluate("(s) => new Date(s).toLocaleString()", expired_at)
        assert str(datetime.fromisoformat(expired_at).year) in shown
        await expect(when).to_have_text(shown)
        rerun = page.locator("#rerun")
        await expect(rerun).to_be_disabled()
        await expect(rerun).to_have_accessible_description(RERUN_REASON)
        await expect(notice).to_contain_text(RERUN_REASON)
        downloads = page.locator('a[download], a[href*="/raw"], a[href*="/attachments/"]')
        await expect(downloads).to_have_count(0)
        await screenshot(page, "18-message-source-expired")

        # Every QA tab still draws the stored report.
        await expect(page.locator("#panel-overview .qa-card")).to_have_count(len(report["checks"]))
        for name in report["checks"]:
            await page.click(f"#tab-qa-{name}")
            panel = page.locator(f"#panel-qa-{name}")
            await expect(panel.locator(".card").first).to_be_visible()
            await expect(panel.locator("[role=alert]")).to_have_count(0)
        await page.click("#tab-qa-html")
        await expect(
            page.locator('#html-matrix tr[data-feature="css-display-flex"]')
        ).to_have_count(1)
        flex = page.locator('#panel-qa-html .finding:has(.rule:text-is("css-display-flex"))')
        # Its source line is still named, but no longer a jump into a source that is gone.
        await expect(flex.locator(".loc-gone")).to_have_text(AT_FLEX_LINE)
        await expect(flex.locator("button.loc-link")).to_have_count(0)

        # The source views say the source is gone: no frame, no error, no blank pane.
        for tab in SOURCE_PANES:
            await page.click(f"#tab-{tab}")
            panel = page.locator(f"#panel-{tab}")
            await expect(panel.locator(".gone")).to_contain_text("no longer available")
            await expect(panel.locator(".gone time")).to_have_attribute("datetime", expired_at)
            await expect(panel.locator("[role=alert]")).to_have_count(0)
            if tab == "preview":
                await screenshot(page, "19-preview-source-expired")
        await expect(page.locator("iframe")).to_have_count(0)
        await page.click("#tab-attachments")
        attachments = page.locator("#attachments tbody tr")
        await expect(attachments).to_have_count(1)
        await expect(attachments).to_contain_text("terms.csv")
        await expect(attachments).to_contain_text("Not available")
        await expect(page.locator("#panel-attachments .notice")).to_contain_text(
            "can no longer be downloaded"
        )
        await expect(downloads).to_have_count(0)
        await page.click("#tab-raw")
        await page.get_by_role("button", name="Open the QA overview").click()
        await expect(page.locator("#tab-overview")).to_have_attribute("aria-selected", "true")
        assert source_fetches == []  # nothing asked for what answers 410

        # The other message of the inbox is unaffected.
        await page.goto(f"{stack.base_url}/#/message/{new_id}/preview")
        await expect(page.locator("#msg-subject")).to_have_text("New campaign 8d21")
        await expect(page.frame_locator("#preview-frame").locator("h1")).to_have_text(
            "Autumn catalogue"
        )
        await expect(page.locator("#source-expired")).to_have_count(0)
        await expect(page.locator("#rerun")).to_be_enabled()
        await expect(page.get_by_role("link", name="Download .eml")).to_have_attribute(
            "href", f"/api/v1/messages/{new_id}/raw"
        )
        await page.click("#tab-raw")
        await expect(page.locator("#raw-source")).to_contain_text("Subject: New campaign 8d21")
        await page.click("#tab-attachments")
        await expect(page.get_by_role("link", name="Download terms.csv")).to_be_visible()
        await page.click("#tab-qa-html")
        new_flex = page.locator('#panel-qa-html .finding:has(.rule:text-is("css-display-flex"))')
        await expect(new_flex.locator("button.loc-link")).to_have_text(AT_FLEX_LINE)
        await page.click("#rerun")
        await expect(page.locator("#toast")).to_have_text("Analysis finished")
        assert console_errors == []

        # Its source dropped while it is open: the re-run (answered 410) redraws the view.
        assert await stack.service.store.expire_sources(inbox["id"], datetime.now(UTC)) == 1
        await page.click("#rerun")
        await expect(page.locator("#toast")).to_have_text(
            "The source of this message was cleaned up: the analysis cannot run again"
        )
        await expect(page.locator("#source-expired")).to_be_visible()
        await expect(page.locator("#rerun")).to_be_disabled()
        await expect(downloads).to_have_count(0)
        await expect(page.locator("#tab-qa-html")).to_have_attribute("aria-selected", "true")
        await expect(new_flex.locator(".loc-gone")).to_have_text(AT_FLEX_LINE)
        assert [e for e in console_errors if "status of 410" not in e] == []
        assert not ui.errors and not ui.dialogs
    finally:
        async with stack.api() as c:
            await c.delete(f"/api/v1/projects/{project['id']}")
