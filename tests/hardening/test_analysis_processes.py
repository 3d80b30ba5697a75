"""The checks run in analysis processes, and capture reads only the headers before its 250.

So one costly message cannot stall the serving process: its event loop and GIL never run
the checks (``bench/loop_stall.py`` measures the stall). An analysis process that dies is
replaced, and what it was analysing runs again, or is reported errored once its analyses
were cut short ``MAILQA_ANALYSIS_MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import asyncio
import email.policy
import os
import signal
from email.message import EmailMessage
from pathlib import Path

import pytest
from tests.support.stack import Running, base_settings, start_stack

from mailqa.checks import BUILTIN_CHECKS
from mailqa.checks.headers import HeadersCheck
from mailqa.core.message import HEAD_LIMIT, CapturedMessage, ParsedMessage, header_block
from mailqa.service import open_service
from mailqa.worker.processes import ProcessExecutor
from mailqa.worker.selection import select_executor

HEAVY_CSS = "".join(f".c{i} {{ display: flex; color: red }}\n" for i in range(60_000))


def mail(subject: str, html: str, attachment: bytes | None = None) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "app@app.example", "user@example.com", subject
    m.set_content("text part")
    m.add_alternative(html, subtype="html", cte="quoted-printable")
    if attachment is not None:
        m.add_attachment(
            attachment, maintype="text", subtype="csv", filename="data.csv", cte="base64"
        )
    return m.as_bytes(policy=email.policy.SMTP)


def test_the_header_block_is_read_within_its_bound() -> None:
    raw = mail("hello", "<p>hi</p>")
    head = header_block(raw)
    assert head.startswith(b"Subject: hello") or b"\r\nSubject: hello" in head
    assert b"text part" not in head and not head.endswith(b"\r\n\r\n")
    # No empty line at all: at most HEAD_LIMIT bytes, cut at a line end.
    endless = b"X-Filler: " + b"a" * 100 + b"\r\n"
    endless *= (2 * HEAD_LIMIT) // len(endless)
    cut = header_block(endless)
    assert len(cut) <= HEAD_LIMIT and endless.startswith(cut) and cut.endswith(b"\r")
    captured = CapturedMessage.scan(raw)
    assert captured.head.subject == "hello" and captured.head.from_address == "app@app.example"
    assert captured.raw is raw and captured.defects == ()
    assert CapturedMessage.scan(b" \r\n").defects == ("empty message",)


HEADER_CASES = [
    b"Subject: plain\r\nFrom: App <app@app.example>\r\nTo: a@example.com, b@example.com\r\n",
    b"subject:   =?utf-8?q?caf=C3=A9?= au lait\r\n"
    b"FROM:\r\n  =?utf-8?b?w4lsw6hu?= <e@x.example>\r\n",
    b"To: first@example.com\r\nTo: second@example.com\r\nCc: c@example.com\r\n"
    b"Message-ID:\r\n <id@example.com>\r\nX-Subject: not this one\r\n",
    b"Subject: folded\r\n\tacross\r\n lines\r\nFrom: =?bad?q?x?= <z@example.com>\r\n",
    b"Subject: caf\xc3\xa9 in raw UTF-8\nFrom: a@example.com\n",
    b"Received: from x\r\n by y\r\nSubject: after a received\r\n",
    b"X-Empty:\r\nSubject:\r\nFrom: <>\r\n",
]


@pytest.mark.parametrize("headers", HEADER_CASES)
def test_the_header_scan_reads_what_the_full_parse_reads(headers: bytes) -> None:
    """The row capture stores holds the same headers the analysis's full parse finds."""
    raw = headers + b"\r\nbody\r\nSubject: not a header\r\n"
    head = CapturedMessage.scan(raw).head
    parsed = ParsedMessage(raw)
    assert (head.subject, head.from_, head.to, head.cc, head.message_id) == (
        parsed.subject,
        parsed.from_,
        parsed.header("To"),
        parsed.header("Cc"),
        parsed.message_id,
    )
    assert head.from_address == parsed.from_address


async def test_capture_stores_headers_and_the_body_is_parsed_when_needed(tmp_path: Path) -> None:
    """Before any analysis ran, the row holds what the headers say; the first read of the
    message parses its body and stores the preview, sizes and attachment list."""
    settings = base_settings(tmp_path)
    async with open_service(
        settings, executor=select_executor, start_executor=False
    ) as service:  # nothing analyses
        inbox = await service.store.default_inbox(settings.inbox_quota_bytes)
        raw = mail("an invoice", "<p>Your invoice is attached.</p>", b"a,b\n1,2\n")
        message_id = await service.capture(raw, inbox.id)
        row = await service.store.get_message(message_id)
        assert (row.subject, row.from_address, row.size) == (
            "an invoice",
            "app@app.example",
            len(raw),
        )
        assert not row.body_parsed and not row.has_html
        assert list(await service.store.get_attachments(message_id)) == []
        row = await service.get_message(message_id)
        assert row.body_parsed and row.has_html and row.has_text
        assert row.preview_text == "text part" and row.html_size and row.html_size > 0
        [attachment] = await service.store.get_attachments(message_id)
        assert (attachment.filename, attachment.content_type) == ("data.csv", "text/csv")
        # The analysis finds it parsed already and does not store the attachments twice.
        report = await service.analyze(message_id)
        assert report.message.attachments == 1
        assert len(await service.store.get_attachments(message_id)) == 1


