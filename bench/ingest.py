"""SMTP ingest benchmark: N concurrent clients send M messages to a real `mailqa serve`.

Prints messages/s, p50/p99 latency of the 250 reply, the server's peak RSS, and how many
acknowledged messages are missing from the store (must be 0).

    .venv/bin/python bench/ingest.py --clients 16 --messages 3000 --size 8000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import psutil

TOKEN = "mq_bench_token_0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def realistic_message(i: int, size: int) -> bytes:
    """A multipart/alternative transactional mail of about ``size`` bytes."""
    row = "<tr><td style='padding:8px;font-family:Arial'>Item {n}</td><td>$ {n}.00</td></tr>\r\n"
    html_rows = "".join(row.format(n=n) for n in range(max(1, size // 2 // len(row))))
    text_rows = "".join(f"Item {n}  $ {n}.00\r\n" for n in range(max(1, size // 4 // 20)))
    return (
        f"From: Shop <orders@shop.example>\r\nTo: customer{i}@example.com\r\n"
        f"Subject: Your order #{i} has shipped\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@shop.example>\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="b{i}"\r\n\r\n'
        f"--b{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text_rows}\r\n"
        f"--b{i}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"<html><body><table>{html_rows}</table></body></html>\r\n--b{i}--\r\n"
    ).encode()


class SmtpClient:
    """Just enough SMTP for a benchmark: one connection, many transactions."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> SmtpClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        await client.reply()
        await client.command(b"EHLO bench.example", 250)
        import base64

        auth = base64.b64encode(b"\0any\0" + TOKEN.encode())
        await client.command(b"AUTH PLAIN " + auth, 235)
        return client

    async def reply(self) -> tuple[int, bytes]:
        while True:
            line = await self.reader.readline()
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), line

    async def command(self, line: bytes, expect: int) -> None:
        self.writer.write(line + b"\r\n")
        code, text = await self.reply()
        if code != expect:
            raise RuntimeError(f"{line[:20]!r}: {text!r}")

    async def send(self, raw: bytes) -> float:
        await self.command(b"MAIL FROM:<orders@shop.example>", 250)
        await self.command(b"RCPT TO:<customer@example.com>", 250)
        await self.command(b"DATA", 354)
        body = raw.replace(b"\r\n.", b"\r\n..")
        started = time.perf_counter()
        self.writer.write(body + b".\r\n")
        code, text = await self.reply()
        if code != 250:
            raise RuntimeError(f"DATA: {text!r}")
        return time.perf_counter() - started

    async def close(self) -> None:
        self.writer.write(b"QUIT\r\n")
        await self.writer.drain()
        self.writer.close()


async def run_clients(port: int, clients: int, messages: int, size: int) -> list[float]:
    bodies = [realistic_message(i, size) for i in range(min(messages, 200))]
    latencies: list[float] = []
    counter = iter(range(messages))

    async def worker() -> None:
        client = await SmtpClient.connect(port)
        for i in counter:
            latencies.append(await client.send(bodies[i % len(bodies)]))
        await client.close()

    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--size", type=int, default=8000, help="approximate bytes per message")
    parser.add_argument("--checks", default="headers", help="checks the server runs inline")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="mailqa-bench-"))
    http_port, smtp_port = free_port(), free_port()
    env = {
        **os.environ,
        "MAILQA_DATA_DIR": str(data_dir),
        "MAILQA_HTTP_PORT": str(http_port),
        "MAILQA_SMTP_PORT": str(smtp_port),
        "MAILQA_API_TOKEN": TOKEN,
        "MAILQA_SMTP_ALLOW_ADMIN_TOKENS": "true",  # the clients log in with the admin token
        "MAILQA_CHECKS": args.checks,
        "MAILQA_OFFLINE": "true",
        "MAILQA_LOG_LEVEL": "warning",
    }
    if args.database_url:
        env["MAILQA_DATABASE_URL"] = args.database_url
    server = subprocess.Popen(
        [sys.executable, "-m", "mailqa.cli.main", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak_rss = 0
    stop = threading.Event()

    def sample_rss() -> None:
        nonlocal peak_rss
        proc = psutil.Process(server.pid)
        while not stop.is_set():
            try:
                peak_rss = max(peak_rss, proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    try:
        base = f"http://127.0.0.1:{http_port}"
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        threading.Thread(target=sample_rss, daemon=True).start()
        server_proc = psutil.Process(server.pid)
        cpu_before = sum(server_proc.cpu_times()[:2])
        started = time.perf_counter()
        latencies = asyncio.run(run_clients(smtp_port, args.clients, args.messages, args.size))
        elapsed = time.perf_counter() - started
        cpu_used = sum(server_proc.cpu_times()[:2]) - cpu_before
        headers = {"Authorization": f"Bearer {TOKEN}"}
        status = httpx.get(f"{base}/pro/api/sandbox", headers=headers).json()
        inbox = httpx.get(f"{base}/api/v1/inboxes", headers=headers).json()
        stored = sum(
            httpx.get(
                f"{base}/api/v1/inboxes/{i['id']}/messages", params={"per_page": 1}, headers=headers
            ).json()["total"]
            for i in inbox
        )
        stop.set()
        lat = sorted(latencies)
        print(
            f"clients={args.clients} messages={len(lat)} size~{args.size}B "
            f"checks={args.checks} db={'sqlite' if not args.database_url else 'custom'}"
        )
        print(f"throughput: {len(lat) / elapsed:.0f} messages/s ({elapsed:.2f} s)")
        print(
            f"250 latency: p50 {statistics.median(lat) * 1000:.1f} ms, "
            f"p99 {lat[int(len(lat) * 0.99) - 1] * 1000:.1f} ms"
        )
        print(
            f"server CPU: {cpu_used / len(lat) * 1000:.2f} ms per message "
            f"({cpu_used / elapsed * 100:.0f}% of a core; machine load {os.getloadavg()[0]:.1f})"
        )
        print(f"server peak RSS: {peak_rss / 2**20:.0f} MB; stored bytes {status['used']}")
        print(f"lost: {len(lat) - stored} (acknowledged {len(lat)}, stored {stored})")
    finally:
        stop.set()
        server.terminate()
        server.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
