"""Audits in the browser: start one over an inbox, watch it finish, read its summary."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.async_api import expect
from tests.webui.conftest import Session, Stack, build_message, screenshot

pytestmark = pytest.mark.slow

FLEX_HTML = "<!doctype html><html><body><div style='display:flex'>x</div></body></html>"


async def test_audit_an_inbox_from_the_ui(ui: Session, stack: Stack) -> None:
    page = ui.page
    async with stack.api() as c:
        project = (await c.post("/api/v1/projects", json={"name": "Audited"})).json()
        inbox = (
            await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "Campaigns"})
        ).json()
    subjects = ["Spring sale", "Receipt 1042", '<img src=x onerror="alert(1)">Reset']
    for subject in subjects:
        await stack.upload(build_message(subject=subject, html=FLEX_HTML), inbox_id=inbox["id"])

    await page.goto(f"{stack.base_url}/#/inbox/{inbox['id']}")
    await expect(page.locator("#messages .msg-link")).to_have_count(len(subjects))
    await page.click("#audit-inbox")
    await expect(page.locator("#audit-inbox-select")).to_have_value(str(inbox["id"]))
    # Only two checks, chosen in the form: the audit must run exactly those.
    for name in ("links", "hygiene", "accessibility", "merge_tags"):
        await page.uncheck(f'input[name="check"][value="{name}"]')
    await page.click("#audit-start")
    await page.wait_for_url("**/#/audit/*")
    await expect(page.locator("#audit-summary #audit-messages")).to_have_text(
        str(len(subjects)), timeout=30_000
    )
    await expect(page.locator(".inbox-head .badge")).to_have_text("done", timeout=30_000)
    audit_id = int(page.url.rsplit("/", 1)[1])

    async with stack.api() as c:
        audit = (await c.get(f"/api/v1/audits/{audit_id}")).json()
    assert audit["checks"] == ["headers", "html"] and audit["done"] == len(subjects)
    bar = page.get_by_role("progressbar")
    await expect(bar).to_have_attribute("aria-valuenow", str(len(subjects)))
    # Per-check counts and the chart come from the summary.
    rows = page.locator("#audit-checks tbody tr")
    await expect(rows).to_have_count(2)
    bars = page.locator("#audit-histogram rect")
    await expect(bars).to_have_count(10)
    drawn = [int(await bars.nth(i).get_attribute("data-messages") or 0) for i in range(10)]
    assert sum(drawn) == len(subjects) - audit["summary"]["score"]["unscored"]
    await expect(page.locator("#audit-html_unsupported")).to_contain_text("css-display-flex")
    # Every message links to its report.
    links = page.locator("#audit-messages-table a")
    await expect(links).to_have_count(len(subjects))
    await screenshot(page, "16-audit-summary")

    # The CSV export (read with the browser's own session cookie) has a row per message.
    href = await page.locator("#audit-exports a", has_text="CSV").get_attribute("href")
    assert href
    response = await page.request.get(f"{stack.base_url}{href}")
    assert response.ok
    table = list(csv.DictReader(io.StringIO(await response.text())))
    assert sorted(r["subject"] for r in table) == sorted(subjects)

    # A subject carrying markup is shown as text, never run.
    await expect(page.locator("#audit-messages-table")).to_contain_text(
        '<img src=x onerror="alert(1)">'
    )
    assert await page.locator("#audit-messages-table img").count() == 0
    await links.first.click()
    await expect(page.locator("#msg-subject")).to_be_visible()
    await page.goto(f"{stack.base_url}/#/audits")
    await expect(page.locator("#audits-table")).to_contain_text(f"#{audit_id}")
    await expect(page.locator("#nav-audits")).to_have_attribute("aria-current", "page")
    assert not ui.errors and not ui.dialogs
