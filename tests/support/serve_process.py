"""A real ``mailqa serve`` in a child process, and what it printed at start-up."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
TOKEN_LINE = re.compile(r"^Admin API token \(shown once\): (\S+)$", re.M)
INBOX_LINE = re.compile(r"^Default inbox: id (\d+)", re.M)
SMTP_LOGIN_LINE = re.compile(r"its SMTP login: username (\S+), password (\S+)")
NODE_CA_LINE = re.compile(r"^  export NODE_EXTRA_CA_CERTS=(\S+)", re.M)
PYTHON_CA_LINE = re.compile(r"^  export REQUESTS_CA_BUNDLE=(\S+)", re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServeProcess:
    proc: subprocess.Popen[str]
    base_url: str
    http_port: int
    smtp_port: int
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def printed(self, pattern: re.Pattern[str]) -> str | None:
        found = pattern.search(self.output)
        return found.group(1) if found else None

    @property
    def token(self) -> str:
        token = self.printed(TOKEN_LINE)
        assert token, self.output
        return token

    @property
    def inbox_id(self) -> int:
        inbox = self.printed(INBOX_LINE)
        assert inbox, self.output
        return int(inbox)

    @property
    def ca_file(self) -> Path:
        ca = self.printed(NODE_CA_LINE)
        assert ca, self.output
        return Path(ca)


def _read_lines(proc: subprocess.Popen[str], into: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        into.append(line.rstrip("\n"))


def _verify(served: ServeProcess, ca_file: Path | None) -> ssl.SSLContext | bool:
    """How to verify the server: ``ca_file``, else the local CA once start-up printed it."""
    if not served.base_url.startswith("https:"):
        return True
    ca = str(ca_file) if ca_file else served.printed(NODE_CA_LINE)
    return ssl.create_default_context(cafile=ca) if ca else False


@contextmanager
def serving(
    data_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    https: bool = False,
    ca_file: Path | None = None,
    within: float = 120.0,
) -> Iterator[ServeProcess]:
    """``mailqa serve --data-dir DATA_DIR ARGS`` on free loopback ports, until /healthz answers
    (over https when ``https``, verified with ``ca_file`` or the local CA it prints); stopped
    with SIGTERM on exit. It runs in a session of its own, so that a test can signal its
    whole process group as a terminal's Ctrl-C does."""
    http_port, smtp_port = free_port(), free_port()
    command = [sys.executable, "-m", "mailqa.cli.main", "serve", "--data-dir", str(data_dir)]
    command += ["--http-port", str(http_port), "--smtp-port", str(smtp_port), *args]
    values = {key: value for key, value in os.environ.items() if not key.startswith("MAILQA_")}
    values["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p
    )  # this checkout's mailqa, whatever the working directory
    values.update({"MAILQA_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1", **(env or {})})
    proc = subprocess.Popen(
        command,
        env=values,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    scheme = "https" if https else "http"
    served = ServeProcess(proc, f"{scheme}://127.0.0.1:{http_port}", http_port, smtp_port)
    reader = threading.Thread(target=_read_lines, args=(proc, served.lines), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + within
        while True:
            if proc.poll() is not None:
                reader.join(5)
                raise RuntimeError(f"mailqa serve exited {proc.returncode}:\n{served.output}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"mailqa serve did not start:\n{served.output}")
            verify = _verify(served, ca_file)
            if verify is not False:
                try:
                    answer = httpx.get(f"{served.base_url}/healthz", verify=verify, timeout=2)
                    if answer.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        reader.join(5)
