"""The native v1 API over real HTTP (uvicorn) with the real database."""

from __future__ import annotations

import asyncio
import hashlib
from email.message import EmailMessage
from typing import Any

import httpx
from tests.support.messages import make_message
from tests.support.stack import Running


async def make_inbox(c: httpx.AsyncClient, name: str = "api") -> dict[str, Any]:
    project = (await c.post("/api/v1/projects", json={"name": name})).json()
    r = await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": name})
    inbox: dict[str, Any] = r.json()
    return inbox


async def upload(c, inbox_id: int, raw: bytes, **params: str):  # type: ignore[no-untyped-def]
    return await c.post(
        f"/api/v1/inboxes/{inbox_id}/messages",
        content=raw,
        params=params,
        headers={"Content-Type": "message/rfc822"},
    )


def with_attachment() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Billing <billing@shop.example>"
    msg["To"] = "customer@example.com"
    msg["Subject"] = "Your invoice"
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = "<inv-1@shop.example>"
    msg.set_content("Invoice attached.")
    msg.add_alternative("<p>Invoice <b>attached</b>.</p>", subtype="html")
    msg.add_attachment(
        b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="invoice é.pdf"
    )
    return msg.as_bytes()


async def test_auth_is_required_and_both_header_styles_work(running: Running) -> None:
    async with running.client(token="") as c:
        r = await c.get("/api/v1/projects")
        assert r.status_code == 401
        assert r.json()["error"] == "invalid_or_expired_token"
        r = await c.get("/api/v1/projects", headers={"Api-Token": running.token})
        assert r.status_code == 200
        r = await c.get("/api/v1/projects", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401


async def test_projects_and_inboxes_crud(running: Running) -> None:
    async with running.client() as c:
        p = (await c.post("/api/v1/projects", json={"name": "crud"})).json()
        assert (await c.patch(f"/api/v1/projects/{p['id']}", json={"name": "renamed"})).json()[
            "name"
        ] == "renamed"
        inbox = (await c.post(f"/api/v1/projects/{p['id']}/inboxes", json={"name": "one"})).json()
        assert inbox["quota_bytes"] == 100 * 1024 * 1024
        assert inbox["smtp"]["port"] == running.smtp_port
        old_password = inbox["smtp"]["password"]
        reset = (await c.post(f"/api/v1/inboxes/{inbox['id']}/reset_credentials")).json()
        assert reset["smtp"]["password"] != old_password
        patched = (await c.patch(f"/api/v1/inboxes/{inbox['id']}", json={"name": "two"})).json()
        assert patched["name"] == "two"
        listed = (await c.get("/api/v1/inboxes", params={"project_id": p["id"]})).json()
        assert [i["id"] for i in listed] == [inbox["id"]]
        assert (await c.delete(f"/api/v1/inboxes/{inbox['id']}")).status_code == 204
        assert (await c.get(f"/api/v1/inboxes/{inbox['id']}")).status_code == 404
        assert (await c.delete(f"/api/v1/projects/{p['id']}")).status_code == 204
        r = await c.get(f"/api/v1/projects/{p['id']}")
        assert r.status_code == 404 and r.json()["error"] == "not_found"


async def test_project_scoped_token_sees_only_its_project(running: Running) -> None:
    async with running.client() as admin:
        mine = await make_inbox(admin, "mine")
        other = await make_inbox(admin, "other")
        t = (
            await admin.post(
                "/api/v1/tokens", json={"name": "scoped", "project_id": mine["project_id"]}
            )
        ).json()
    async with running.client(token=t["token"]) as c:
        assert (await c.get(f"/api/v1/inboxes/{mine['id']}")).status_code == 200
        r = await c.get(f"/api/v1/inboxes/{other['id']}")
        assert r.status_code == 404
        assert {i["id"] for i in (await c.get("/api/v1/inboxes")).json()} == {mine["id"]}
        assert (await c.post("/api/v1/projects", json={"name": "x"})).status_code == 403


async def test_upload_detail_bodies_attachments_and_raw(running: Running) -> None:
    raw = with_attachment()
    async with running.client() as c:
        inbox = await make_inbox(c)
        r = await upload(
            c,
            inbox["id"],
            raw,
            client_ip="203.0.113.9",
            mail_from="b@shop.example",
            helo="mx.shop.example",
        )
        assert r.status_code == 201, r.text
        mid = r.json()["id"]
        d = (await c.get(f"/api/v1/messages/{mid}")).json()
        assert d["subject"] == "Your invoice"
        assert d["text_body"].strip() == "Invoice attached."
        assert "<b>attached</b>" in d["html_body"]
        assert d["envelope"] == {
            "mail_from": "b@shop.example",
            "rcpt_to": [],
            "client_ip": "203.0.113.9",
            "helo": "mx.shop.example",
            "smtp_tls": None,  # uploaded, not received over SMTP
        }
        assert any(h["name"] == "Message-ID" for h in d["headers"])
        [att] = d["attachments"]
        assert att["filename"] == "invoice é.pdf" and att["content_type"] == "application/pdf"
        assert att["transfer_encoding"] == "base64"
        a = await c.get(f"/api/v1/messages/{mid}/attachments/0")
        assert a.content == b"%PDF-1.4 fake"
        assert a.headers["content-type"] == "application/pdf"
        assert "filename*=UTF-8''invoice%20%C3%A9.pdf" in a.headers["content-disposition"]
        missing = await c.get(f"/api/v1/messages/{mid}/attachments/5")
        assert missing.status_code == 404 and missing.json()["error"] == "attachment_not_found"
        got = await c.get(f"/api/v1/messages/{mid}/raw")
        assert got.content == raw
        assert got.headers["content-type"] == "message/rfc822"
        bad_ip = await upload(c, inbox["id"], raw, client_ip="not-an-ip")
        assert bad_ip.status_code == 422


async def test_list_filters_pagination_read_state_and_purge(running: Running) -> None:
    async with running.client() as c:
        inbox = await make_inbox(c)
        for i in range(5):
            await upload(c, inbox["id"], make_message(f"Order {i}" if i % 2 else f"Reset {i}"))
        page = (
            await c.get(f"/api/v1/inboxes/{inbox['id']}/messages", params={"per_page": 2})
        ).json()
        assert page["total"] == 5 and [m["subject"] for m in page["messages"]] == [
            "Reset 4",
            "Order 3",
        ]
        page2 = (
            await c.get(
                f"/api/v1/inboxes/{inbox['id']}/messages", params={"per_page": 2, "page": 3}
            )
        ).json()
        assert [m["subject"] for m in page2["messages"]] == ["Reset 0"]
        orders = (
            await c.get(f"/api/v1/inboxes/{inbox['id']}/messages", params={"subject": "order"})
        ).json()
        assert {m["subject"] for m in orders["messages"]} == {"Order 1", "Order 3"}
        none = (
            await c.get(f"/api/v1/inboxes/{inbox['id']}/messages", params={"from": "nobody@x"})
        ).json()
        assert none["total"] == 0
        mid = page["messages"][0]["id"]
        assert (await c.patch(f"/api/v1/messages/{mid}", json={"is_read": True})).json()["is_read"]
        assert (await c.post(f"/api/v1/inboxes/{inbox['id']}/all_read")).json()["count"] == 4
        assert (await c.delete(f"/api/v1/inboxes/{inbox['id']}/messages")).json()["count"] == 5
        assert (await c.get(f"/api/v1/inboxes/{inbox['id']}")).json()["used_bytes"] == 0


async def test_reports_sections_and_reanalysis(running: Running) -> None:
    async with running.client() as c:
        inbox = await make_inbox(c)
        raw = make_message("No date here").replace(
            b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n", b""
        )
        mid = (await upload(c, inbox["id"], raw)).json()["id"]
        latest = await c.get(
            f"/api/v1/inboxes/{inbox['id']}/messages/latest", params={"wait": 60, "analyzed": 1}
        )
        assert latest.json()["id"] == mid
        report = (await c.get(f"/api/v1/messages/{mid}/report")).json()
        assert report["schema_version"] and report["status"] == "failed"
        rules = [f["rule"] for f in report["checks"]["headers"]["findings"]]
        assert "headers.date-missing" in rules
        section = (await c.get(f"/api/v1/messages/{mid}/report/headers")).json()
        assert section["name"] == "headers" and section["status"] == "failed"
        missing = await c.get(f"/api/v1/messages/{mid}/report/nosuch")
        assert missing.status_code == 404 and missing.json()["error"] == "check_not_found"
        again = await c.post(f"/api/v1/messages/{mid}/analyze", params={"checks": "headers"})
        assert again.status_code == 200 and again.json()["checks"]["headers"]["status"] == "failed"
        bad = await c.post(f"/api/v1/messages/{mid}/analyze", params={"checks": "bogus"})
        assert bad.status_code == 422


async def test_wait_for_mail_long_polls_until_it_arrives(running: Running) -> None:
    async with running.client() as c:
        inbox = await make_inbox(c)
        waiter = asyncio.create_task(
            c.get(
                f"/api/v1/inboxes/{inbox['id']}/messages/latest",
                params={"wait": 60, "subject": "Password reset"},
            )
        )
        await asyncio.sleep(0.3)
        await upload(c, inbox["id"], make_message("Unrelated"))
        await upload(c, inbox["id"], make_message("Password reset for you"))
        r = await waiter
        assert r.status_code == 200 and r.json()["subject"] == "Password reset for you"
        timeout = await c.get(
            f"/api/v1/inboxes/{inbox['id']}/messages/latest",
            params={"wait": 0.2, "subject": "never"},
        )
        assert timeout.status_code == 404


async def test_health_metrics_openapi_and_schema(running: Running) -> None:
    async with running.client() as c:
        assert (await c.get("/healthz")).json() == {"status": "ok"}
        assert (await c.get("/readyz")).json() == {"status": "ready"}
        metrics = (await c.get("/metrics")).text
        assert "mailqa_messages_captured_total" in metrics
        assert "mailqa_check_duration_seconds" in metrics
        spec = (await c.get("/openapi.json")).json()
        assert "Report" in spec["components"]["schemas"]
        assert "/pro/api/sandbox/messages" in spec["paths"]
        detail = spec["paths"]["/pro/api/sandbox/messages/{message_id}"]["get"]["responses"]
        assert {"200", "401", "404", "410"} <= set(detail)
        assert "email_not_found" in detail["404"]["description"]
        summary = spec["components"]["schemas"]["SandboxSummary"]["properties"]
        assert {"id", "sender", "from", "subject", "preview_text", "size"} <= set(summary)
        schema = (await c.get("/api/v1/schema/report")).json()
        assert schema["title"] == "Report" and "checks" in schema["properties"]


def metric_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_captures_analyses_and_check_durations(running: Running) -> None:
    captured = ("mailqa_messages_captured_total", (("source", "http"),))
    async with running.client() as c:
        before = metric_values((await c.get("/metrics")).text)
        project = (await c.post("/api/v1/projects", json={"name": "metrics"})).json()
        inbox = (
            await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "m"})
        ).json()
        raw = make_message("metrics")
        await c.post(f"/api/v1/inboxes/{inbox['id']}/messages", content=raw)
        r = await c.get(
            f"/api/v1/inboxes/{inbox['id']}/messages/latest",
            params={"wait": 60, "analyzed": "true"},
        )
        report = (await c.get(f"/api/v1/messages/{r.json()['id']}/report")).json()
        after = metric_values((await c.get("/metrics")).text)
    analyses = ("mailqa_analyses_total", (("status", report["status"]),))
    headers_runs = (
        "mailqa_check_duration_seconds_count",
        (("check", "headers"), ("status", report["checks"]["headers"]["status"])),
    )
    assert after[captured] == before.get(captured, 0) + 1
    assert after[analyses] >= before.get(analyses, 0) + 1
    assert after[headers_runs] >= before.get(headers_runs, 0) + 1


