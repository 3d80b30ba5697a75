"""A message acknowledged with 250 survives kill -9 of the server and is analysed on restart."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.support.messages import make_message

TOKEN = "mq_crash_test_token_abcdefghijkl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(data_dir: Path, http_port: int, smtp_port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MAILQA_DATA_DIR": str(data_dir),
        "MAILQA_HTTP_PORT": str(http_port),
        "MAILQA_SMTP_PORT": str(smtp_port),
        "MAILQA_API_TOKEN": TOKEN,
        "MAILQA_SMTP_ALLOW_ADMIN_TOKENS": "true",  # the test logs in with the admin token
        "MAILQA_CHECKS": "headers",
        "MAILQA_OFFLINE": "true",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailqa.cli.main", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(proc.stdout.read().decode() if proc.stdout else "server died")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


@pytest.mark.slow
def test_kill_9_after_250_loses_nothing(tmp_path: Path) -> None:
    http_port, smtp_port = free_port(), free_port()
    proc = start(tmp_path, http_port, smtp_port)
    try:
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.login("any", TOKEN)
            subjects = [f"Survivor {i}" for i in range(5)]
            for subject in subjects:
                smtp.sendmail("a@app.example", ["b@example.com"], make_message(subject))
            proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    proc = start(tmp_path, http_port, smtp_port)
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        listing = httpx.get(
            f"http://127.0.0.1:{http_port}/pro/api/sandbox/messages", headers=headers
        ).json()
        assert sorted(m["subject"] for m in listing["messages"]) == subjects
        deadline = time.monotonic() + 120
        pending = {m["id"] for m in listing["messages"]}
        while pending and time.monotonic() < deadline:
            for mid in list(pending):
                r = httpx.get(
                    f"http://127.0.0.1:{http_port}/api/v1/messages/{mid}/report", headers=headers
                )
                if r.status_code == 200:
                    pending.discard(mid)
            time.sleep(0.1)
        assert not pending, "messages left unanalysed after restart"
    finally:
        proc.terminate()
        proc.wait(10)
