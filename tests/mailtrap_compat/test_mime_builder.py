"""Send JSON → MIME: structure, encodings, and every refusal with its reason."""

from __future__ import annotations

import base64
import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from mailqa.capture.mime_builder import (
    SendError,
    build_message,
    merge_batch_item,
    parse_send_request,
)
from mailqa.core.message import ParsedMessage

from .conftest import PNG


def payload(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "from": {"email": "app@app.example", "name": "App"},
        "to": [{"email": "user@example.com"}],
        "subject": "Hello",
        "text": "Hi there",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def build(**overrides: Any) -> EmailMessage:
    raw = build_message(parse_send_request(payload(**overrides)))
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF throughout
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def structure(part: EmailMessage) -> Any:
    if part.is_multipart():
        return [part.get_content_type(), [structure(p) for p in part.iter_parts()]]  # type: ignore[arg-type]
    return part.get_content_type()


def errors_of(**overrides: Any) -> list[str]:
    with pytest.raises(SendError) as err:
        build_message(parse_send_request(payload(**overrides)))
    return err.value.errors


def test_text_only_is_a_single_part() -> None:
    msg = build()
    assert structure(msg) == "text/plain"
    assert msg.get_content().strip() == "Hi there"
    assert msg["From"] == "App <app@app.example>"
    assert msg["Message-ID"].endswith("@app.example>")
    assert msg["Date"] and msg["MIME-Version"] == "1.0"


def test_html_only_is_a_single_html_part() -> None:
    msg = build(text=None, html="<p>Hi</p>")
    assert structure(msg) == "text/html"


def test_text_and_html_are_alternatives_with_html_last() -> None:
    msg = build(html="<p>Hi</p>")
    assert structure(msg) == ["multipart/alternative", ["text/plain", "text/html"]]


def test_inline_images_relate_to_the_html_and_files_are_mixed_in() -> None:
    attachments = [
        {
            "content": base64.b64encode(PNG).decode(),
            "filename": "logo.png",
            "type": "image/png",
            "disposition": "inline",
            "content_id": "logo",
        },
        {"content": base64.b64encode(b"%PDF-1.4").decode(), "filename": "terms.pdf"},
    ]
    msg = build(html='<img src="cid:logo">', attachments=attachments)
    assert structure(msg) == [
        "multipart/mixed",
        [
            [
                "multipart/alternative",
                ["text/plain", ["multipart/related", ["text/html", "image/png"]]],
            ],
            "application/pdf",  # type guessed from the file name
        ],
    ]
    parts = list(msg.walk())
    logo = next(p for p in parts if p.get_content_type() == "image/png")
    assert logo["Content-ID"] == "<logo>" and logo.get_content_disposition() == "inline"
    assert logo.get_content() == PNG
    pdf = next(p for p in parts if p.get_content_type() == "application/pdf")
    assert pdf.get_filename() == "terms.pdf" and pdf.get_content_disposition() == "attachment"


def test_non_ascii_headers_are_encoded_and_read_back() -> None:
    msg = build(
        **{"from": {"email": "app@app.example", "name": "Zoë Café"}},
        subject="Grüße — 🎉",
        to=[{"email": "u@example.com", "name": "Jürgen"}],
        headers={"X-Note": "naïve"},
    )
    raw = msg.as_bytes()
    assert "Zoë".encode() not in raw.split(b"\r\n\r\n")[0]  # RFC 2047 in the header block
    assert msg["Subject"] == "Grüße — 🎉"
    assert msg["From"].addresses[0].display_name == "Zoë Café"
    assert msg["To"].addresses[0].display_name == "Jürgen"
    assert msg["X-Note"] == "naïve"


def test_bcc_is_envelope_only_and_cc_reply_to_are_headers() -> None:
    request = parse_send_request(
        payload(
            cc=[{"email": "cc@example.com"}],
            bcc=[{"email": "secret@example.com"}],
            reply_to={"email": "help@app.example"},
        )
    )
    msg = message_from_bytes(build_message(request), policy=policy.default)
    assert msg["Bcc"] is None and b"secret@example.com" not in build_message(request)
    assert msg["Cc"] == "cc@example.com" and msg["Reply-To"] == "help@app.example"
    assert request.recipients == ["user@example.com", "cc@example.com", "secret@example.com"]


def test_category_and_custom_variables_travel_as_headers() -> None:
    msg = build(category="welcome", custom_variables={"user_id": 42, "plan": "pro"})
    assert msg["X-MT-Category"] == "welcome"
    assert json.loads(msg["X-MT-Custom-Variables"]) == {"user_id": 42, "plan": "pro"}


def test_the_built_message_parses_cleanly_for_the_checks() -> None:
    raw = build_message(
        parse_send_request(
            payload(
                html="<p>Hi</p>",
                attachments=[{"content": base64.b64encode(b"a,b").decode(), "filename": "r.csv"}],
            )
        )
    )
    parsed = ParsedMessage(raw)
    assert parsed.defects == ()
    assert parsed.text and parsed.html == "<p>Hi</p>"
    assert [a.filename for a in parsed.attachments] == ["r.csv"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"from": None}, "'from' is required"),
        ({"to": None}, "'to' is required"),
        ({"subject": None}, "'subject' is required"),
        ({"text": None}, "'text' or 'html' is required"),
        ({"to": [{"email": "nobody"}]}, "'nobody' is not a valid email address"),
        ({"subject": "a\r\nBcc: victim@example.com"}, "line breaks"),
        ({"headers": {"Subject": "x"}}, "'Subject' is reserved"),
        ({"headers": {"Bad Name": "x"}}, "not a valid header name"),
        ({"headers": {"X-A": "1\r\nBcc: v@example.com"}}, "line breaks"),
        ({"template_uuid": "abc"}, "templates are not supported"),
        (
            {"attachments": [{"content": "%%%not base64", "filename": "a.bin"}]},
            "not valid base64",
        ),
        (
            {"attachments": [{"content": "", "filename": "a.png", "disposition": "inline"}]},
            "inline attachments need content_id",
        ),
        (
            {"attachments": [{"content": "", "filename": "a", "type": "nonsense"}]},
            "not a MIME type",
        ),
        ({"to": "user@example.com"}, "to: Input should be a valid list"),
        ({"to": [{"email": "josé@example.com"}]}, "non-ASCII local parts"),
    ],
)
def test_refusals_say_why(overrides: dict[str, Any], expected: str) -> None:
    errors = errors_of(**overrides)
    assert any(expected in e for e in errors), errors


def test_internationalised_domains_become_punycode() -> None:
    msg = build(to=[{"email": "kim@bücher.example", "name": "Kim"}])
    assert msg["To"] == "Kim <kim@xn--bcher-kva.example>"


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(SendError) as err:
        parse_send_request(["not", "an", "object"])
    assert err.value.errors == ["the request body must be a JSON object"]


def test_batch_items_override_the_base() -> None:
    base = {"from": {"email": "a@app.example"}, "subject": "Base", "text": "t"}
    merged = merge_batch_item(base, {"to": [{"email": "x@example.com"}], "subject": "Own"})
    assert merged["subject"] == "Own" and merged["from"] == {"email": "a@app.example"}
    assert merge_batch_item(base, {"subject": None})["subject"] == "Base"
