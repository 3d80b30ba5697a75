"""A full analysis queue slows intake, never loses a message.

While ``MAILQA_ANALYSIS_QUEUE_MAX`` analyses wait, capture stores nothing more: SMTP answers
``451 4.3.2`` (the client keeps the message and tries again), the upload and send APIs ``503``
with ``analysis_queue_full`` and ``Retry-After``. Once the queue drains, the same message is
accepted. The analyses are held back for real: the analysis processes are stopped
(``SIGSTOP``) while the queue fills, and let go (``SIGCONT``) to drain it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.support.messages import make_message
from tests.support.stack import Running, base_settings, start_stack

from mailqa.service import open_service
from mailqa.worker.processes import ProcessExecutor
from mailqa.worker.selection import select_executor

QUEUE_MAX = 3


def smtp_send(stack: Running, raw: bytes) -> tuple[int, bytes]:
    """One message over a real SMTP session; the server's answer to the DATA."""
    with smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=30) as smtp:
        smtp.ehlo("client.test")
        try:
            smtp.sendmail("app@app.example", ["user@example.com"], raw)
        except smtplib.SMTPDataError as exc:
            error = exc.smtp_error
            return exc.smtp_code, error if isinstance(error, bytes) else error.encode()
        return 250, b""


@contextmanager
def analyses_held(executor: ProcessExecutor) -> Iterator[None]:
    """The analysis processes stopped (their analyses neither finish nor fail) until exit."""
    pids = executor.processes.pids
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


async def analysed(stack: Running, inbox_id: int, count: int, within: float = 120) -> None:
    """Poll until the inbox holds ``count`` messages, all analysed."""
    async with stack.client() as c:
        for _ in range(int(within / 0.05)):
            rows = (await c.get(f"/api/v1/inboxes/{inbox_id}/messages")).json()["messages"]
            if len(rows) == count and all(r["analysis_status"] == "analyzed" for r in rows):
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"inbox {inbox_id}: {count} analysed messages not there in {within} s")


@pytest.mark.slow
async def test_a_full_queue_defers_smtp_and_http_and_nothing_is_lost(tmp_path: Path) -> None:
    settings = base_settings(tmp_path, analysis_queue_max=QUEUE_MAX, analysis_processes=1)
    async with start_stack(settings) as stack:
        executor = stack.service.executor
        assert isinstance(executor, ProcessExecutor)
        first = make_message("before the burst")
        assert await asyncio.to_thread(smtp_send, stack, first) == (250, b"")
        async with stack.client() as c:
            inbox_id = int((await c.get("/api/v1/inboxes")).json()[0]["id"])
        await analysed(stack, inbox_id, 1)  # the analysis process is up

        with analyses_held(executor):
            accepted = []
            for i in range(QUEUE_MAX):
                code, _ = await asyncio.to_thread(smtp_send, stack, make_message(f"queued {i}"))
                assert code == 250
                accepted.append(f"queued {i}")
            assert executor.backlog == QUEUE_MAX
            deferred = make_message("deferred")
            code, text = await asyncio.to_thread(smtp_send, stack, deferred)
            assert code == 451 and text.startswith(b"4.3.2 ")
            async with stack.client() as c:
                upload = await c.post(
                    f"/api/v1/inboxes/{inbox_id}/messages",
                    content=make_message("uploaded"),
                    headers={"Content-Type": "message/rfc822"},
                )
                send = await c.post(
                    f"/api/send/{inbox_id}",
                    json={
                        "from": {"email": "app@app.example"},
                        "to": [{"email": "user@example.com"}],
                        "subject": "sent",
                        "text": "hello",
                    },
                )
                listed = (await c.get(f"/api/v1/inboxes/{inbox_id}/messages")).json()
            assert upload.status_code == 503, upload.text
            assert upload.json()["error"] == "analysis_queue_full"
            assert "MAILQA_ANALYSIS_QUEUE_MAX=3" in upload.json()["message"]
            assert int(upload.headers["Retry-After"]) > 0
            assert send.status_code == 503, send.text
            assert (
                send.json()["success"] is False
                and "wait for their analysis" in (send.json()["errors"][0])
            )
            assert int(send.headers["Retry-After"]) > 0
            # Nothing refused was stored: the inbox holds what was acknowledged, no more.
            assert sorted(m["subject"] for m in listed["messages"]) == sorted(
                ["before the burst", *accepted]
            )

        # The queue drains; the deferred message, sent again as a client retries, gets in.
        await analysed(stack, inbox_id, 1 + QUEUE_MAX)
        assert await asyncio.to_thread(smtp_send, stack, deferred) == (250, b"")
        await analysed(stack, inbox_id, 2 + QUEUE_MAX)
        async with stack.client() as c:
            rows = (await c.get(f"/api/v1/inboxes/{inbox_id}/messages")).json()["messages"]
        assert sorted(r["subject"] for r in rows) == sorted(
            ["before the burst", *accepted, "deferred"]
        )
        metrics = stack.service.metrics.messages_rejected
        assert metrics.labels("smtp", "queue_full")._value.get() == 1
        assert metrics.labels("http", "queue_full")._value.get() == 1


async def test_messages_left_unanalysed_at_a_stop_are_analysed_at_the_next_start(
    tmp_path: Path,
) -> None:
    """Stored, acknowledged, never analysed (the server stopped first): the next start queues
    every one of them, past the queue's bound, and analyses them all."""
    settings = base_settings(tmp_path, analysis_queue_max=QUEUE_MAX)
    unbounded = settings.model_copy(update={"analysis_queue_max": 0})
    async with open_service(unbounded, executor=select_executor, start_executor=False) as service:
        inbox = await service.store.default_inbox(settings.inbox_quota_bytes)
        ids = [
            await service.capture(make_message(f"left {i}"), inbox.id, source="smtp")
            for i in range(2 * QUEUE_MAX)
        ]
        assert len(await service.store.pending_messages()) == len(ids)
    async with start_stack(settings) as stack:
        await analysed(stack, inbox.id, len(ids))
        assert await stack.service.store.pending_messages() == []
        assert stack.service.queue_full() is None  # drained: capture takes mail again
