"""Hostile messages and reports: nothing they carry may run or break out in the UI."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect
from tests.dnscheck.conftest import LISTED_IP
from tests.webui.conftest import Session, Stack, build_message, mutate_report, screenshot

pytestmark = pytest.mark.slow

SUBJECT = '"><img src=x onerror="window.__pwned=1;alert(1)"><script>window.__pwned=2</script>'
FROM = '"<svg onload=window.__pwned=3>" <evil@attacker.example>'
FILENAME = '"><img src=x onerror=window.__pwned=5>.html'
MARKUP = '<img src=x onerror="window.__pwned=9;alert(9)">'
HOSTILE_HTML = """<script>window.__pwned=6;parent.__pwned=6;alert(6)</script>
<img src=x onerror="window.__pwned=7;parent.__pwned=7;alert(7)">
<svg onload="alert(8)"><circle r="4"/></svg>
<a id="js" href="javascript:parent.__pwned=10;alert(10)">click me</a>
<meta http-equiv="refresh" content="0;url=javascript:alert(11)">
<iframe src="javascript:parent.__pwned=12"></iframe>
<form action="javascript:alert(13)"><button id="go">go</button></form>
<object data="javascript:alert(14)"></object>
</textarea></script></style><p>{{constructor.constructor('window.__pwned=15')()}}</p>
"""


def hostile_report(report: dict[str, Any]) -> None:
    """Put markup into the text fields of the real html, blacklist, auth and hygiene results
    (their own shapes, as stored), where a careless UI would parse it."""
    checks = report["checks"]
    html = checks["html"]
    finding = html["findings"][0]
    finding["title"] += MARKUP
    finding["message"] += MARKUP
    finding["locations"][0]["snippet"] = MARKUP
    client = finding["data"]["clients"][0]
    client["name"] = MARKUP
    client["notes"] = [MARKUP]
    for family in html["details"]["scores"]["by_family"].values():
        family["name"] = MARKUP
    html["details"]["features"][-1]["title"] = MARKUP
    html["details"]["targets"] = [MARKUP]

    blacklist = checks["blacklist"]["details"]
    [listed] = [r for r in blacklist["results"] if r["listed"]]
    listed["delist_url"] = "javascript:window.__pwned=18"
    listed["reason"] = MARKUP
    listed["codes"][0]["meanings"] = [MARKUP]
    blacklist["domains"].append(MARKUP)
    for zone in blacklist["zones"]:
        zone["problem"] = zone["problem"] and MARKUP

    auth = checks["auth"]["details"]
    auth["spf"]["reason"] = MARKUP
    auth["spf"]["record"] = MARKUP
    auth["dmarc"]["reason"] = MARKUP
    auth["posture"]["ptr_names"] = [MARKUP]
    auth["arc"]["chain"] = [
        {
            "instance": 1,
            "authserv_id": MARKUP,
            "seal_domain": MARKUP,
            "cv": MARKUP,
            "seal_valid": False,
            "signature_valid": None,
            "problem": MARKUP,
        }
    ]
    auth["authentication_results"] = f"Authentication-Results: {MARKUP}"

    hygiene = checks["hygiene"]["findings"][0]
    hygiene["title"] += MARKUP
    for location in hygiene["locations"]:
        location["snippet"] = MARKUP


async def assert_clean(ui: Session) -> None:
    assert await ui.page.evaluate("typeof window.__pwned") == "undefined"
    assert ui.dialogs == []
    assert ui.errors == []


async def test_hostile_message_never_executes(ui: Session, stack: Stack) -> None:
    raw = build_message(
        subject=SUBJECT,
        from_=FROM,
        to=f'"{MARKUP}" <x@example.com>',
        html=HOSTILE_HTML,
        text=f"<script>window.__pwned=16</script>{MARKUP}",
        headers={"X-Evil": "<script>window.__pwned=4</script>", "X-Also": MARKUP},
        attachments=[(FILENAME, "text/html", b"<script>window.__pwned=17</script>")],
    )
    message_id = await stack.upload(raw, client_ip=LISTED_IP)  # listed: a delisting link
    report = await mutate_report(stack, message_id, hostile_report)
    hygiene_title = report["checks"]["hygiene"]["findings"][0]["title"]
    assert hygiene_title.endswith(MARKUP)
    page = ui.page

    # The list: subject and sender shown as text.
    await page.goto(f"{stack.base_url}/#/inbox/{stack.inbox['id']}")
    row = page.locator(f'#messages li[data-id="{message_id}"]')
    await expect(row.locator(".subject")).to_have_text(SUBJECT)
    await expect(row.locator(".from")).to_contain_text("<svg onload=window.__pwned=3>")
    await assert_clean(ui)

    # The message: every view and every QA tab.
    await row.locator("a").click()
    await expect(page.locator("#msg-subject")).to_have_text(SUBJECT)
    frame = page.frame_locator("#preview-frame")
    await expect(frame.locator("#js")).to_have_text("click me")
    await frame.locator("#js").click()  # a javascript: link in a script-less sandbox: nothing
    await frame.locator("#go").click()
    await screenshot(page, "15-xss-message")
    tabs = await page.locator('[role="tab"]').evaluate_all("els => els.map(e => e.id)")
    assert "tab-qa-blacklist" in tabs and "tab-qa-html" in tabs
    for tab in tabs:
        await page.click(f"#{tab}")
        await expect(page.locator(f"#{tab}")).to_have_attribute("aria-selected", "true")
        await assert_clean(ui)

    # Data stayed data: the filename, headers and finding text appear literally.
    await page.click("#tab-attachments")
    link = page.locator("#attachments a").first
    await expect(link).to_have_attribute("download", FILENAME)
    await expect(page.locator("#attachments")).to_contain_text(FILENAME)
    await page.click("#tab-headers-list")
    await expect(page.locator(".headers-table")).to_contain_text(
        "<script>window.__pwned=4</script>"
    )
    await page.click("#tab-qa-hygiene")
    await expect(page.locator("#panel-qa-hygiene .finding .title", has_text=MARKUP)).to_have_text(
        hygiene_title
    )
    await page.click("#tab-qa-html")
    panel = page.locator("#panel-qa-html")
    await expect(panel.locator(".finding .title", has_text=MARKUP)).to_have_count(1)
    await expect(panel.locator(".snippet", has_text=MARKUP).first).to_be_visible()
    await expect(panel.locator("th.client", has_text=MARKUP)).to_have_count(1)
    cell = panel.locator("td.cell").get_by_role("img", name=MARKUP).first
    await cell.focus()
    await expect(page.locator("#matrix-tip")).to_contain_text(MARKUP)
    await page.click("#tab-qa-auth")
    await expect(page.locator('[data-auth="spf"] .reason')).to_have_text(MARKUP)
    arc_set = page.locator('[data-auth="arc"] [data-arc-instance="1"]')
    await expect(arc_set.locator(".reason")).to_have_text(MARKUP)
    await expect(arc_set.locator("h4")).to_have_text(f"Set i=1 · {MARKUP}")
    await expect(arc_set).to_contain_text("message signature: not checked")
    await expect(page.locator("#auth-results")).to_contain_text(MARKUP)
    # A javascript: delisting URL is shown, never linked.
    await page.click("#tab-qa-blacklist")
    await expect(page.locator("#panel-qa-blacklist")).to_contain_text(
        "javascript:window.__pwned=18"
    )
    assert await page.locator('#panel-qa-blacklist a[href^="javascript"]').count() == 0
    assert await page.locator("a[href^='javascript'], [onerror], [onload]").count() == 0
    # No injected element made it into the UI's document.
    assert await page.locator("#main script, #main svg, #main img[src='x']").count() == 0
    await assert_clean(ui)


async def test_hostile_inbox_and_project_names_are_text(ui: Session, stack: Stack) -> None:
    async with stack.api() as c:
        project = (await c.post("/api/v1/projects", json={"name": MARKUP})).json()
        inbox = (
            await c.post(
                f"/api/v1/projects/{project['id']}/inboxes",
                json={"name": "<script>window.__pwned=20</script>"},
            )
        ).json()
    try:
        await ui.page.goto(f"{stack.base_url}/#/inbox/{inbox['id']}")
        await ui.page.reload()  # the sidebar lists the new names
        await expect(ui.page.locator("#nav-tree")).to_contain_text(MARKUP)
        await expect(ui.page.locator("#main h1")).to_have_text("<script>window.__pwned=20</script>")
        await assert_clean(ui)
    finally:
        async with stack.api() as c:
            await c.delete(f"/api/v1/projects/{project['id']}")


async def test_the_preview_document_cannot_reach_the_ui(ui: Session, stack: Stack) -> None:
    """Opened on its own (not framed), the preview still runs nothing: its CSP sandboxes it."""
    message_id = await stack.upload(build_message(subject="direct", html=HOSTILE_HTML))
    page = ui.page
    await page.goto(f"{stack.base_url}/ui/messages/{message_id}/preview")
    await expect(page.locator("#js")).to_have_text("click me")
    await assert_clean(ui)
    assert await page.evaluate("window.origin") == "null"  # sandboxed: an opaque origin
