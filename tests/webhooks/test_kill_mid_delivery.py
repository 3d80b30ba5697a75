"""A ``mailqa serve`` killed with SIGKILL while a webhook delivery is under way loses no
event: the next server delivers it again (same ``webhook-id``) and everything after it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.support.serve_process import serving
from tests.webhooks.receiver import Receiver

TOKEN = "mq_webhook_kill_test_token_0123456789"


def mail(subject: str) -> bytes:
    return (
        f"From: App <app@app.example>\r\nTo: user@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@app.example>\r\n\r\nHello.\r\n"
    ).encode()


def wait_for(what: Callable[[], bool], within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    while not what():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_mid_delivery_loses_nothing(tmp_path: Path) -> None:
    env = {
        "MAILQA_API_TOKEN": TOKEN,
        "MAILQA_CHECKS": "headers",
        "MAILQA_OFFLINE": "true",
        "MAILQA_WEBHOOK_ALLOW": "127.0.0.1",
        "MAILQA_WEBHOOK_TIMEOUT": "2",
        "MAILQA_WEBHOOK_BACKOFF_SECONDS": "0.1",
        "MAILQA_WEBHOOK_BACKOFF_MAX_SECONDS": "0.5",
        "MAILQA_WEBHOOK_POLL_SECONDS": "0.2",
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    receiver = Receiver()
    receiver.start()
    receiver.hold.set()  # the first delivery hangs: the server dies while it is under way
    try:
        with serving(tmp_path / "data", env=env) as served:
            api = f"{served.base_url}/api/v1"
            r = httpx.post(
                f"{api}/webhooks",
                json={
                    "url": receiver.url,
                    "events": ["message.received", "report.completed"],
                    "inbox_id": served.inbox_id,
                },
                headers=headers,
            )
            assert r.status_code == 201, r.text
            hook = r.json()["id"]
            for i in range(3):
                r = httpx.post(
                    f"{api}/inboxes/{served.inbox_id}/messages",
                    content=mail(f"k{i}"),
                    headers={**headers, "content-type": "message/rfc822"},
                )
                assert r.status_code == 201, r.text
            wait_for(lambda: len(receiver.received) >= 1)
            in_flight = receiver.received[0].id
            os.killpg(served.proc.pid, signal.SIGKILL)
            served.proc.wait(30)
        receiver.hold.clear()
        assert receiver.answered == []

        with serving(tmp_path / "data", env=env) as again:
            api = f"{again.base_url}/api/v1"

            def delivered() -> bool:
                r = httpx.get(f"{api}/webhooks/{hook}/events", headers=headers)
                found = r.json()
                return len(found) == 6 and all(e["status"] == "delivered" for e in found)

            wait_for(delivered)
            logged = httpx.get(f"{api}/webhooks/{hook}/events", headers=headers).json()
    finally:
        receiver.stop()

    ids = [e["webhook_id_header"] for e in reversed(logged)]
    assert receiver.answered_ids() == ids  # each once, in the order written
    assert ids[0] == in_flight  # the one cut short went out again, with its id
    kinds: dict[int, list[str]] = {}
    for got in receiver.answered:
        kinds.setdefault(got.json["data"]["message_id"], []).append(got.json["type"])
    assert list(kinds.values()) == [["message.received", "report.completed"]] * 3
