"""The UI in real Chromium: sign in, live list, message views, QA tabs, source jumps, delete."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Locator, Page, expect
from tests.dnscheck.conftest import LISTED_IP, DnsLab
from tests.links.local_http import LocalHttpServer
from tests.webui.conftest import (
    ADMIN_TOKEN,
    Session,
    Stack,
    build_message,
    dkim_signed,
    mutate_report,
    screenshot,
)

pytestmark = pytest.mark.slow


def newsletter_html(image_url: str) -> str:
    """About 30 lines; the flex rule sits on line FLEX_LINE."""
    lines = [
        "<!doctype html>",
        "<html>",
        "<head>",
        '<meta charset="utf-8">',
        "<style>",
        "  .row {",
        "    display:flex;",  # line 7
        "  }",
        "</style>",
        "</head>",
        '<body style="margin:0;font-family:Arial,sans-serif;background:#eef1f5">',
        '<table width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">',
        '<table width="600" style="background:#ffffff;padding:24px">',
        '<tr><td><img src="cid:logo@acme" width="48" height="48"></td></tr>',
        '<tr><td><h1 style="color:#1f4fb5">Spring sale: 30% off</h1></td></tr>',
        "<tr><td><p>Hello Ada, our spring collection is here.</p></td></tr>",
        f'<tr><td><img id="remote" src="{image_url}" alt="banner" width="1" height="1"></td></tr>',
        '<tr><td><a href="https://shop.acme.example/sale">Shop the sale</a></td></tr>',
        '<tr><td><div class="row"><span>One</span><span>Two</span></div></td></tr>',
        "<tr><td><p>Unsubscribe: https://acme.example/unsub</p></td></tr>",
        "</table>",
        "</td></tr></table>",
        "</body>",
        "</html>",
    ]
    return "\n".join(lines) + "\n"


FLEX_LINE = 7
IMG_LINE = 14
PIXEL_LINE = 17


@pytest_asyncio.fixture(scope="module")
async def newsletter(stack: Stack, dns_lab: DnsLab) -> AsyncIterator[int]:
    """A DKIM-signed newsletter from good.example, sent from an IP on the lab's block list:
    every tab shows what the real checks found."""
    raw = build_message(
        subject="Spring sale: 30% off everything",
        html=newsletter_html(stack.images.url),
        text="Hello Ada, our spring collection is here.\nShop: https://shop.acme.example/sale\n",
        from_="Acme News <news@good.example>",
        inline_png_cid="logo@acme",
        attachments=[("price-list.csv", "text/csv", b"item,price\nshoe,30\n")],
    )
    message_id = await stack.upload(
        dkim_signed(raw, dns_lab.keys.good_private),
        client_ip=LISTED_IP,
        mail_from="bounce@good.example",
        helo="mail.good.example",
    )
    await stack.wait_report(message_id)
    yield message_id


async def open_message(page: Page, stack: Stack, message_id: int, tab: str = "preview") -> None:
    await page.goto(f"{stack.base_url}/#/message/{message_id}/{tab}")
    await expect(page.locator("#msg-subject")).to_be_visible()


async def test_sign_in_refuses_a_bad_token_then_accepts_the_right_one(
    browser: Browser, stack: Stack
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(stack.base_url)
        await expect(page).to_have_url(f"{stack.base_url}/login")
        await screenshot(page, "01-sign-in")
        await page.fill("#token", "wrong-token")
        await page.click("button[type=submit]")
        await expect(page.locator("#login-error")).to_have_text("That token is not valid.")
        await page.fill("#token", ADMIN_TOKEN)
        await page.press("#token", "Enter")
        await expect(page.locator("#nav-tree a.inbox").first).to_contain_text("Staging")
        cookies = await context.cookies()
        session = next(c for c in cookies if c["name"] == "mailqa_session")
        assert session["httpOnly"] is True
        assert session["sameSite"] == "Strict"
        assert await page.evaluate("document.cookie") == ""  # invisible to scripts
        await page.click("#logout")
        await expect(page).to_have_url(f"{stack.base_url}/login")
    finally:
        await context.close()


async def test_mail_sent_over_smtp_appears_live(ui: Session, stack: Stack) -> None:
    page = ui.page
    await page.goto(f"{stack.base_url}/#/inbox/{stack.inbox['id']}")
    await expect(page.get_by_text("live", exact=True)).to_be_visible()
    await page.evaluate("window.__sameDocument = true")
    subject = "Live arrival 7f3a"
    await stack.send(build_message(subject=subject, html="<p>Just arrived</p>"))
    row = page.locator("#messages li", has_text=subject)
    await expect(row).to_be_visible(timeout=5000)
    assert await page.evaluate("window.__sameDocument") is True  # no reload: pushed live
    await expect(row.locator(".msg-link.unread")).to_have_count(1)
    # The score badge follows the analysis, still without a reload.
    await expect(row.locator(".meta .badge")).not_to_have_text("pending", timeout=60000)
    await screenshot(page, "02-inbox")
    # Search narrows the list.
    await page.fill("#search", "7f3a")
    await expect(page.locator("#messages li")).to_have_count(1)
    assert not ui.errors


async def test_preview_renders_sandboxed_with_remote_images_blocked(
    ui: Session, stack: Stack, newsletter: int
) -> None:
    page = ui.page
    stack.images.hits.clear()
    await open_message(page, stack, newsletter)
    frame_el = page.locator("#preview-frame")
    assert await frame_el.get_attribute("sandbox") == "allow-popups allow-popups-to-escape-sandbox"
    frame = page.frame_locator("#preview-frame")
    await expect(frame.locator("h1")).to_have_text("Spring sale: 30% off")
    # The cid: logo was inlined and decoded; the remote banner was blocked.
    logo_ok = await frame.locator("img").first.evaluate("i => i.complete && i.naturalWidth > 0")
    assert logo_ok
    assert await frame.locator("#remote").evaluate("i => i.naturalWidth") == 0
    assert stack.images.hits == []
    await screenshot(page, "03-message-preview")
    await page.click("#width-mobile")
    await expect(frame_el).to_have_class(re.compile("mobile"))
    width = await frame.locator("body").evaluate("b => b.ownerDocument.defaultView.innerWidth")
    assert width == 375
    await screenshot(page, "04-message-preview-mobile")
    await page.click("#remote-images")
    await expect(frame.locator("#remote")).to_have_js_property("naturalWidth", 1)
    assert len(stack.images.hits) >= 1
    # The message's other views.
    await page.click("#tab-text")
    await expect(page.locator("#text-body")).to_contain_text("Hello Ada")
    await page.click("#tab-raw")
    await expect(page.locator("#raw-source")).to_contain_text("Subject: Spring sale")
    await page.click("#tab-headers-list")
    await expect(page.locator(".headers-table")).to_contain_text("Message-ID")
    await page.click("#tab-attachments")
    await expect(page.locator("#attachments tbody tr")).to_have_count(2)  # inline logo + csv
    link = page.get_by_role("link", name="Download price-list.csv")
    await expect(link).to_have_attribute("download", "price-list.csv")
    async with page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    assert download.suggested_filename == "price-list.csv"
    assert (await download.path()).read_bytes() == b"item,price\nshoe,30\n"
    assert not ui.errors


SUPPORT_SYMBOLS = {"y": "✓", "a": "◐", "n": "✕", "u": "?", "none": "–"}
COVERED_SYMBOL = "↺"
RANK = {"y": 0, "a": 1, "u": 2, "n": 3}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

MATRIX_CELLS = """
table => [...table.querySelectorAll("tbody tr[data-feature]")].map((tr) => [
  tr.dataset.feature, [...tr.querySelectorAll("td.cell span")].map((s) => s.textContent),
])
"""


def js_round(value: float) -> int:
    """Math.round: halves go up (Python's round() goes to even)."""
    return math.floor(value + 0.5)


def score_text(value: float) -> str:
    """A score as the UI prints it: to one decimal, no trailing zero."""
    return f"{js_round(value * 10) / 10:g}"


def verdict_symbol(verdict: dict[str, Any]) -> str:
    """What readers get; ↺ when a fallback (or conditional comment, or gate) gives them the
    feature the data says the client lacks."""
    if verdict["support"] == "y" and RANK["y"] < RANK[verdict["data"]]:
        return COVERED_SYMBOL
    return SUPPORT_SYMBOLS[verdict["support"]]


def expected_matrix(html: dict[str, Any]) -> list[list[Any]]:
    """The matrix the real html result implies: one row per used feature, the findings first
    by severity (error, warning, info), then the features without a finding. A cell is what
    the feature's verdict for that client says readers get, "–" for clients without data,
    ✓ for the others.

    A report stored before features listed their clients: the findings' listed clients with
    their support, then only the features no target client lacks."""
    targets = html["details"]["clients"]
    features = {f["slug"]: f for f in html["details"]["features"]}
    findings = sorted(html["findings"], key=lambda f: SEVERITY_ORDER[f["severity"]])
    rows: list[list[Any]] = []
    if all("clients" in f for f in features.values()):
        order = [f["rule"] for f in findings]
        order += [slug for slug in features if slug not in order]
        for slug in order:
            feature = features[slug]
            cells = {c: verdict_symbol(v) for c, v in feature["clients"].items()}
            cells |= {c: "–" for c in feature["no_data"]}
            rows.append([slug, [cells.get(t, "✓") for t in targets]])
        return rows
    for finding in findings:
        listed = {c["client"]: c["support"] for c in finding["data"]["clients"]}
        listed |= {c: "none" for c in finding["data"].get("no_data", [])}
        rows.append([finding["rule"], [SUPPORT_SYMBOLS[listed.get(t, "y")] for t in targets]])
    flagged = {f["rule"] for f in html["findings"]}
    for feature in features.values():
        if feature["slug"] not in flagged and feature["worst"] in ("y", "none"):
            missing = set(feature.get("no_data", [])) if feature["worst"] == "y" else set(targets)
            rows.append([feature["slug"], ["–" if t in missing else "✓" for t in targets]])
    return rows


def as_legacy(html: dict[str, Any]) -> None:
    """The html result as stored before verdicts and no_data: features without clients,
    impact, severity or no_data; findings' clients without the data's value; no covered list."""
    for feature in html["details"]["features"]:
        for key in ("clients", "impact", "severity", "no_data"):
            del feature[key]
    for f in html["findings"]:
        for key in ("no_data", "covered", "impact", "impact_reason", "fix"):
            f["data"].pop(key, None)
        for c in f["data"]["clients"]:
            c["support"] = c.pop("data_support")
            del c["fallbacks"]
    del html["details"]["scores"]["verdict"]
    del html["details"]["scores"]["verdict_by_client"]


CELL_LOOK = """
(s) => { const c = getComputedStyle(s);
         return [c.backgroundColor, c.color, c.borderTopStyle, c.borderTopColor].join(" "); }
"""


async def test_a_client_without_support_data_is_no_data_not_supported(
    ui: Session, stack: Stack
) -> None:
    """font-kerning and font-stretch: caniemail has no entry for Outlook (Windows Mail), one
    of the default targets. That cell says "no data" in its own look, never ✓, and its score
    leaves it out; font-kerning is harmless (no finding), so its row comes from the feature."""
    page = ui.page
    message_id = await stack.upload(
        build_message(
            subject="Kerning without data",
            html="<!doctype html><html><body>"
            '<p style="font-kerning: none">Hi</p><p style="font-stretch: condensed">Ho</p>'
            "</body></html>",
        )
    )
    report = await stack.wait_report(message_id)
    html = report["checks"]["html"]
    targets = html["details"]["clients"]
    assert "outlook.windows-mail" in targets
    features = {f["slug"]: f for f in html["details"]["features"]}
    kerning = features["css-font-kerning"]
    # The real report says so: harmless, no finding, no data for Outlook (Windows Mail).
    assert kerning["impact"] == "harmless" and kerning["severity"] is None
    assert "css-font-kerning" not in {f["rule"] for f in html["findings"]}
    assert kerning["no_data"] == ["outlook.windows-mail"]
    assert "outlook.windows-mail" not in kerning["clients"]
    assert kerning["clients"]  # some clients lack it: drawn, though there is no finding
    stretch = next(f for f in html["findings"] if f["rule"] == "css-font-stretch")
    assert stretch["data"]["no_data"] == ["outlook.windows-mail"]
    await open_message(page, stack, message_id, "qa-html")
    matrix = page.locator("#html-matrix")
    await expect(matrix).to_be_visible()
    assert await matrix.evaluate(MATRIX_CELLS) == expected_matrix(html)
    row = matrix.locator('tr[data-feature="css-font-kerning"]')
    await expect(row.locator("th .impact")).to_have_text("harmless")
    await expect(row.locator("th .badge")).to_have_count(0)  # no severity: no finding
    await expect(row.locator("th")).to_contain_text("no finding")
    cells = row.locator("td.cell span")
    names = await matrix.locator("th.client").all_text_contents()
    assert names[targets.index("outlook.windows-mail")] == "Outlook (Windows Mail)"
    none = cells.nth(targets.index("outlook.windows-mail"))
    await expect(none).to_have_text("–")
    await expect(none).to_have_attribute("data-support", "none")
    await expect(none).to_have_attribute(
        "aria-label", re.compile(r"^font-kerning in Outlook \(Windows Mail\): No data — ")
    )
    supported = cells.nth(targets.index("apple-mail.ios"))
    await expect(supported).to_have_text("✓")
    assert (await none.get_attribute("aria-label") or "").count("Supported") == 0
    lacking = next(t for t in targets if kerning["clients"].get(t, {}).get("support") == "n")
    await expect(cells.nth(targets.index(lacking))).to_have_text("✕")
    # Its own look: neither the ✓ cell's nor the ? (unknown) one's.
    look = await none.evaluate(CELL_LOOK)
    assert look != await supported.evaluate(CELL_LOOK)
    assert "dashed" in look
    unknown = page.locator(".legend .badge.b-u")
    await expect(unknown).to_have_text("?")
    assert look != await unknown.evaluate(CELL_LOOK)
    await none.focus()  # the note on keyboard focus
    await expect(page.locator("#matrix-tip")).to_contain_text(
        "font-kerning in Outlook (Windows Mail): No data"
    )
    await expect(page.locator(".legend")).to_contain_text("– No data")
    stretch_row = matrix.locator('tr[data-feature="css-font-stretch"]')
    await expect(stretch_row.locator("th .badge")).to_have_text(stretch["severity"])
    await expect(
        stretch_row.locator("td.cell span").nth(targets.index("outlook.windows-mail"))
    ).to_have_attribute("data-support", "none")
    # Not counted as supported: the client's score rates only the <p> it has data for.
    assert html["details"]["scores"]["by_client"]["outlook.windows-mail"] == 100.0
    assert stretch["data"]["support_counts"]["y"] == len(targets) - 1 - len(
        stretch["data"]["clients"]
    )
    await screenshot(page, "06b-qa-html-no-data")

    # A report stored before verdicts and no_data existed: the findings are the rows and their
    # ✓ cells say they may be no data; a feature some client lacks without a finding has no
    # row (its clients are not in such a report).
    legacy = await mutate_report(stack, message_id, lambda body: as_legacy(body["checks"]["html"]))
    await page.reload()
    await expect(matrix).to_be_visible()
    assert await matrix.evaluate(MATRIX_CELLS) == expected_matrix(legacy["checks"]["html"])
    await expect(matrix.locator('tr[data-feature="css-font-kerning"]')).to_have_count(0)
    cell = page.locator('#html-matrix tr[data-feature="css-font-stretch"] td.cell span').nth(
        targets.index("outlook.windows-mail")
    )
    await expect(cell).to_have_text("✓")
    await expect(cell).to_have_attribute("aria-label", re.compile("or not in the support data"))
    await expect(page.locator("#html-verdict")).to_contain_text(
        f"HTML score: {score_text(legacy['checks']['html']['score'])}"
    )
    await expect(matrix.locator("tr.verdicts")).to_have_count(0)
    assert not ui.errors


def background_html(vml: bool) -> str:
    """A cell with a CSS background image over a colour; with a VML background for Outlook."""
    fallback = (
        '<!--[if gte mso 9]><v:rect fill="true" style="width:600px;height:200px">'
        '<v:fill type="frame" src="https://img.acme.example/hero.jpg" color="#222222"/>'
        "</v:rect><![endif]-->"
        if vml
        else ""
    )
    return (
        '<!doctype html><html><body><table width="600"><tr><td style="background-image:'
        'url(https://img.acme.example/hero.jpg);background-color:#222222">'
        f'{fallback}<p style="color:#ffffff">Spring sale</p></td></tr></table></body></html>'
    )


async def test_a_client_a_fallback_covers_has_the_covered_look(ui: Session, stack: Stack) -> None:
    """A VML background draws a CSS background image in Outlook (Windows): the data says it
    lacks css-background-image, its readers get it. That cell is ↺, in its own look, and
    says why; without the VML, the background colour only makes it partial (◐, marked)."""
    page = ui.page
    feature = "css-background-image"
    outlook = "outlook.windows"
    message_id = await stack.upload(
        build_message(subject="Covered background", html=background_html(vml=True))
    )
    html = (await stack.wait_report(message_id))["checks"]["html"]
    targets = html["details"]["clients"]
    verdicts = next(f for f in html["details"]["features"] if f["slug"] == feature)["clients"]
    # The real report says so: the data's "n", what readers get "y", and why.
    assert verdicts[outlook]["data"] == "n" and verdicts[outlook]["support"] == "y"
    reasons = verdicts[outlook]["reasons"]
    assert reasons
    finding = next((f for f in html["findings"] if f["rule"] == feature), None)
    if finding is not None:
        assert outlook in {c["client"] for c in finding["data"]["covered"]}
        assert outlook not in {c["client"] for c in finding["data"]["clients"]}
    await open_message(page, stack, message_id, "qa-html")
    matrix = page.locator("#html-matrix")
    await expect(matrix).to_be_visible()
    assert await matrix.evaluate(MATRIX_CELLS) == expected_matrix(html)
    cells = matrix.locator(f'tr[data-feature="{feature}"] td.cell span')
    covered = cells.nth(targets.index(outlook))
    await expect(covered).to_have_text(COVERED_SYMBOL)
    await expect(covered).to_have_attribute("data-support", "covered")
    await expect(covered).to_have_attribute(
        "aria-label", re.compile(r"^background-image in Outlook \(Windows\): Covered ")
    )
    supported = cells.nth(targets.index("apple-mail.ios"))
    await expect(supported).to_have_text("✓")
    # Its own look: neither supported's nor the not-supported one of the data.
    look = await covered.evaluate(CELL_LOOK)
    assert look != await supported.evaluate(CELL_LOOK)
    assert look != await page.locator(".legend .badge.b-n").evaluate(CELL_LOOK)
    await expect(page.locator(".legend")).to_contain_text(f"{COVERED_SYMBOL} Covered")
    await covered.focus()  # the data's value and the reasons, on keyboard focus
    tip = page.locator("#matrix-tip")
    await expect(tip).to_be_visible()
    await expect(tip).to_contain_text("background-image in Outlook (Windows): Covered")
    await expect(tip).to_contain_text("the support data says not supported")
    for reason in reasons:
        await expect(tip).to_contain_text(reason)
    await screenshot(page, "06c-qa-html-covered")
    await covered.blur()
    await expect(tip).to_be_hidden()

    # Without the VML: the colour shows where the image does not, partial, better than "n".
    message_id = await stack.upload(
        build_message(subject="Background colour only", html=background_html(vml=False))
    )
    html = (await stack.wait_report(message_id))["checks"]["html"]
    verdict = next(f for f in html["details"]["features"] if f["slug"] == feature)["clients"][
        outlook
    ]
    assert verdict["data"] == "n" and verdict["support"] == "a"
    await open_message(page, stack, message_id, "qa-html")
    await expect(matrix).to_be_visible()
    assert await matrix.evaluate(MATRIX_CELLS) == expected_matrix(html)
    partial = matrix.locator(f'tr[data-feature="{feature}"] td.cell span').nth(
        targets.index(outlook)
    )
    await expect(partial).to_have_text("◐")
    await expect(partial).to_have_attribute("data-support", "a")
    await expect(partial).to_have_class(re.compile(r"\bfb\b"))
    await expect(partial).to_have_attribute(
        "aria-label", re.compile(r"Partial \(the support data says not supported[,)]")
    )
    for reason in verdict["reasons"]:
        await expect(partial).to_have_attribute("aria-label", re.compile(re.escape(reason)))
    assert not ui.errors


async def test_each_qa_tab_shows_its_data(ui: Session, stack: Stack, newsletter: int) -> None:
    page = ui.page
    report = await stack.wait_report(newsletter)
    await open_message(page, stack, newsletter, "overview")
    await expect(page.locator("#panel-overview .qa-card")).to_have_count(len(report["checks"]))
    # The bulk-sender requirements, as the report judged them, item by item.
    compliance = page.locator("#panel-overview .compliance")
    for profile in report["compliance"]["profiles"]:
        line = compliance.locator(f'li[data-profile="{profile["id"]}"]')
        await expect(line).to_contain_text(
            f"{profile['name']}: {profile['passed']}/{profile['total']}"
        )
        await expect(line.locator(".badge")).to_have_text(profile["status"])
    for item in report["compliance"]["items"]:
        row = compliance.locator(f'tr[data-item="{item["id"]}"]')
        await expect(row.locator(".badge")).to_have_text(item["status"])
        await expect(row).to_contain_text(item["reason"])
    await screenshot(page, "05-qa-overview")

    # HTML check: the real result of the real check on this message.
    html = report["checks"]["html"]
    scores = html["details"]["scores"]
    targets = html["details"]["clients"]
    assert "outlook.windows" in targets and "apple-mail.ios" in targets
    await page.click("#tab-qa-html")
    matrix = page.locator("#html-matrix")
    await expect(matrix.locator("th.client")).to_have_count(len(targets))
    # Display names: from the findings' client entries, else family name + platform.
    await expect(matrix.locator('th[data-client="outlook.windows"]')).to_have_text(
        "Outlook (Windows)"
    )
    await expect(matrix.locator('th[data-client="apple-mail.ios"]')).to_have_text(
        "Apple Mail (iOS)"
    )
    assert await matrix.evaluate(MATRIX_CELLS) == expected_matrix(html)
    features = html["details"]["features"]
    await expect(matrix.locator("tbody tr[data-feature]")).to_have_count(len(features))
    # Each row: its impact class, and its finding's severity when it has one.
    for feature in features:
        row = matrix.locator(f'tr[data-feature="{feature["slug"]}"]')
        await expect(row.locator("th .impact")).to_have_text(feature["impact"])
        await expect(row.locator("th .badge")).to_have_text(
            [feature["severity"]] if feature["severity"] else []
        )
    flex = matrix.locator('tr[data-feature="css-display-flex"]')
    flex_finding = next(f for f in html["findings"] if f["rule"] == "css-display-flex")
    assert flex_finding["severity"] == "error" and flex_finding["data"]["impact"] == "layout"
    await expect(flex).to_have_attribute("data-severity", "error")
    await expect(flex.locator("th .impact")).to_have_text("layout")
    outlook = flex.locator('td.cell span[aria-label^="display:flex in Outlook (Windows):"]')
    await expect(outlook).to_have_text("✕")
    apple = flex.locator('td.cell span[aria-label^="display:flex in Apple Mail (iOS):"]')
    await expect(apple).to_have_text("✓")  # not listed by the finding: supported
    gmail = flex.locator('td.cell span[aria-label^="display:flex in Gmail (Android):"]')
    # Partial by the data, for non-Google accounts only: a minor caveat, shown as covered.
    gmail_verdict = next(f for f in features if f["slug"] == "css-display-flex")["clients"]
    assert gmail_verdict["gmail.android"]["data"] == "a"
    assert gmail_verdict["gmail.android"]["support"] == "y"
    await expect(gmail).to_have_text("↺")
    await gmail.focus()  # notes on focus, not only on hover
    await expect(page.locator("#matrix-tip")).to_contain_text(
        "Not supported with non Google accounts."
    )
    # Cells a fallback, a conditional comment or a gate covers, as the report judged them.
    for feature in features:
        for client, verdict in feature["clients"].items():
            if verdict_symbol(verdict) != COVERED_SYMBOL:
                continue
            cell = matrix.locator(f'tr[data-feature="{feature["slug"]}"] td.cell span').nth(
                targets.index(client)
            )
            await expect(cell).to_have_attribute("data-support", "covered")
            for reason in verdict["reasons"]:
                await expect(cell).to_have_attribute("aria-label", re.compile(re.escape(reason)))
    assert scores["verdict"] == html["score"]
    await expect(page.locator("#html-verdict")).to_contain_text(
        f"HTML score: {score_text(scores['verdict'])}"
    )
    if any(f["severity"] == "error" for f in html["findings"]):
        await expect(page.locator("#html-verdict")).to_contain_text("at most 60")
    await expect(page.locator("#html-scores")).to_contain_text(
        f"Market-weighted support: {js_round(scores['overall'])}%"
    )
    score_row = matrix.locator("tr.scores td:not(:first-child)")
    want = [str(js_round(scores["by_client"][t])) for t in targets]
    assert (await score_row.all_text_contents())[1:] == want
    verdict_row = matrix.locator("tr.verdicts td:not(:first-child)")
    want = [str(js_round(scores["verdict_by_client"][t])) for t in targets]
    assert (await verdict_row.all_text_contents())[1:] == want
    await expect(page.locator("#html-scores")).to_contain_text("Support per client family")
    outlook_score = js_round(scores["by_client"]["outlook.windows"])
    await expect(
        page.locator('#client-scores [role="listitem"][aria-label^="Outlook (Windows): "]')
    ).to_have_attribute("aria-label", f"Outlook (Windows): {outlook_score}%")
    await screenshot(page, "06-qa-html-matrix")

    await page.click("#tab-qa-spam")
    await expect(page.locator("#spam-score")).to_contain_text("threshold")
    assert await page.locator("#spam-rules tbody tr").count() >= 1
    await screenshot(page, "07-qa-spam")

    # Blacklists: the real check against the lab's lists (the IP is on IPBL).
    lookups = report["checks"]["blacklist"]["details"]["results"]
    await page.click("#tab-qa-blacklist")
    table = page.locator("#blacklist-table")
    await expect(table.locator("tbody tr")).to_have_count(len(lookups))
    listed = table.locator('tr[data-status="listed"]')
    await expect(listed).to_have_count(1)
    await expect(listed).to_contain_text("ipbl.test")
    await expect(listed).to_contain_text(LISTED_IP)
    await expect(listed).to_contain_text("127.0.0.4 (exploited host)")
    await expect(listed).to_contain_text("Listed for spam, see https://ipbl.test/99")
    delist = listed.locator("a", has_text="ipbl.test/delist")
    await expect(delist).to_have_attribute("href", "https://ipbl.test/delist")
    await expect(table.locator('tr[data-status="clean"] a')).to_have_count(0)  # not listed
    await expect(table.locator('tr[data-status="unusable"]').first).to_contain_text("DEADBL")
    await expect(page.locator("#panel-qa-blacklist")).to_contain_text(
        "Lists that could not be used"
    )
    await screenshot(page, "08-qa-blacklists")

    # Authentication: the real check on the DKIM-signed message, keys published in the lab.
    await page.click("#tab-qa-auth")
    for part, word, reason in (
        ("spf", "pass", "matched ip4:11.22.33.0/24"),
        ("dkim", "pass", "1 signature(s)"),
        ("dmarc", "pass", "aligned SPF and DKIM pass"),
        ("arc", "none", "no ARC headers"),
    ):
        section = page.locator(f'[data-auth="{part}"]')
        await expect(section.locator(".badge").first).to_have_text(word)
        await expect(section.locator(".reason").first).to_have_text(reason)
    signature = page.locator('[data-auth="dkim"] .signature')
    await expect(signature.locator("h4")).to_have_text("Signature 1 · d=good.example · s=sel")
    await expect(signature).to_contain_text("signature verified")
    await expect(signature).to_contain_text("aligned with From: yes")
    await expect(signature).to_contain_text("2048 bits")
    alignment = page.locator('[data-auth="dmarc"] .alignment')
    await expect(alignment).to_contain_text("SPF aligned (relaxed): yes")
    await expect(alignment).to_contain_text("DKIM aligned (relaxed): yes")
    await expect(page.locator('[data-auth="posture"] .badge').first).to_have_text("fail")
    await expect(page.locator("#auth-results")).to_contain_text("dkim=pass header.d=good.example")
    await screenshot(page, "09-qa-auth")

    await page.click("#tab-qa-links")
    links = page.locator("#links-table")
    await expect(links).to_contain_text("https://shop.acme.example/sale")
    await expect(links.locator("tr", has_text="shop.acme.example")).to_contain_text(
        "cannot resolve shop.acme.example"
    )
    await expect(links.locator("tr", has_text="pixel.png").locator(".badge")).to_have_text("200")
    await screenshot(page, "10-qa-links")

    await page.click("#tab-qa-hygiene")
    await expect(page.locator("#panel-qa-hygiene .finding").first).to_be_visible()
    await expect(page.locator("#panel-qa-hygiene")).to_contain_text("Tracking pixel")
    await page.click("#tab-qa-headers")
    await expect(page.locator("#panel-qa-headers h2")).to_have_text("Header checks")
    assert not ui.errors


async def test_links_tab_shows_http_status_and_redirects(
    ui: Session, stack: Stack, server: LocalHttpServer
) -> None:
    """The links check reaches a real HTTP server on (allow-listed) loopback."""
    urls = {
        name: server.url(path)
        for name, path in (
            ("ok", "/ok"),
            ("chain", "/chain"),
            ("missing", "/404"),
            ("failing", "/500"),
        )
    }
    html = "".join(f'<p><a href="{url}">{name}</a></p>' for name, url in urls.items())
    message_id = await stack.upload(build_message(subject="Links 5e1d", html=html))
    details = (await stack.wait_report(message_id))["checks"]["links"]["details"]
    assert details["http_validated"] and details["http_checked"] == len(urls)
    page = ui.page
    await open_message(page, stack, message_id, "qa-links")
    table = page.locator("#links-table")

    def row(name: str) -> Locator:
        return table.locator("tbody tr", has=page.locator(f'a[href="{urls[name]}"]'))

    await expect(row("ok").locator(".badge")).to_have_text("200")
    await expect(row("missing").locator(".badge")).to_have_text("404")
    await expect(row("failing").locator(".badge")).to_have_text("500")
    chain = row("chain")
    await expect(chain.locator(".badge")).to_have_text("200")
    await expect(chain.locator("ol li")).to_have_text(
        [f"302 {urls['chain']}", f"301 {server.url('/moved')}", f"→ {urls['ok']}"]
    )
    await expect(page.locator("#panel-qa-links")).to_contain_text("checked over HTTP")
    await expect(page.locator("#panel-qa-links .finding").first).to_be_visible()
    await screenshot(page, "13-qa-links-http")
    assert not ui.errors


async def test_a_project_token_sees_only_its_own_inboxes(browser: Browser, stack: Stack) -> None:
    async with stack.api() as c:
        project = (await c.post("/api/v1/projects", json={"name": "Receipts"})).json()
        inbox = (
            await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "Billing"})
        ).json()
        scoped = {"name": "receipts-ui", "project_id": project["id"]}
        token = (await c.post("/api/v1/tokens", json=scoped)).json()
    other_id = await stack.upload(build_message(subject="Staging only 0b7e"))
    own_id = await stack.upload(build_message(subject="Billing only 44c1"), inbox_id=inbox["id"])
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(f"{stack.base_url}/login")
        await page.fill("#token", token["token"])
        await page.click("button[type=submit]")
        nav = page.locator("#nav-tree")
        await expect(nav.locator("a.inbox")).to_have_count(1)
        await expect(nav.locator("a.inbox")).to_have_text(re.compile("Billing"))
        await expect(nav).to_contain_text("Receipts")
        await expect(nav).not_to_contain_text("Staging")
        await expect(nav).not_to_contain_text("Newsletters")
        await page.goto(f"{stack.base_url}/#/inbox/{inbox['id']}")
        await expect(page.locator("#messages li", has_text="Billing only 44c1")).to_be_visible()
        await screenshot(page, "14-project-token")
        # The other project's inbox and message are not there for this token.
        await page.goto(f"{stack.base_url}/#/inbox/{stack.inbox['id']}")
        await expect(page.locator("#main [role=alert]")).to_be_visible()
        await expect(page.locator("#main")).not_to_contain_text("Staging only 0b7e")
        await page.goto(f"{stack.base_url}/#/message/{other_id}/preview")
        await expect(page.locator("#main [role=alert]")).to_be_visible()
        await expect(page.locator("#main")).not_to_contain_text("Staging only 0b7e")
        await page.goto(f"{stack.base_url}/#/message/{own_id}/preview")
        await expect(page.locator("#msg-subject")).to_have_text("Billing only 44c1")
    finally:
        await context.close()
        async with stack.api() as c:
            await c.delete(f"/api/v1/tokens/{token['id']}")
            await c.delete(f"/api/v1/projects/{project['id']}")
            await c.delete(f"/api/v1/messages/{other_id}")