async def test_two_processes_storing_a_body_at_once_store_its_attachments_once(
    tmp_path: Path,
) -> None:
    """The server (answering a request) and an analysis process (each with a connection of
    its own) may both find a captured message unparsed and store its body's facts at the same
    time: the attachment index is written once."""
    from mailqa.core.message import ParsedMessage
    from mailqa.store.repository import Store

    settings = base_settings(tmp_path)
    async with open_service(settings, executor=select_executor, start_executor=False) as service:
        inbox = await service.store.default_inbox(settings.inbox_quota_bytes)
        raw = mail("an invoice", "<p>Your invoice is attached.</p>", b"a,b\n1,2\n")
        message_id = await service.capture(raw, inbox.id)
        uid = (await service.store.get_message(message_id)).uid
        other = Store(service.store.url)  # what an analysis process opens
        try:
            parsed = ParsedMessage(raw)
            saved = await asyncio.gather(
                *[store.save_body(message_id, uid, parsed) for store in (service.store, other)] * 3
            )
        finally:
            await other.close()
        assert saved == [True] * 6
        assert len(await service.store.get_attachments(message_id)) == 1
        assert not await service.store.save_body(message_id, "another uid", parsed)


async def wait_status(stack: Running, message_id: int, within: float = 120) -> str:
    async with stack.client() as c:
        for _ in range(int(within / 0.05)):
            row = (await c.get(f"/api/v1/messages/{message_id}")).json()
            if row["analysis_status"] != "pending":
                return str(row["analysis_status"])
            await asyncio.sleep(0.05)
    raise AssertionError(f"message {message_id} was not analysed within {within} s")


async def latest_id(stack: Running) -> int:
    async with stack.client() as c:
        inbox = (await c.get("/api/v1/inboxes")).json()[0]
        r = await c.get(f"/api/v1/inboxes/{inbox['id']}/messages/latest")
        return int(r.json()["id"])


async def test_the_checks_run_in_analysis_processes(tmp_path: Path) -> None:
    """On the defaults the server's analyses run in child processes; the report they store
    is the one the API serves, attachments and body facts included."""
    settings = base_settings(tmp_path, checks=["headers", "html", "hygiene"])
    assert settings.analysis_processes > 0  # the default
    async with start_stack(settings) as stack:
        executor = stack.service.executor
        assert isinstance(executor, ProcessExecutor)
        raw = mail("in a child", "<table><tr><td>hi</td></tr></table>", b"x,y\n")
        await asyncio.to_thread(stack.smtp_send, raw)
        message_id = await latest_id(stack)
        assert await wait_status(stack, message_id) == "analyzed"
        pids = executor.processes.pids
        assert pids and os.getpid() not in pids
        async with stack.client() as c:
            report = (await c.get(f"/api/v1/messages/{message_id}/report")).json()
            attachments = (await c.get(f"/api/v1/messages/{message_id}/attachments")).json()
        assert set(report["checks"]) == {"headers", "html", "hygiene"}
        assert report["rules_version"] and report["message"]["attachments"] == 1
        assert [a["filename"] for a in attachments] == ["data.csv"]


async def test_an_analysis_asked_for_over_the_api_runs_in_an_analysis_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``POST .../analyze`` answers with the new report, made in a child: the serving
    process's own pipeline is never run."""
    settings = base_settings(tmp_path, checks=["headers", "html"])
    async with start_stack(settings) as stack:
        await asyncio.to_thread(stack.smtp_send, mail("again", "<p>hi</p>"))
        message_id = await latest_id(stack)
        assert await wait_status(stack, message_id) == "analyzed"
        async with stack.client() as c:
            first = (await c.get(f"/api/v1/messages/{message_id}/report")).json()

            async def not_here(*_: object, **__: object) -> None:
                raise AssertionError("the checks ran in the serving process")

            monkeypatch.setattr(stack.service, "analyze", not_here)
            r = await c.post(f"/api/v1/messages/{message_id}/analyze")
            assert r.status_code == 200, r.text
            again = r.json()
            r = await c.post(f"/api/v1/messages/{message_id}/analyze", params={"checks": "html"})
            assert r.status_code == 200, r.text
            html_only = r.json()
        assert again["created_at"] > first["created_at"]  # a new report, stored and served
        assert set(again["checks"]) == {"headers", "html"}
        assert html_only["checks"]["headers"] == again["checks"]["headers"]  # kept, not re-run
        assert html_only["checks"]["html"]["status"] == again["checks"]["html"]["status"]


async def kill_when_under_way(stack: Running, message_id: int) -> int:
    """SIGKILL the analysis process once it has counted its attempt at the message."""
    executor = stack.service.executor
    assert isinstance(executor, ProcessExecutor)
    for _ in range(2400):
        row = await stack.service.store.get_message(message_id)
        if executor.processes.under_way and row.analysis_attempts >= 1:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the analysis never started")
    [pid] = executor.processes.pids
    os.kill(pid, signal.SIGKILL)
    return pid


