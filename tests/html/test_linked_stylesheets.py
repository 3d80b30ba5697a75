"""Linked stylesheets: off by default; when on, fetched through the SSRF-safe fetcher."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from tests.links.local_http import LocalHttpServer

from mailqa.checks.html import HtmlCheck
from mailqa.core.message import ParsedMessage
from mailqa.net.http.fetcher import LinkFetcher, fetcher_config
from mailqa.resources import check_context
from mailqa.settings import Settings


def message(html: str) -> ParsedMessage:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["Subject"] = "styles"
    msg.set_content("text")
    msg.add_alternative(html, subtype="html")
    return ParsedMessage(msg.as_bytes())


async def run(msg: ParsedMessage, *, fetch: bool, allow: list[str]) -> dict[str, Any]:
    settings = Settings(html_fetch_stylesheets=fetch, link_allow=allow, html_targets=["*"])
    async with LinkFetcher(fetcher_config(settings)) as http:
        ctx = check_context(settings, offline=False)
        ctx.http = http
        result = await HtmlCheck().run(msg, ctx)
    return {"slugs": {f.rule for f in result.findings}, "result": result}


async def test_linked_sheet_is_checked_when_enabled(server: LocalHttpServer) -> None:
    html = (
        '<html><head>\n<link rel="stylesheet" href="{}">\n</head><body><p>hi</p></body></html>'
    ).format(server.url("/css/main.css"))
    msg = message(html)
    off = await run(msg, fetch=False, allow=["127.0.0.1/32"])
    assert "css-display-flex" not in off["slugs"]
    assert off["result"].details["stylesheets"] == []
    assert server.count("/css/main.css") == 0

    on = await run(msg, fetch=True, allow=["127.0.0.1/32"])
    assert {"css-display-flex", "css-at-media-prefers-color-scheme"} <= on["slugs"]
    [sheet] = on["result"].details["stylesheets"]
    assert sheet["status_code"] == 200 and sheet["line"] == 2 and sheet["chars"] > 0
    flex = next(f for f in on["result"].findings if f.rule == "css-display-flex")
    assert flex.locations[0].line == 2  # reported at the <link> that pulls the sheet in


async def test_linked_sheet_on_a_private_address_is_refused(server: LocalHttpServer) -> None:
    msg = message(f'<link rel="stylesheet" href="{server.url("/css/private.css")}"><p>x</p>')
    on = await run(msg, fetch=True, allow=[])
    [sheet] = on["result"].details["stylesheets"]
    assert "loopback address (SSRF protection" in sheet["error"]
    assert "css-display-flex" not in on["slugs"]
    assert server.count("/css/private.css") == 0
