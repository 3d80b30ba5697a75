"""The html report section over the HTTP API: GET /api/v1/messages/{id}/report/html."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import create_engine, update
from tests.support.stack import Running, base_settings, start_stack

from mailqa.checks.html import HtmlDetails, analyse_html
from mailqa.store.models import StoredReport

TARGETS = ["outlook.windows", "apple-mail.*"]
HTML = (
    "<!DOCTYPE html>\n"
    "<html><head><style>\n"
    "  .card { display: flex }\n"
    "</style></head>\n"
    '<body><h2 style="font-family: &quot;A B&quot;; border-radius: 4px">Hi</h2></body></html>\n'
)


@pytest_asyncio.fixture(scope="module")
async def html_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    settings = base_settings(
        Path(tmp_path_factory.mktemp("mailqa-html")), checks=["html"], html_targets=TARGETS
    )
    async with start_stack(settings) as stack:
        yield stack


def message() -> bytes:
    msg = EmailMessage()
    msg["From"] = "news@shop.example"
    msg["To"] = "user@example.com"
    msg["Subject"] = "Newsletter"
    msg.set_content("plain")
    msg.add_alternative(HTML, subtype="html")
    return bytes(msg)


async def upload_analysed(c: httpx.AsyncClient, name: str) -> int:
    """The sample message uploaded to a new inbox, once its analysis is stored: its id."""
    project = (await c.post("/api/v1/projects", json={"name": name})).json()
    inbox = (await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": name})).json()
    uploaded = await c.post(
        f"/api/v1/inboxes/{inbox['id']}/messages",
        content=message(),
        headers={"Content-Type": "message/rfc822"},
    )
    mid: int = uploaded.json()["id"]
    latest = await c.get(
        f"/api/v1/inboxes/{inbox['id']}/messages/latest", params={"wait": 60, "analyzed": 1}
    )
    assert latest.json()["id"] == mid
    return mid


async def test_report_html_section(html_stack: Running) -> None:
    async with html_stack.client() as c:
        mid = await upload_analysed(c, "html")
        response = await c.get(f"/api/v1/messages/{mid}/report/html")
        assert response.status_code == 200, response.text
        section = response.json()
        missing = await c.get(f"/api/v1/messages/{mid}/report/hygiene")
        assert missing.status_code == 404
        unauthenticated = await html_stack.client(token="").get(
            f"/api/v1/messages/{mid}/report/html"
        )
        assert unauthenticated.status_code == 401

    assert section["name"] == "html"
    # The same analysis as the library call on the same HTML and targets.
    direct = analyse_html(HTML, TARGETS)
    assert section["score"] == direct.details.scores.verdict
    errors = any(f.severity == "error" for f in direct.findings)
    assert section["status"] == ("failed" if errors or section["score"] < 70 else "warning")
    details = HtmlDetails.model_validate(section["details"])
    assert details.targets == TARGETS
    assert details.clients == ["apple-mail.ios", "apple-mail.macos", "outlook.windows"]
    by_rule = {f["rule"]: f for f in section["findings"]}
    assert set(by_rule) == {f.rule for f in direct.findings}
    flex = by_rule["css-display-flex"]
    assert flex["severity"] == "error"
    assert flex["url"] == "https://www.caniemail.com/features/css-display-flex/"
    line3 = HTML.split("\n")[2]
    assert [(loc["line"], loc["column"]) for loc in flex["locations"]] == [
        (3, line3.index("flex") + 1)
    ]
    assert [c["client"] for c in flex["data"]["clients"]] == ["outlook.windows"]
    radius = by_rule["css-border-radius"]
    line5 = HTML.split("\n")[4]
    assert [(loc["line"], loc["column"]) for loc in radius["locations"]] == [
        (5, line5.index("border-radius") + 1)
    ]
    # Clients without data are said explicitly (none for these targets and features).
    assert [(f.slug, f.no_data) for f in details.features] == [
        (f.slug, f.no_data) for f in direct.details.features
    ]
    assert all(f["data"]["no_data"] == [] for f in section["findings"])
    assert all("no_data" in f for f in section["details"]["features"])


async def test_a_report_stored_by_a_1x_version_is_served_with_columns_from_1(
    html_stack: Running,
) -> None:
    """Reports of schema 1.x counted columns from 0; stored ones read as the current schema."""
    async with html_stack.client() as c:
        mid = await upload_analysed(c, "columns")
        current = (await c.get(f"/api/v1/messages/{mid}/report")).json()
        assert current["schema_version"] == "2.0"
        findings = current["checks"]["html"]["findings"]
        flex = next(f for f in findings if f["rule"] == "css-display-flex")
        assert flex["locations"][0]["column"] == HTML.split("\n")[2].index("flex") + 1
        old = json.loads(json.dumps(current))
        old["schema_version"] = "1.0"
        for finding in old["checks"]["html"]["findings"]:
            for loc in finding["locations"]:
                if loc.get("column") is not None:
                    loc["column"] -= 1
        engine = create_engine(html_stack.service.store.url)
        with engine.begin() as conn:  # a single small write: the loop can wait for it
            conn.execute(
                update(StoredReport).where(StoredReport.message_id == mid).values(data=old)
            )
        engine.dispose()
        served = (await c.get(f"/api/v1/messages/{mid}/report")).json()
    assert served == current