async def test_a_killed_analysis_process_is_replaced_and_the_message_analysed(
    tmp_path: Path,
) -> None:
    settings = base_settings(
        tmp_path, checks=["html"], analysis_processes=1, smtp_max_message_size=10_000_000
    )
    async with start_stack(settings) as stack:
        await asyncio.to_thread(stack.smtp_send, mail("costly", f"<style>{HEAVY_CSS}</style>"))
        message_id = await latest_id(stack)
        killed = await kill_when_under_way(stack, message_id)
        assert await wait_status(stack, message_id) == "analyzed"
        row = await stack.service.store.get_message(message_id)
        assert row.analysis_attempts == 2
        executor = stack.service.executor
        assert isinstance(executor, ProcessExecutor)
        assert executor.processes.pids and killed not in executor.processes.pids
        # The server went on serving throughout, and a new message is analysed as usual.
        await asyncio.to_thread(stack.smtp_send, mail("after", "<p>hi</p>"))
        assert await wait_status(stack, await latest_id(stack)) == "analyzed"


async def test_a_message_that_kills_its_analyses_is_reported_errored(tmp_path: Path) -> None:
    settings = base_settings(
        tmp_path,
        checks=["html"],
        analysis_processes=1,
        analysis_max_attempts=1,
        smtp_max_message_size=10_000_000,
    )
    async with start_stack(settings) as stack:
        await asyncio.to_thread(stack.smtp_send, mail("poison", f"<style>{HEAVY_CSS}</style>"))
        message_id = await latest_id(stack)
        await kill_when_under_way(stack, message_id)
        assert await wait_status(stack, message_id) == "analyzed"
        async with stack.client() as c:
            report = (await c.get(f"/api/v1/messages/{message_id}/report")).json()
        assert report["checks"]["html"]["status"] == "errored"
        assert "cut short" in report["checks"]["html"]["error"]
        row = await stack.service.store.get_message(message_id)
        assert row.analysis_attempts == 1  # not run again


async def test_analysis_processes_that_cannot_start_give_errored_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A configuration the analysis processes refuse (here a check only this process knows)
    does not leave mail pending for ever: after a few failed starts every analysis is
    reported errored with the reason, and the server goes on capturing."""

    class Unknown(HeadersCheck):
        name = "unknown-elsewhere"

    monkeypatch.setitem(BUILTIN_CHECKS, Unknown.name, Unknown)
    settings = base_settings(tmp_path, checks=[Unknown.name], analysis_processes=1)
    async with start_stack(settings) as stack:
        await asyncio.to_thread(stack.smtp_send, mail("refused", "<p>hi</p>"))
        message_id = await latest_id(stack)
        assert await wait_status(stack, message_id) == "analyzed"
        async with stack.client() as c:
            report = (await c.get(f"/api/v1/messages/{message_id}/report")).json()
            r = await c.post(f"/api/v1/messages/{message_id}/analyze")
        check = report["checks"][Unknown.name]
        assert check["status"] == "errored" and "do not start" in check["error"]
        assert r.status_code == 503 and r.json()["error"] == "analysis_unavailable"
        assert "do not start" in r.json()["message"]


SHUTDOWN_NOISE = (
    "Traceback",
    "Task was destroyed",
    "Exception ignored",
    "restarting",
    "ERROR",
)


@pytest.mark.parametrize("whole_group", [False, True], ids=["server-pid", "process-group"])
def test_ctrl_c_while_analysing_stops_the_server_in_order(
    tmp_path: Path, whole_group: bool
) -> None:
    """``mailqa serve`` stopped with SIGINT (to its pid, or to its process group as a
    terminal's Ctrl-C) while its analysis processes are busy exits 0, quietly, without
    restarting them; what was not analysed yet is analysed at the next start."""
    import smtplib
    import subprocess

    import httpx
    from tests.support.serve_process import serving

    env = {"MAILQA_CHECKS": "html,hygiene,accessibility"}
    page = "<html><body>" + "<p style='display:flex'>hello</p>" * 2000 + "</body></html>"
    with serving(tmp_path / "data", env=env) as served:
        with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=30) as smtp:
            for i in range(12):
                smtp.sendmail("app@app.example", ["user@example.com"], mail(f"m{i}", page))
        url = f"{served.base_url}/api/v1/inboxes/{served.inbox_id}/messages/latest"
        headers = {"Authorization": f"Bearer {served.token}"}
        answer = httpx.get(url, params={"wait": 60, "analyzed": 1}, headers=headers, timeout=90)
        assert answer.status_code == 200, answer.text  # analyses are under way
        if whole_group:
            os.killpg(served.proc.pid, signal.SIGINT)
        else:
            served.proc.send_signal(signal.SIGINT)
        try:
            code = served.proc.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running a minute after SIGINT:\n{served.output}")
    assert code == 0, served.output
    shutdown = served.output.split("Shutting down", 1)[-1]
    assert not [n for n in SHUTDOWN_NOISE if n in shutdown], served.output