async def test_tokens_are_stored_hashed_only(running: Running) -> None:
    async with running.client() as c:
        plain = (await c.post("/api/v1/tokens", json={"name": "hashed"})).json()["token"]
        async with running.client(token=plain) as user:
            assert (await user.get("/api/v1/projects")).status_code == 200
    tokens = await running.service.store.list_tokens()
    [row] = [t for t in tokens if t.name == "hashed"]
    assert row.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert all(plain not in str(value) for value in vars(row).values())


async def test_filters_by_recipient_and_dates(running: Running) -> None:
    async with running.client() as c:
        project = (await c.post("/api/v1/projects", json={"name": "filters"})).json()
        inbox = (
            await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "f"})
        ).json()
        url = f"/api/v1/inboxes/{inbox['id']}/messages"
        alice = make_message("to-alice").replace(b"user@example.com", b"alice@example.com")
        await c.post(url, content=alice)
        await c.post(url, content=make_message("cc-bob", Cc="bob@example.com"))

        async def subjects(**params: str) -> list[str]:
            r = await c.get(url, params=params)
            assert r.status_code == 200, r.text
            return [m["subject"] for m in r.json()["messages"]]

        assert await subjects(to="alice@") == ["to-alice"]
        assert await subjects(to="bob@example") == ["cc-bob"]
        assert await subjects(to="nobody") == []
        assert sorted(await subjects(since="2000-01-01T00:00:00Z")) == ["cc-bob", "to-alice"]
        assert await subjects(until="2000-01-01T00:00:00Z") == []


async def test_a_revoked_token_stops_working_at_once(running: Running) -> None:
    async with running.client() as admin:
        created = (await admin.post("/api/v1/tokens", json={"name": "revoke me"})).json()
        async with running.client(token=created["token"]) as user:
            assert (await user.get("/api/v1/projects")).status_code == 200
            assert (await admin.delete(f"/api/v1/tokens/{created['id']}")).status_code == 204
            gone = await user.get("/api/v1/projects")
            assert gone.status_code == 401
            assert (await user.get("/pro/api/sandbox")).json()["error"] == (
                "invalid_or_expired_token"
            )
        assert (await admin.delete(f"/api/v1/tokens/{created['id']}")).status_code == 404