async def test_a_finding_jumps_to_its_source_line(
    ui: Session, stack: Stack, newsletter: int
) -> None:
    page = ui.page
    await open_message(page, stack, newsletter, "qa-html")
    flex = page.locator('#panel-qa-html .finding:has(.rule:text-is("css-display-flex"))')
    await flex.locator("button", has_text=f"line {FLEX_LINE}").click()
    await expect(page.locator("#tab-source")).to_have_attribute("aria-selected", "true")
    line = page.locator(f"#L{FLEX_LINE}")
    await expect(line).to_have_class(re.compile(r"\bhl\b"))
    await expect(line).to_have_attribute("aria-current", "location")
    await expect(line.locator("code")).to_have_text("    display:flex;")
    await expect(line).to_be_in_viewport()
    assert await page.locator("li.hl").count() == 1
    assert page.url.endswith(f"/source/L{FLEX_LINE}")
    await screenshot(page, "11-source-line")
    # Another jump, from the hygiene tab, moves the highlight.
    await page.click("#tab-qa-hygiene")
    pixel = page.locator("#panel-qa-hygiene button", has_text=f"line {PIXEL_LINE}")
    await expect(pixel).to_have_text(f"line {PIXEL_LINE}:9")  # columns count from 1
    await pixel.click()
    await expect(page.locator(f"#L{PIXEL_LINE}")).to_have_class(re.compile("hl"))
    assert await page.locator("li.hl").count() == 1


