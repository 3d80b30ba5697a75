"""The official ``mailtrap`` SDK drives mailqa: its pydantic models parse every answer."""

from __future__ import annotations

import uuid
from email import message_from_bytes, policy
from typing import Any

import mailtrap as mt
import pytest
from mailtrap.exceptions import APIError, AuthorizationError
from mailtrap.models.inboxes import CreateInboxParams, UpdateInboxParams
from mailtrap.models.messages import (
    AnalysisReportError,
    AnalysisReportSuccess,
    UpdateEmailMessageParams,
)
from mailtrap.models.projects import ProjectParams

from mailqa.store.messages import MessageFilter

from .conftest import ACCOUNT_ID, PNG, Stack, b64, sdk

pytestmark = pytest.mark.slow


def rich_mail(tag: str) -> mt.Mail:
    return mt.Mail(
        sender=mt.Address(email="shop@app.example", name="Zoë's Shop"),
        to=[mt.Address(email="ana@example.com", name="Ana")],
        cc=[mt.Address(email="cc@example.com")],
        bcc=[mt.Address(email="hidden@example.com")],
        subject=f"Order {tag} — confirmed",
        text=f"Thanks for order {tag}.",
        html=f'<html><body><p>Thanks for order {tag}.</p><img src="cid:logo"></body></html>',
        attachments=[
            mt.Attachment(
                content=b64(PNG),
                filename="logo.png",
                disposition=mt.Disposition.INLINE,
                mimetype="image/png",
                content_id="logo",
            ),
            mt.Attachment(content=b64(b"id,total\n1,9.99\n"), filename="invoice.csv"),
        ],
        headers={"X-Order": tag},
        custom_variables={"order": tag},
        category="orders",
    )


async def analyzed(stack: Stack, inbox_id: int, message_id: int) -> None:
    only = MessageFilter(after_id=message_id - 1, before_id=message_id + 1)
    row = await stack.service.wait_for_message(inbox_id, only, wait=30, analyzed=True)
    assert row is not None and row.id == message_id


async def send_one(stack: Stack, inbox_id: int, mail: mt.Mail) -> int:
    client = stack.mailtrap(inbox_id=inbox_id)
    answer = await sdk(client.send, mail)
    assert answer["success"] is True
    ids = answer["message_ids"]
    assert isinstance(ids, list) and len(ids) == 1
    return int(ids[0])


async def test_send_in_sandbox_mode_captures_and_shows_the_message(
    stack: Stack, inbox_id: int
) -> None:
    tag = uuid.uuid4().hex[:8]
    message_id = await send_one(stack, inbox_id, rich_mail(tag))
    messages = stack.mailtrap().testing_api.messages

    listed = await sdk(messages.get_list, inbox_id, search=tag)
    assert [m.id for m in listed] == [message_id]

    shown = await sdk(messages.show_message, inbox_id, message_id)
    assert shown.subject == f"Order {tag} — confirmed"
    assert (shown.from_email, shown.from_name) == ("shop@app.example", "Zoë's Shop")
    assert (shown.to_email, shown.to_name) == ("ana@example.com", "Ana")
    assert shown.inbox_id == inbox_id and shown.is_read is False
    text = await sdk(messages.get_text_message, inbox_id, message_id)
    assert text.strip() == f"Thanks for order {tag}."
    assert shown.text_body_size == len(text.encode())
    assert shown.html_body_size > 0 and shown.email_size > shown.html_body_size
    assert shown.smtp_information.ok is True
    assert shown.smtp_information.data is not None
    assert shown.smtp_information.data.mail_from_addr == "shop@app.example"
    assert shown.smtp_information.data.client_ip == "127.0.0.1"
    assert shown.raw_path == (
        f"/api/accounts/{ACCOUNT_ID}/inboxes/{inbox_id}/messages/{message_id}/body.raw"
    )
    # Offline here: the blacklist check is skipped, and Mailtrap's "no report" is false.
    await analyzed(stack, inbox_id, message_id)
    shown = await sdk(messages.show_message, inbox_id, message_id)
    assert shown.blacklists_report_info is False


