"""Request amplification and connection exhaustion against a real `mailqa serve`.

Each case starts a fresh server in a child process, takes its resident memory once it is
ready, runs the case while a probe pings ``/healthz`` every 50 ms, then prints the server's
peak RSS growth (VmHWM - baseline, from /proc), the longest ``/healthz`` answer (the stall)
and what the client saw.

    .venv/bin/python bench/amplification.py                 # every case
    .venv/bin/python bench/amplification.py --case batch    # one case

Cases: ``unauth-post`` (an unauthenticated 400 MB JSON POST), ``batch`` (a Mailtrap batch of
300 requests sharing a 3 MB base), ``gzip`` (a linked stylesheet with Content-Encoding
"gzip, gzip" expanding to ``--bomb-mb``), ``smtp`` (8 parallel 24 MB SMTP messages),
``slow-headers`` / ``idle-smtp`` (1,100 connections from 20 loopback addresses that send
partial headers / stay idle, against a server limited to 1,024 file descriptors).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import resource
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TOKEN = "mq_bench_amplification_token_0123456789"
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_kb(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


@dataclass
class Server:
    env: dict[str, str]
    nofile: int | None = None
    http_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, data_dir: Path) -> None:
        env = {
            **os.environ,
            "MAILQA_DATA_DIR": str(data_dir),
            "MAILQA_API_TOKEN": TOKEN,
            "MAILQA_HTTP_PORT": str(self.http_port),
            "MAILQA_SMTP_PORT": str(self.smtp_port),
            "MAILQA_CHECKS": "headers",
            "MAILQA_OFFLINE": "true",
            "MAILQA_SPAMD_MANAGED": "off",
            "MAILQA_LOG_LEVEL": "warning",
            **self.env,
        }
        limit = self.nofile

        def preexec() -> None:
            if limit:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailqa.cli.main", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=preexec,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


class Probe:
    """Pings /healthz every 50 ms; the longest answer (or failure) is the stall."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.worst = 0.0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=60) as client:
            while True:
                started = time.monotonic()
                try:
                    await client.get("/healthz")
                except httpx.HTTPError:
                    self.failures += 1
                self.worst = max(self.worst, time.monotonic() - started)
                await asyncio.sleep(0.05)

    def __enter__(self) -> Probe:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


Case = Callable[[Server], Coroutine[Any, Any, str]]


def mail(**extra: Any) -> dict[str, Any]:
    return {
        "from": {"email": "app@example.com"},
        "to": [{"email": "user@example.com"}],
        "subject": "hello",
        **extra,
    }


async def unauth_post(server: Server) -> str:
    sent = 0
    chunk = b" " * MB

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"name": "'
        for _ in range(400):
            sent += len(chunk)
            yield chunk
        yield b'"}'

    async with httpx.AsyncClient(base_url=server.base, timeout=120) as client:
        try:
            r = await client.post(
                "/api/v1/projects",
                content=body(),
                headers={"Content-Type": "application/json", "Content-Length": str(400 * MB + 12)},
            )
            seen = f"HTTP {r.status_code} {r.text[:80]}"
        except httpx.HTTPError as exc:
            seen = f"{type(exc).__name__}"
    return f"{seen}; client sent {sent // MB} MB"


async def batch(server: Server) -> str:
    base = mail(html="<p>" + "x" * (3 * MB) + "</p>")
    data = {"base": base, "requests": [{"subject": f"n{i}"} for i in range(300)]}
    async with httpx.AsyncClient(base_url=server.base, timeout=300) as client:
        r = await client.post("/api/batch", json=data, headers={"Authorization": f"Bearer {TOKEN}"})
    if r.status_code != 200:
        return f"HTTP {r.status_code} {r.text[:120]}"
    responses = r.json()["responses"]
    ok = sum(1 for x in responses if x["success"])
    return f"HTTP 200: {ok} stored, {len(responses) - ok} refused"