async def test_rerun_analysis_refreshes_the_report(ui: Session, stack: Stack) -> None:
    page = ui.page
    message_id = await stack.upload(build_message(subject="Re-run me", html="<p>x</p>"))
    before = (await stack.wait_report(message_id))["created_at"]
    await open_message(page, stack, message_id, "overview")
    await expect(page.locator("#panel-overview .qa-card").first).to_be_visible()
    await page.click("#rerun")
    await expect(page.locator("#toast")).to_have_text("Analysis finished")
    after = (await stack.wait_report(message_id))["created_at"]
    assert after != before
    await expect(page.locator("#panel-overview")).to_be_visible()
    assert not ui.errors


async def test_delete_removes_the_message(ui: Session, stack: Stack) -> None:
    page = ui.page
    message_id = await stack.upload(build_message(subject="Delete me 91c2"))
    await open_message(page, stack, message_id)
    await page.click("#delete")
    await expect(page.locator("#confirm")).to_be_visible()
    await page.click("#confirm-ok")
    await expect(page).to_have_url(f"{stack.base_url}/#/inbox/{stack.inbox['id']}")
    await expect(page.locator("#messages")).not_to_contain_text("Delete me 91c2")
    async with stack.api() as c:
        assert (await c.get(f"/api/v1/messages/{message_id}")).status_code == 404
    assert ui.dialogs == []  # the in-page dialog, not window.confirm


