"""The send API over plain HTTP: Mailtrap's answers and error shapes, limits, routing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import ACCOUNT_ID, Stack

pytestmark = pytest.mark.slow


def mail(subject: str = "Hi", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from": {"email": "app@app.example"},
        "to": [{"email": "user@example.com"}],
        "subject": subject,
        "text": "hello",
    }
    body.update(overrides)
    return body


async def test_send_answers_ids_and_stores_the_envelope(stack: Stack, inbox_id: int) -> None:
    async with stack.client() as http:
        r = await http.post(f"/api/send/{inbox_id}", json=mail(bcc=[{"email": "b@example.com"}]))
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and len(body["message_ids"]) == 1
    row = await stack.service.store.get_message(int(body["message_ids"][0]))
    assert row.inbox_id == inbox_id
    assert row.mail_from == "app@app.example"
    assert row.rcpt_to == ["user@example.com", "b@example.com"]


async def test_validation_errors_use_mailtrap_shape(stack: Stack, inbox_id: int) -> None:
    async with stack.client() as http:
        r = await http.post(f"/api/send/{inbox_id}", json={"subject": "no sender"})
        assert r.status_code == 400
        body = r.json()
        assert body["success"] is False
        assert "'from' is required" in body["errors"]
        assert any("'to' is required" in e for e in body["errors"])

        bad_json = await http.post(
            f"/api/send/{inbox_id}",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert bad_json.status_code == 400 and bad_json.json()["success"] is False
        assert "not valid JSON" in bad_json.json()["errors"][0]


async def test_token_is_required(stack: Stack, inbox_id: int) -> None:
    async with stack.client(token=None) as http:
        r = await http.post(f"/api/send/{inbox_id}", json=mail())
    assert r.status_code == 401
    assert r.json()["success"] is False and "Unauthorized" in r.json()["errors"][0]
    async with stack.client(token="mq_nope") as http:
        assert (await http.post(f"/api/batch/{inbox_id}", json={})).status_code == 401


async def test_unknown_inbox_is_404(stack: Stack) -> None:
    async with stack.client() as http:
        r = await http.post("/api/send/999999", json=mail())
    assert r.status_code == 404 and r.json() == {
        "success": False,
        "errors": ["inbox 999999 not found"],
    }


async def test_project_token_cannot_send_to_another_projects_inbox(
    stack: Stack, inbox_id: int
) -> None:
    project = await stack.service.store.create_project("isolated")
    plain, _ = await stack.service.store.create_token("isolated", project_id=project.id)
    async with stack.client(token=plain) as http:
        r = await http.post(f"/api/send/{inbox_id}", json=mail())
    assert r.status_code == 404


async def test_message_over_the_size_limit_is_422(stack: Stack, inbox_id: int) -> None:
    big = "x" * (stack.settings.smtp_max_message_size + 10)
    async with stack.client() as http:
        r = await http.post(f"/api/send/{inbox_id}", json=mail(text=big))
    assert r.status_code == 422 and "limit" in r.json()["errors"][0]


async def test_payload_over_50_mb_is_refused_before_reading(stack: Stack, inbox_id: int) -> None:
    async with stack.client() as http:
        r = await http.post(
            f"/api/send/{inbox_id}",
            content=b"{" + b" " * (50 * 1024 * 1024) + b"}",
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 413 and r.json()["success"] is False


async def test_batch_limits_and_shape(stack: Stack, inbox_id: int) -> None:
    async with stack.client() as http:
        too_many = await http.post(
            f"/api/batch/{inbox_id}",
            json={"base": mail(), "requests": [{} for _ in range(501)]},
        )
        assert too_many.status_code == 400 and "at most 500" in too_many.json()["errors"][0]
        empty = await http.post(f"/api/batch/{inbox_id}", json={"base": mail()})
        assert empty.status_code == 400 and "'requests' is required" in empty.json()["errors"][0]

        tag = uuid.uuid4().hex[:8]
        ok = await http.post(
            f"/api/batch/{inbox_id}",
            json={
                "base": mail(subject=tag),
                "requests": [{}, "not an object", {"text": None, "html": "<p>x</p>"}],
            },
        )
    assert ok.status_code == 200
    responses = ok.json()["responses"]
    assert [r["success"] for r in responses] == [True, False, True]
    third = await stack.service.get_message(int(responses[2]["message_ids"][0]))
    assert third.has_html and third.subject == tag


async def test_send_without_inbox_goes_to_the_tokens_sandbox(stack: Stack) -> None:
    plain, token = await stack.service.store.create_token("sandboxed")
    async with stack.client(token=plain) as http:
        r = await http.post("/api/send", json=mail(subject="to my sandbox"))
    assert r.status_code == 200
    row = await stack.service.store.get_message(int(r.json()["message_ids"][0]))
    inbox = await stack.service.store.sandbox_inbox(token, create=False, quota_bytes=1)
    assert inbox is not None and row.inbox_id == inbox.id


async def test_sandboxes_prefix_serves_the_same_messages(stack: Stack, inbox_id: int) -> None:
    async with stack.client() as http:
        sent = await http.post(f"/api/send/{inbox_id}", json=mail(subject="prefix"))
        message_id = int(sent.json()["message_ids"][0])
        via_account = await http.get(
            f"/api/accounts/{ACCOUNT_ID}/inboxes/{inbox_id}/messages/{message_id}"
        )
        via_sandbox = await http.get(f"/api/sandboxes/{inbox_id}/messages/{message_id}")
        assert via_account.status_code == via_sandbox.status_code == 200
        assert via_sandbox.json()["subject"] == "prefix"
        assert via_sandbox.json()["raw_path"].startswith(f"/api/sandboxes/{inbox_id}/messages/")
        text = await http.get(via_sandbox.json()["txt_path"])
        assert text.status_code == 200 and text.text.strip() == "hello"
        no_html = await http.get(via_sandbox.json()["html_path"])
        assert no_html.status_code == 404 and "no HTML part" in no_html.json()["error"]
        inbox = await http.get(f"/api/sandboxes/{inbox_id}")
        assert inbox.status_code == 200 and inbox.json()["id"] == inbox_id


async def test_testing_api_validation_errors_read_as_mailtrap_errors(stack: Stack) -> None:
    async with stack.client() as http:
        r = await http.post(f"/api/accounts/{ACCOUNT_ID}/projects", json={"project": {"name": ""}})
    assert r.status_code == 422
    assert r.json()["errors"] and "project.name" in r.json()["errors"][0]


async def test_account_id_must_be_an_integer(stack: Stack, inbox_id: int) -> None:
    async with stack.client() as http:
        r = await http.get(f"/api/accounts/acme/inboxes/{inbox_id}/messages")
        assert r.status_code == 422 and any("account_id" in e for e in r.json()["errors"])
        ok = await http.get(f"/api/accounts/987654/inboxes/{inbox_id}/messages")
        assert ok.status_code == 200 and isinstance(ok.json(), list)
