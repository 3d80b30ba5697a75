"""Webhooks in the browser: subscribe an inbox, see the secret once, read the delivery log,
disable and delete the subscription."""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from tests.webui.conftest import Session, Stack, build_message, screenshot

pytestmark = pytest.mark.slow


async def test_manage_a_webhook_from_the_ui(ui: Session, stack: Stack) -> None:
    page = ui.page
    inbox_id = stack.inbox["id"]
    await page.goto(f"{stack.base_url}/#/webhooks")
    await expect(page.locator("#nav-webhooks")).to_have_attribute("aria-current", "page")
    await page.fill("#webhook-url", "https://hooks.example.invalid/mailqa")
    await page.select_option("#webhook-scope", f"inbox:{inbox_id}")
    await page.click("#webhook-create")
    await expect(page.locator("#webhook-secret code")).to_contain_text("whsec_")
    item = page.locator("#webhook-list li.webhook")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("message.received, report.completed")
    hook_id = int(await item.get_attribute("data-webhook") or 0)
    async with stack.api() as c:
        hook = (await c.get(f"/api/v1/webhooks/{hook_id}")).json()
    assert hook["inbox_id"] == inbox_id and hook["url"] == "https://hooks.example.invalid/mailqa"

    # An event: its delivery fails (the name does not resolve) and the log says so.
    await stack.upload(build_message(subject="Hooked"), inbox_id=inbox_id)
    log = item.locator(".webhook-log tbody tr")
    for _ in range(80):  # the log is read when asked for: ask until the attempt is in it
        await item.get_by_role("button", name="Deliveries").click()
        text = (await log.first.inner_text()) if await log.count() else ""
        if "message.received" in text and "cannot resolve" in text:
            break
        await page.wait_for_timeout(250)
    await expect(log.filter(has_text="message.received")).to_contain_text("cannot resolve")
    await screenshot(page, "20-webhooks")

    await item.get_by_role("button", name="Disable").click()
    await expect(item.locator(".badge").first).to_have_text("disabled")
    await item.get_by_role("button", name="Delete").click()
    await page.locator("#confirm-ok").click()
    await expect(page.locator("#webhook-list li.webhook")).to_have_count(0)
    assert ui.errors == []