CONTRAST = """
() => {
  const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const css = getComputedStyle(document.documentElement);
  const v = (n) => {
    const d = document.createElement("span");
    d.style.color = css.getPropertyValue(n);
    document.body.append(d);
    const c = getComputedStyle(d).color;
    d.remove();
    return c;
  };
  return { text: ratio(v("--text"), v("--surface")), muted: ratio(v("--muted"), v("--surface")),
           mutedBg: ratio(v("--muted"), v("--bg")), accent: ratio(v("--accent"), v("--surface")) };
}
"""

UNNAMED = """
() => [...document.querySelectorAll("button, a[href], input, [role=tab], [tabindex='0']")]
  .filter((el) => el.offsetParent !== null)
  .filter((el) => !(el.getAttribute("aria-label") || el.textContent.trim() || el.title ||
                    (el.labels && el.labels.length) || el.getAttribute("placeholder")))
  .map((el) => el.outerHTML.slice(0, 80))
"""


@pytest.mark.parametrize("theme", ["light", "dark"])
async def test_keyboard_labels_contrast_and_themes(
    ui: Session, stack: Stack, newsletter: int, theme: str
) -> None:
    page = ui.page
    await open_message(page, stack, newsletter, "preview")
    if theme == "dark":
        await page.click("#theme-toggle")
        assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
        await expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", "true")
    # Arrow keys walk the tabs; the selected tab is the only one in the tab order.
    await page.focus("#tab-preview")
    await page.keyboard.press("ArrowRight")
    await expect(page.locator("#tab-text")).to_be_focused()
    await expect(page.locator("#tab-text")).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("End")
    assert await page.locator('[role="tab"][tabindex="0"]').count() == 1
    await page.keyboard.press("Home")
    await expect(page.locator("#tab-preview")).to_be_focused()
    ratios = await page.evaluate(CONTRAST)
    assert ratios["text"] >= 7, ratios
    assert ratios["muted"] >= 4.5 and ratios["mutedBg"] >= 4.5, ratios
    assert ratios["accent"] >= 4.5, ratios
    assert await page.evaluate(UNNAMED) == []
    await page.goto(f"{stack.base_url}/#/inbox/{stack.inbox['id']}")
    await expect(page.locator("#messages .msg-link").first).to_be_visible()
    # The message list is reachable and walkable from the keyboard.
    await page.locator("#messages .msg-link").first.focus()
    await page.keyboard.press("ArrowDown")
    focused = await page.evaluate("document.activeElement.className")
    assert "msg-link" in focused
    await page.keyboard.press("Enter")
    await expect(page.locator("#msg-subject")).to_be_visible()
    if theme == "dark":
        await page.goto(f"{stack.base_url}/#/message/{newsletter}/qa-html")
        await expect(page.locator("#html-matrix")).to_be_visible()
        await screenshot(page, "12-dark-html-matrix")
    assert not ui.errors


