"""Malformed mail is stored and analysed with its defects reported; nothing crashes."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.messages import make_message
from tests.support.stack import Running

from mailqa.checks.headers import HeadersCheck
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.resources import check_context
from mailqa.settings import Settings

NESTED = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n" + (
    b"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" * 5000
)
BAD_CHARSET = (
    b"From: a@b.example\r\nSubject: =?x-unknown?Q?caf=E9?=\r\n"
    b"Content-Type: text/html; charset=klingon\r\n\r\n<p>caf\xe9 \xff\xfe</p>\r\n"
)
LYING_CHARSET = (
    b"From: a@b.example\r\nSubject: lies\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n////\r\n"
)
HTML_ONLY = b"From: a@b.example\r\nSubject: html\r\nContent-Type: text/html\r\n\r\n"
HOSTILE = {
    "empty": b"",
    "garbage": bytes(range(256)) * 20,
    "nested": NESTED,
    "bad-charset": BAD_CHARSET,
    "lying-charset": LYING_CHARSET,
    "no-separator": b"just a line without headers",
    "bad-base64": (
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n%%%!!!\r\n"
    ),
    "header-only": b"Subject: \xff\xfe\r\nFrom: <<<>>>\r\nDate: yesterday\r\n",
    # HTML-only mail: the preview text comes from the HTML, which must not cost more than
    # its length (deep nesting, tags that never close).
    "html-deep-nesting": HTML_ONLY + b"<div>x" * 20_000,
    "html-unclosed-tags": HTML_ONLY + b"<a" * 60_000 + b"</" * 60_000,
    # PostgreSQL text refuses NUL; varchar refuses over-long values.
    "nul-bytes": (
        b"From: nul\x00@b.example\r\nSubject: a\x00b\r\nTo: x\x00y@c.example\r\n"
        b"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
        b"Content-Type: text/plain\r\n\r\nbody \x00 here\r\n--z\r\n"
        b'Content-Type: application/pdf; name="f\x00.pdf"\r\n'
        b'Content-Disposition: attachment; filename="f\x00.pdf"\r\n\r\nxx\r\n--z--\r\n'
    ),
    "over-long-address": b"From: " + b"a" * 2000 + b"@" + b"b" * 400 + b".example\r\n\r\nhi",
}

PIPELINE = Pipeline([HeadersCheck()], timeout=10)
CTX = check_context(Settings(offline=True))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bytes_parse_and_analyse(name: str) -> None:
    msg = ParsedMessage(HOSTILE[name])
    report = asyncio.run(PIPELINE.run(msg, CTX))
    assert report.checks["headers"].status.value in ("failed", "warning")
    assert report.message.size == len(HOSTILE[name])


def test_defects_are_reported() -> None:
    assert any("nesting" in d or "parts" in d for d in ParsedMessage(NESTED).defects)
    bad = ParsedMessage(BAD_CHARSET)
    assert any("klingon" in d for d in bad.defects)
    assert bad.html is not None and "caf" in bad.html
    assert ParsedMessage(b"").defects == ("empty message",)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_random_bytes_never_crash(data: bytes) -> None:
    report = asyncio.run(PIPELINE.run(ParsedMessage(data), CTX))
    assert "headers" in report.checks
    assert report.checks["headers"].status.value != "errored"


REAL = make_message("Real one", body="Hello\r\n\r\nBye")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(REAL) - 1), st.binary(min_size=0, max_size=8)),
        min_size=1,
        max_size=10,
    )
)
def test_mutations_of_a_real_message_never_crash(edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(REAL)
    for pos, chunk in edits:
        data[pos : pos + len(chunk)] = chunk
    report = asyncio.run(PIPELINE.run(ParsedMessage(bytes(data)), CTX))
    assert report.checks["headers"].status.value != "errored"


async def test_hostile_uploads_are_stored_and_reported(any_db: Running) -> None:
    async with any_db.client() as c:
        project = (await c.post("/api/v1/projects", json={"name": "bad"})).json()
        inbox = (
            await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "bad"})
        ).json()
        ids = {}
        for name, raw in HOSTILE.items():
            started = time.perf_counter()
            r = await c.post(f"/api/v1/inboxes/{inbox['id']}/messages", content=raw)
            assert r.status_code == 201, (name, r.text)
            assert time.perf_counter() - started < 5, name
            ids[name] = r.json()["id"]
        for name, mid in ids.items():
            assert (await c.get(f"/api/v1/messages/{mid}/raw")).content == HOSTILE[name]
            detail = await c.get(f"/api/v1/messages/{mid}")
            assert detail.status_code == 200, name
            report = await c.post(f"/api/v1/messages/{mid}/analyze")
            assert report.status_code == 200, name
        nested = (await c.get(f"/api/v1/messages/{ids['nested']}/report")).json()
        assert nested["message"]["parse_defects"]


def test_encoded_display_names_with_commas_do_not_split_addresses() -> None:
    msg = ParsedMessage(
        b"To: =?utf-8?q?=C3=9C=2C_User?= <u@example.com>, b@example.com\r\n"
        b'Cc: "X, Y" <x@y.example>\r\nSubject: s\r\n\r\nhi\r\n'
    )
    assert msg.to == ("u@example.com", "b@example.com")
    assert msg.cc == ("x@y.example",)
    assert msg.header("To") == "Ü, User <u@example.com>, b@example.com"


async def test_a_message_the_database_refuses_does_not_take_its_batch_down(
    any_db: Running,
) -> None:
    """Concurrent captures are committed together; each must stand or fall alone."""
    async with any_db.client() as c:
        project = (await c.post("/api/v1/projects", json={"name": "batch"})).json()
        inbox = (
            await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "batch"})
        ).json()
        bodies = [make_message(f"clean {i}") for i in range(6)] + [HOSTILE["nul-bytes"]]
        responses = await asyncio.gather(
            *(c.post(f"/api/v1/inboxes/{inbox['id']}/messages", content=b) for b in bodies)
        )
        assert [r.status_code for r in responses] == [201] * len(bodies)
        nul = (await c.get(f"/api/v1/messages/{responses[-1].json()['id']}")).json()
        assert nul["subject"] == "a\ufffdb"


async def test_hostile_mail_over_smtp_is_stored_and_the_server_keeps_serving(
    running: Running,
) -> None:
    async with running.client() as c:
        project = (await c.post("/api/v1/projects", json={"name": "bad-smtp"})).json()
        inbox = (
            await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "bad"})
        ).json()
    creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])
    small = {k: v for k, v in HOSTILE.items() if len(v) < 200_000}
    for name, raw in small.items():
        refused = await asyncio.to_thread(running.smtp_send, raw, login=creds)
        assert refused == {}, name
    async with running.client() as c:
        r = await c.get(f"/api/v1/inboxes/{inbox['id']}/messages", params={"per_page": 100})
        assert r.json()["total"] == len(small)
        for m in r.json()["messages"]:
            assert (await c.get(f"/api/v1/messages/{m['id']}")).status_code == 200
            report = await c.post(f"/api/v1/messages/{m['id']}/analyze")
            assert report.status_code == 200
    # Still serving afterwards.
    assert await asyncio.to_thread(running.smtp_send, make_message("after"), login=creds) == {}