async def test_headers_bodies_and_attachments(stack: Stack, inbox_id: int) -> None:
    tag = uuid.uuid4().hex[:8]
    message_id = await send_one(stack, inbox_id, rich_mail(tag))
    api = stack.mailtrap().testing_api
    messages = api.messages

    headers = await sdk(messages.get_mail_headers, inbox_id, message_id)
    assert headers["subject"] == f"Order {tag} — confirmed"
    assert headers["x-order"] == tag
    assert headers["x-mt-category"] == "orders"
    assert headers["bcc"] == "hidden@example.com"  # envelope only, as Mailtrap shows it
    assert "ana@example.com" in headers["to"] and "cc@example.com" in headers["cc"]

    text = await sdk(messages.get_text_message, inbox_id, message_id)
    assert text.strip() == f"Thanks for order {tag}."
    source = await sdk(messages.get_html_source, inbox_id, message_id)
    assert 'src="cid:logo"' in source
    shown_html = await sdk(messages.get_html_message, inbox_id, message_id)
    assert "cid:logo" not in shown_html and "/attachments/" in shown_html

    eml = await sdk(messages.get_message_as_eml, inbox_id, message_id)
    raw = await sdk(messages.get_raw_message, inbox_id, message_id)
    stored = await stack.service.store.get_raw(message_id)
    assert raw == eml == stored.decode()
    parsed = message_from_bytes(stored, policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    assert parsed["Bcc"] is None

    attachments = await sdk(api.attachments.get_list, inbox_id, message_id)
    by_name = {a.filename: a for a in attachments}
    assert set(by_name) == {"logo.png", "invoice.csv"}
    logo = by_name["logo.png"]
    assert logo.attachment_type == mt.Disposition.INLINE and logo.content_id == "logo"
    assert logo.content_type == "image/png" and logo.attachment_size == len(PNG)
    assert logo.transfer_encoding == "base64"  # as the send API's MIME builder wrote it
    csv = await sdk(api.attachments.get, inbox_id, message_id, by_name["invoice.csv"].id)
    assert csv.attachment_type == mt.Disposition.ATTACHMENT and csv.message_id == message_id
    async with stack.client() as http:
        download = await http.get(logo.download_path)
        assert download.status_code == 200 and download.content == PNG
        assert logo.download_path in shown_html


async def test_spam_report_comes_from_spamd(stack: Stack, inbox_id: int) -> None:
    if "spam" not in stack.service.pipeline.checks:
        pytest.skip("spamd is not installed")
    message_id = await send_one(stack, inbox_id, rich_mail(uuid.uuid4().hex[:8]))
    report = await sdk(stack.mailtrap().testing_api.messages.get_spam_report, inbox_id, message_id)
    stored = await stack.service.store.get_report(message_id)
    assert stored is not None
    details = stored.checks["spam"].details
    assert report.response_code == 0 and report.response_message == "EX_OK"
    assert report.score == pytest.approx(details["score"])
    assert report.threshold == round(details["threshold"])
    assert report.spam is (details["score"] >= details["threshold"])
    assert {d.rule_name for d in report.details} == {r["name"] for r in details["rules"]}
    assert report.details, "SpamAssassin always reports some rule for this message"


HTML_WITH_PROBLEMS = """<html>
<head><style>
.box { display: flex; }
</style></head>
<body>
<div class="box">Hello</div>
<form action="https://app.example/subscribe"><input type="email"></form>
</body>
</html>"""


async def test_html_analysis_reshapes_the_html_check(stack: Stack, inbox_id: int) -> None:
    if "html" not in stack.service.pipeline.checks:
        pytest.skip("no html check in this build")
    mail = mt.Mail(
        sender=mt.Address(email="a@app.example"),
        to=[mt.Address(email="b@example.com")],
        subject="HTML problems",
        html=HTML_WITH_PROBLEMS,
    )
    message_id = await send_one(stack, inbox_id, mail)
    analysis = await sdk(
        stack.mailtrap().testing_api.messages.get_html_analysis, inbox_id, message_id
    )
    assert isinstance(analysis, AnalysisReportSuccess) and analysis.status == "success"
    report = await stack.service.store.get_report(message_id)
    assert report is not None
    findings = [f for f in report.checks["html"].findings if f.severity != "info"]
    assert findings, "flexbox and forms are not supported everywhere"
    by_rule: dict[str, list[Any]] = {}
    for error in analysis.errors:
        by_rule.setdefault(error.rule_name, []).append(error)
    for finding in findings:
        errors = by_rule[finding.title]
        lines = sorted({loc.line for loc in finding.locations if loc.line})
        assert sorted(e.error_line for e in errors) == (lines or [0])
        unsupported = {c["name"] for c in finding.data["clients"] if c["support"] != "u"}
        clients = errors[0].email_clients
        assert set(clients.desktop + clients.mobile + clients.web) == unsupported
    form_lines = [e.error_line for e in analysis.errors if "form" in e.rule_name.lower()]
    assert 7 in form_lines, analysis.errors


async def test_html_analysis_of_a_text_only_message(stack: Stack, inbox_id: int) -> None:
    mail = mt.Mail(
        sender=mt.Address(email="a@app.example"),
        to=[mt.Address(email="b@example.com")],
        subject="plain",
        text="no html here",
    )
    message_id = await send_one(stack, inbox_id, mail)
    analysis = await sdk(
        stack.mailtrap().testing_api.messages.get_html_analysis, inbox_id, message_id
    )
    # Both of Mailtrap's shapes parse; which one depends on how the html check reports it.
    assert isinstance(analysis, (AnalysisReportSuccess, AnalysisReportError))
    if isinstance(analysis, AnalysisReportSuccess):
        assert analysis.errors == []


async def test_update_search_paging_and_delete(stack: Stack) -> None:
    project = await stack.service.store.create_project("paging")
    inbox = (await stack.service.store.create_inbox(project.id, "paging", 50_000_000)).id
    tag = uuid.uuid4().hex[:8]
    ids = []
    for i in range(33):
        mail = mt.Mail(
            sender=mt.Address(email="a@app.example"),
            to=[mt.Address(email=f"user{i}@example.com")],
            subject=f"{tag} number {i}",
            text="x",
        )
        ids.append(await send_one(stack, inbox, mail))
    messages = stack.mailtrap().testing_api.messages

    first = await sdk(messages.get_list, inbox)
    assert [m.id for m in first] == sorted(ids, reverse=True)[:30]
    second = await sdk(messages.get_list, inbox, page=2)
    assert [m.id for m in second] == sorted(ids, reverse=True)[30:]
    older = await sdk(messages.get_list, inbox, last_id=ids[5])
    assert [m.id for m in older] == sorted(ids[:5], reverse=True)
    found = await sdk(messages.get_list, inbox, search=f"{tag} number 17")
    assert [m.subject for m in found] == [f"{tag} number 17"]

    read = await sdk(messages.update, inbox, ids[0], UpdateEmailMessageParams(is_read=True))
    assert read.is_read is True
    assert (await sdk(messages.show_message, inbox, ids[0])).is_read is True
    inboxes = stack.mailtrap().testing_api.inboxes
    shown_inbox = await sdk(inboxes.get_by_id, inbox)
    assert (shown_inbox.emails_count, shown_inbox.emails_unread_count) == (33, 32)

    deleted = await sdk(messages.delete, inbox, ids[1])
    assert deleted.id == ids[1]
    with pytest.raises(APIError) as missing:
        await sdk(messages.show_message, inbox, ids[1])
    assert missing.value.status == 404

    cleaned = await sdk(inboxes.mark_as_read, inbox)
    assert cleaned.emails_unread_count == 0
    emptied = await sdk(inboxes.clean, inbox)
    assert emptied.emails_count == 0
    assert await sdk(messages.get_list, inbox) == []


async def test_message_of_another_inbox_is_not_found(stack: Stack, inbox_id: int) -> None:
    message_id = await send_one(stack, inbox_id, rich_mail("x"))
    project = await stack.service.store.create_project("other")
    other = await stack.service.store.create_inbox(project.id, "other", 1_000_000)
    with pytest.raises(APIError) as err:
        await sdk(stack.mailtrap().testing_api.messages.show_message, other.id, message_id)
    assert err.value.status == 404


async def test_batch_send_reports_each_request(stack: Stack, inbox_id: int) -> None:
    tag = uuid.uuid4().hex[:8]
    params = mt.BatchSendEmailParams(
        base=mt.BatchMail(
            sender=mt.Address(email="news@app.example", name="News"),
            subject=f"Batch {tag}",
            text="Hello from the batch",
            category="batch",
        ),
        requests=[
            mt.BatchEmailRequest(to=[mt.Address(email="one@example.com")]),
            mt.BatchEmailRequest(
                to=[mt.Address(email="two@example.com")], subject=f"Batch {tag} override"
            ),
            mt.BatchEmailRequest(to=[mt.Address(email="not-an-address")]),
        ],
    )
    answer = await sdk(stack.mailtrap(inbox_id=inbox_id).batch_send, params)
    assert answer["success"] is True
    first, second, third = answer["responses"]
    assert first["success"] is True and second["success"] is True
    assert third["success"] is False
    assert any("not-an-address" in e for e in third["errors"])
    messages = stack.mailtrap().testing_api.messages
    subjects = {m.subject for m in await sdk(messages.get_list, inbox_id, search=tag)}
    assert subjects == {f"Batch {tag}", f"Batch {tag} override"}
    shown = await sdk(messages.show_message, inbox_id, int(second["message_ids"][0]))
    assert (shown.from_name, shown.to_email) == ("News", "two@example.com")


async def test_forward_goes_through_the_relay_unchanged(stack: Stack, inbox_id: int) -> None:
    message_id = await send_one(stack, inbox_id, rich_mail(uuid.uuid4().hex[:8]))
    messages = stack.mailtrap().testing_api.messages
    before = len(stack.sink.deliveries)
    answer = await sdk(messages.forward, inbox_id, message_id, "qa@example.com")
    assert "forwarded" in answer.message
    delivery = (await stack.sink.wait(before + 1))[-1]
    assert delivery.rcpt_tos == ["qa@example.com"]
    assert delivery.mail_from == "shop@app.example"
    stored = await stack.service.store.get_raw(message_id)
    assert delivery.data.rstrip(b"\r\n") == stored.rstrip(b"\r\n")

    with pytest.raises(APIError) as refused:
        await sdk(messages.forward, inbox_id, message_id, "someone@elsewhere.example")
    assert refused.value.status == 403
    assert any("MAILQA_RELAY_ALLOWED_RECIPIENTS" in e for e in refused.value.errors)
    assert len(stack.sink.deliveries) == before + 1


async def test_projects_and_inboxes_lifecycle(stack: Stack) -> None:
    api = stack.mailtrap().testing_api
    project = await sdk(api.projects.create, ProjectParams(name="Lifecycle"))
    assert project.name == "Lifecycle" and project.inboxes == []
    inbox = await sdk(api.inboxes.create, project.id, CreateInboxParams(name="Staging"))
    assert inbox.project_id == project.id and inbox.emails_count == 0
    assert inbox.smtp_ports and inbox.username and inbox.password

    listed = await sdk(api.projects.get_list)
    mine = next(p for p in listed if p.id == project.id)
    assert [i.id for i in mine.inboxes] == [inbox.id]
    assert inbox.id in [i.id for i in await sdk(api.inboxes.get_list)]

    renamed = await sdk(api.inboxes.update, inbox.id, UpdateInboxParams(name="Staging 2"))
    assert renamed.name == "Staging 2"
    reset = await sdk(api.inboxes.reset_credentials, inbox.id)
    assert reset.password != inbox.password and reset.username == inbox.username

    assert inbox.email_username_enabled is False and inbox.email_username
    enabled = await sdk(api.inboxes.enable_email_address, inbox.id)
    assert enabled.email_username_enabled is True
    assert enabled.email_username == inbox.email_username
    fresh = await sdk(api.inboxes.reset_email_username, inbox.id)
    assert fresh.email_username != inbox.email_username and fresh.email_username_enabled
    chosen = await sdk(api.inboxes.update, inbox.id, UpdateInboxParams(email_username="qa-flow"))
    assert chosen.email_username == "qa-flow" and chosen.name == "Staging 2"
    disabled = await sdk(api.inboxes.enable_email_address, inbox.id)
    assert disabled.email_username_enabled is False

    renamed_project = await sdk(api.projects.update, project.id, ProjectParams(name="Renamed"))
    assert renamed_project.name == "Renamed"
    deleted_inbox = await sdk(api.inboxes.delete, inbox.id)
    assert deleted_inbox.id == inbox.id
    deleted = await sdk(api.projects.delete, project.id)
    assert deleted.id == project.id
    with pytest.raises(APIError) as gone:
        await sdk(api.projects.get_by_id, project.id)
    assert gone.value.status == 404


async def test_wrong_token_is_an_authorization_error(stack: Stack, inbox_id: int) -> None:
    with pytest.raises(AuthorizationError):
        await sdk(stack.mailtrap(inbox_id=inbox_id, token="mq_wrong").send, rich_mail("x"))
    with pytest.raises(AuthorizationError):
        await sdk(stack.mailtrap(token="mq_wrong").testing_api.messages.get_list, inbox_id)