async def test_theme_follows_the_system_until_chosen(ui: Session, stack: Stack) -> None:
    page = ui.page
    theme = "document.documentElement.dataset.theme"
    await page.emulate_media(color_scheme="dark")
    await page.goto(f"{stack.base_url}/")
    assert await page.evaluate(theme) == "dark"
    await page.emulate_media(color_scheme="light")
    await expect(page.locator("html")).to_have_attribute("data-theme", "light")
    await page.click("#theme-toggle")  # an explicit choice outlives system changes
    assert await page.evaluate(theme) == "dark"
    await page.emulate_media(color_scheme="light")
    await page.reload()
    assert await page.evaluate(theme) == "dark"
    assert not ui.errors


async def test_the_accessibility_tab_lists_findings_review_and_jumps_to_the_source(
    ui: Session, stack: Stack, newsletter: int
) -> None:
    page = ui.page
    report = await stack.wait_report(newsletter)
    a11y = report["checks"]["accessibility"]
    rules = {f["rule"] for f in a11y["findings"]}
    # The newsletter has no lang, layout tables without a role and a logo without alt.
    assert {
        "accessibility.html-lang-missing",
        "accessibility.layout-table-role",
        "accessibility.img-alt-missing",
    } <= rules
    await open_message(page, stack, newsletter, "qa-accessibility")
    findings = page.locator("#a11y-findings > li")
    await expect(findings).to_have_count(len(a11y["findings"]))
    assert set(await findings.evaluate_all("els => els.map(e => e.dataset.rule)")) == rules
    lang = page.locator('#a11y-findings li[data-rule="accessibility.html-lang-missing"]')
    await expect(lang.locator(".a11y-criterion")).to_have_text(
        "WCAG 2.2 3.1.1 Language of Page (A)"
    )
    # The overlay: the target clients that strip or drop the fix, from the finding's data.
    lang_finding = next(
        f for f in a11y["findings"] if f["rule"] == "accessibility.html-lang-missing"
    )
    for client in lang_finding["data"]["clients"]:
        await expect(lang.locator(".a11y-clients")).to_contain_text(client["name"])
    serious = sum(f["data"]["impact"] == "serious" for f in a11y["findings"])
    await expect(page.locator('#a11y-summary [data-impact="serious"] .badge')).to_have_text(
        str(serious)
    )
    await screenshot(page, "13-qa-accessibility")
    alt = page.locator('#a11y-findings li[data-rule="accessibility.img-alt-missing"]')
    await alt.locator("button", has_text=f"line {IMG_LINE}").click()
    await expect(page.locator("#tab-source")).to_have_attribute("aria-selected", "true")
    line = page.locator(f"#L{IMG_LINE}")
    await expect(line).to_have_class(re.compile(r"\bhl\b"))
    await expect(line.locator("code")).to_contain_text('<img src="cid:logo@acme"')
    assert page.url.endswith(f"/source/L{IMG_LINE}")
    assert not ui.errors