def bomb(decoded_mb: int) -> bytes:
    """``decoded_mb`` of CSS-ish bytes, gzipped twice."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"a{}" * (MB // 3)
    inner = bytearray()
    for _ in range(decoded_mb):
        inner += comp.compress(block)
    inner += comp.flush()
    return gzip.compress(bytes(inner), 9)


async def gzip_bomb(server: Server, decoded_mb: int) -> str:
    payload = bomb(decoded_mb)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/css\r\nContent-Encoding: gzip, gzip\r\n"
                + f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    site = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = site.sockets[0].getsockname()[1]
    html = f'<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/s.css"></head>'
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=server.base, timeout=300, headers=headers) as client:
        r = await client.post("/api/send", json=mail(html=f"{html}<body><p>x</p></body></html>"))
        if r.status_code != 200:
            return f"send HTTP {r.status_code} {r.text[:120]}"
        mid = int(r.json()["message_ids"][0])
        deadline = time.monotonic() + 240
        result = "no report"
        while time.monotonic() < deadline:
            rep = await client.get(f"/api/v1/messages/{mid}/report/html")
            if rep.status_code == 200:
                details = rep.json().get("details") or {}
                sheets = details.get("stylesheets") or []
                result = json.dumps(sheets)[:200]
                break
            await asyncio.sleep(0.2)
    site.close()
    return f"{len(payload)} bytes on the wire; stylesheet: {result}"


async def smtp_parallel(server: Server) -> str:
    line = b"A" * 76 + b"\r\n"
    body = line * (24 * MB // len(line))
    raw = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: big\r\n\r\n" + body

    def send() -> str:
        try:
            with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=300) as smtp:
                smtp.sendmail("a@example.com", ["b@example.com"], raw)
            return "250"
        except smtplib.SMTPException as exc:
            return type(exc).__name__

    results = await asyncio.gather(*(asyncio.to_thread(send) for _ in range(8)))
    return "answers: " + ", ".join(results)


def open_sockets(port: int, count: int, first: bytes | None) -> list[socket.socket]:
    socks = []
    for i in range(count):
        s = socket.socket()
        s.bind((f"127.0.0.{2 + i % 20}", 0))
        s.setblocking(True)
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            if first:
                s.sendall(first)
        except OSError:
            s.close()
            continue
        socks.append(s)
    return socks


def still_open(socks: list[socket.socket]) -> int:
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(4096)
            while data:  # a greeting or a refusal may come first
                data = s.recv(4096)
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    return alive


async def reachable(server: Server) -> str:
    http_ok = "no"
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            http_ok = str((await client.get(server.base + "/healthz")).status_code)
    except httpx.HTTPError as exc:
        http_ok = type(exc).__name__
    smtp_ok = "no"
    try:
        with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=3) as smtp:
            smtp_ok = str(smtp.noop()[0])
    except (OSError, smtplib.SMTPException) as exc:
        smtp_ok = type(exc).__name__
    return f"HTTP {http_ok}, SMTP {smtp_ok}"


async def exhaustion(server: Server, kind: str) -> str:
    port = server.http_port if kind == "http" else server.smtp_port
    first = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " if kind == "http" else None
    socks = await asyncio.to_thread(open_sockets, port, 1100, first)
    await asyncio.sleep(1)
    during = await reachable(server)
    held = still_open(socks)
    await asyncio.sleep(8)
    after = still_open(socks)
    for s in socks:
        s.close()
    return (
        f"{len(socks)} connected; open after 1 s: {held}, after 9 s: {after}; while held: {during}"
    )


LIMITED = {
    "MAILQA_HTTP_HEADER_TIMEOUT": "3",
    "MAILQA_SMTP_IDLE_TIMEOUT": "3",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", help="run only these cases")
    parser.add_argument("--bomb-mb", type=int, default=1024, help="decoded stylesheet size")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    cases: dict[str, tuple[Case, dict[str, str], int | None]] = {
        "unauth-post": (unauth_post, {}, None),
        "batch": (batch, {}, None),
        "gzip": (
            lambda s: gzip_bomb(s, args.bomb_mb),
            {
                "MAILQA_CHECKS": "html",
                "MAILQA_OFFLINE": "false",
                "MAILQA_HTML_FETCH_STYLESHEETS": "true",
                "MAILQA_LINK_ALLOW": "127.0.0.1",
            },
            None,
        ),
        "smtp": (smtp_parallel, {"MAILQA_INBOX_QUOTA_BYTES": str(1024 * MB)}, None),
        "slow-headers": (lambda s: exhaustion(s, "http"), LIMITED, 1024),
        "idle-smtp": (lambda s: exhaustion(s, "smtp"), LIMITED, 1024),
    }
    for name, (case, env, nofile) in cases.items():
        if args.case and name not in args.case:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            server = Server(env, nofile)
            server.start(Path(tmp))
            baseline = proc_kb(server.pid, "VmRSS")

            async def run(case: Case = case, server: Server = server) -> tuple[str, Probe, float]:
                with Probe(server.base) as probe:
                    started = time.monotonic()
                    seen = await case(server)
                    return seen, probe, time.monotonic() - started

            try:
                seen, probe, took = asyncio.run(run())
                peak = proc_kb(server.pid, "VmHWM")
            finally:
                server.stop()
        print(
            f"{name:13} peak RSS +{(peak - baseline) / 1024:7.0f} MB  "
            f"worst /healthz {probe.worst:6.2f} s  took {took:6.1f} s  {seen}",
            flush=True,
        )


if __name__ == "__main__":
    main()