GREY_HTML = """<!doctype html>
<html lang="en"><head><title>Grey</title>
<style>:root { --muted: #cccccc; } .muted { color: var(--muted); }</style></head>
<body><div lang="en"><h1>Grey</h1>
<p class="muted">Light grey text only a render can judge.</p>
<img src="cid:nothing@acme">
</div></body></html>
"""


async def test_the_accessibility_tab_says_what_axe_core_found_in_the_render(
    ui: Session, stack: Stack
) -> None:
    from mailqa.checks.accessibility.axe import AxeAudit, AxeNode, AxeViolation, merge_axe

    page = ui.page
    message_id = await stack.upload(build_message(subject="Grey", html=GREY_HTML))
    await stack.wait_report(message_id)
    store = stack.service.store
    stored = await store.get_report(message_id)
    assert stored is not None
    audit = AxeAudit(
        version="4.14.1",
        variant="emulated: desktop 600px",
        violations=[
            AxeViolation(
                id="color-contrast",
                impact="serious",
                help="Elements must meet minimum color contrast ratio thresholds",
                nodes=[AxeNode(line=5, column=1, contrast=1.61, expected=4.5)],
            ),
            AxeViolation(id="image-alt", impact="critical", nodes=[AxeNode(line=6, column=1)]),
        ],
    )
    merged = stored.merged([merge_axe(stored.checks["accessibility"], audit)])
    row = await store.get_message(message_id)
    await store.save_report(message_id, row.uid, merged)
    await open_message(page, stack, message_id, "qa-accessibility")
    contrast = page.locator('#a11y-findings li[data-rule="accessibility.color-contrast"]')
    await expect(contrast.locator(".a11y-source")).to_have_text("axe-core (rendered)")
    await expect(contrast.locator(".a11y-confirmed")).to_have_count(0)
    alt = page.locator('#a11y-findings li[data-rule="accessibility.img-alt-missing"]')
    await expect(alt.locator(".a11y-confirmed")).to_have_text("confirmed by axe-core")
    await expect(alt.locator(".a11y-source")).to_have_count(0)
    assert not ui.errors


REVIEW_HTML = """<!doctype html>
<html lang="en">
<head><title>Trail news</title></head>
<body>
<div lang="en">
<h1>Trail news</h1>
<img src="https://cdn.acme.example/boots.png" alt="Boots on a muddy trail" width="600" height="300">
<table role="presentation"><tr>
<td background="https://cdn.acme.example/bg.jpg" style="color:#ffffff">Text on a picture</td>
</tr></table>
</div>
</body>
</html>
"""


async def test_the_accessibility_tab_lists_what_needs_review_apart(
    ui: Session, stack: Stack
) -> None:
    page = ui.page
    message_id = await stack.upload(build_message(subject="Trail news", html=REVIEW_HTML))
    report = await stack.wait_report(message_id)
    a11y = report["checks"]["accessibility"]
    review = a11y["details"]["needs_review"]
    assert {item["kind"] for item in review} >= {"alt-text", "contrast", "language"}
    await open_message(page, stack, message_id, "qa-accessibility")
    items = page.locator("#a11y-review > li")
    await expect(items).to_have_count(len(review))
    await expect(page.locator('#a11y-summary [data-impact="review"] .badge')).to_have_text(
        str(a11y["details"]["needs_review_total"])
    )
    # Nothing here is a finding: the unknown contrast is a question, not a guess.
    assert "accessibility.color-contrast" not in {f["rule"] for f in a11y["findings"]}
    contrast = items.filter(has=page.locator('.badge:text-is("contrast")'))
    await expect(contrast.locator(".title")).to_contain_text("background image")
    await contrast.locator("button", has_text="line 9").click()
    await expect(page.locator("#L9")).to_have_class(re.compile(r"\bhl\b"))
    assert not ui.errors
