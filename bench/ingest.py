"""SMTP capture benchmark: mailqa on its defaults against the simplest peers, in one run.

N connections send M messages (a ~28 KB multipart transactional mail) to each server in
turn, every message authenticated with AUTH PLAIN, then the bench counts what each stored:

* ``sink``: a bare aiosmtpd server that appends every message to a file (the floor of any
  Python SMTP capture);
* ``maildev``: MailDev 3 (npm, installed into ``bench/`` with ``npm install``) persisting
  every message to a directory;
* mailqa: ``mailqa serve`` with the default checks (``--checks`` to choose), its managed
  spamd and SQLite.

For each: messages/s until the last ``250``, the ratio of mailqa to each peer, server CPU per
message, lost messages (acknowledged, not stored: must be 0). For mailqa also: the time until
every message is analysed, and analyses/s against spamd's own REPORT throughput on the same
mail (the managed spamd's configuration, the same concurrency: the floor of analysis).

    .venv/bin/python bench/ingest.py                      # 2000 x 28 KB over 8 connections
    .venv/bin/python bench/ingest.py --peer sink --checks headers --messages 500
    .venv/bin/python bench/ingest.py --peer none --profile /tmp/serve.svg   # py-spy flame graph
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

TOKEN = "mq_bench_token_0123456789abcdef"
BENCH_DIR = Path(__file__).resolve().parent
MAILDEV = BENCH_DIR / "node_modules" / ".bin" / "maildev"
SINK_SEPARATOR = b"\n--mailqa-bench-sink-message-end--\n"
DISTINCT_BODIES = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def realistic_message(i: int, size: int) -> bytes:
    """A multipart/alternative transactional mail of about ``size`` bytes."""
    row = "<tr><td style='padding:8px;font-family:Arial'>Item {n}</td><td>$ {n}.00</td></tr>\r\n"
    html_rows = "".join(row.format(n=n) for n in range(max(1, size * 2 // 3 // len(row))))
    text_rows = "".join(f"Item {n}  $ {n}.00\r\n" for n in range(max(1, size // 3 // 20)))
    return (
        f"From: Shop <orders@shop.example>\r\nTo: customer{i}@example.com\r\n"
        f"Subject: Your order #{i} has shipped\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@shop.example>\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="b{i}"\r\n\r\n'
        f"--b{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text_rows}\r\n"
        f"--b{i}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"<html><body><table>{html_rows}</table></body></html>\r\n--b{i}--\r\n"
    ).encode()


# The client -----------------------------------------------------------------------------------


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
        auth = base64.b64encode(b"\0any\0" + TOKEN.encode())
        await client.command(b"AUTH PLAIN " + auth, 235)
        return client

    async def reply(self) -> tuple[int, bytes]:
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("the server closed the connection")
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), line

    async def command(self, line: bytes, expect: int) -> None:
        self.writer.write(line + b"\r\n")
        code, text = await self.reply()
        if code != expect:
            raise RuntimeError(f"{line[:20]!r}: {text!r}")

    async def send(self, raw: bytes) -> float | None:
        """One transaction: the seconds until its ``250``, or None on a 4xx (try again)."""
        await self.command(b"MAIL FROM:<orders@shop.example>", 250)
        await self.command(b"RCPT TO:<customer@example.com>", 250)
        await self.command(b"DATA", 354)
        body = raw.replace(b"\r\n.", b"\r\n..")
        started = time.perf_counter()
        self.writer.write(body + b".\r\n")
        code, text = await self.reply()
        if 400 <= code < 500:
            return None
        if code != 250:
            raise RuntimeError(f"DATA: {text!r}")
        return time.perf_counter() - started

    async def close(self) -> None:
        self.writer.write(b"QUIT\r\n")
        await self.writer.drain()
        self.writer.close()


@dataclass
class Sent:
    latencies: list[float] = field(default_factory=list)
    deferred: int = 0  # 4xx answers, sent again


async def run_clients(port: int, clients: int, bodies: list[bytes], messages: int) -> Sent:
    sent = Sent()
    counter = iter(range(messages))

    async def worker() -> None:
        client = await SmtpClient.connect(port)
        for i in counter:
            while (latency := await client.send(bodies[i % len(bodies)])) is None:
                sent.deferred += 1
                await asyncio.sleep(0.05)  # the server asked to come back later
            sent.latencies.append(latency)
        await client.close()

    await asyncio.gather(*(worker() for _ in range(clients)))
    return sent


# The servers ----------------------------------------------------------------------------------


def serve_sink(port: int, path: Path) -> None:
    """The bare aiosmtpd sink: accept any login, append each message to ``path``."""
    from aiosmtpd.smtp import SMTP, AuthResult

    class Sink:
        def __init__(self) -> None:
            self.out = path.open("ab")

        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            self.out.write(envelope.original_content + SINK_SEPARATOR)  # type: ignore[attr-defined]
            self.out.flush()
            return "250 OK"

    handler = Sink()

    def accept(*_: object) -> AuthResult:
        return AuthResult(success=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(
                handler,
                decode_data=False,
                authenticator=accept,
                auth_required=True,
                auth_require_tls=False,
                data_size_limit=50 * 2**20,
            ),
            "127.0.0.1",
            port,
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} at start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {limit:g} s")


def cpu_seconds(proc: psutil.Process, *, tree: bool = False) -> float:
    """User + system CPU of ``proc`` (and of its live children with ``tree``)."""
    procs = [proc, *proc.children(recursive=True)] if tree else [proc]
    total = 0.0
    for p in procs:
        try:
            times = p.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
        if p is proc and tree:
            total += times.children_user + times.children_system
    return total


@contextmanager
def running(
    command: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Result:
    name: str
    messages: int
    seconds: float
    cpu_ms: float
    stored: int
    sent: Sent
    notes: list[str] = field(default_factory=list)
    analysed_per_second: float | None = None

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def lines(self) -> list[str]:
        lat = sorted(self.sent.latencies)
        return [
            f"{self.name}: {self.rate:.0f} msg/s ({self.seconds:.2f} s), "
            f"250 latency p50 {statistics.median(lat) * 1000:.1f} ms / "
            f"p99 {lat[max(0, int(len(lat) * 0.99) - 1)] * 1000:.1f} ms, "
            f"CPU {self.cpu_ms:.2f} ms/msg, lost {self.messages - self.stored} "
            f"(acknowledged {self.messages}, stored {self.stored}"
            + (
                f", {self.sent.deferred} deferred with 4xx and sent again"
                if self.sent.deferred
                else ""
            )
            + ")",
            *(f"  {note}" for note in self.notes),
        ]


def poll_count(count: Callable[[], int], want: int, limit: float) -> int:
    """``count()`` until it reaches ``want`` or ``limit`` seconds pass (writes that finish
    after the ``250`` are given that long)."""
    deadline = time.monotonic() + limit
    got = count()
    while got < want and time.monotonic() < deadline:
        time.sleep(0.1)
        got = count()
    return got


def bench_sink(args: argparse.Namespace, bodies: list[bytes], work: Path) -> Result:
    port, path = free_port(), work / "sink.mbox"
    command = [sys.executable, __file__, "--serve-sink", str(port), str(path)]
    with running(command) as proc:
        wait_port(port, proc, "the sink")
        ps = psutil.Process(proc.pid)
        cpu = cpu_seconds(ps)
        started = time.perf_counter()
        sent = asyncio.run(run_clients(port, args.clients, bodies, args.messages))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(ps) - cpu
        stored = poll_count(
            lambda: path.read_bytes().count(SINK_SEPARATOR) if path.exists() else 0,
            args.messages,
            10,
        )
    return Result(
        "sink (aiosmtpd, append to a file)",
        args.messages,
        elapsed,
        cpu / args.messages * 1000,
        stored,
        sent,
    )


def bench_maildev(args: argparse.Namespace, bodies: list[bytes], work: Path) -> Result | None:
    if not MAILDEV.exists():
        print(f"maildev: not installed ({MAILDEV}); run `npm install` in bench/", file=sys.stderr)
        return None
    port, web, mail_dir = free_port(), free_port(), work / "maildev"
    mail_dir.mkdir()
    command = [
        str(MAILDEV),
        "--smtp", str(port), "--ip", "127.0.0.1",
        "--web", str(web), "--web-ip", "127.0.0.1",
        "--mail-directory", str(mail_dir),
        "--incoming-user", "any", "--incoming-pass", TOKEN,
        "--silent",
    ]  # fmt: skip
    with running(command) as proc:
        wait_port(port, proc, "maildev")
        ps = psutil.Process(proc.pid)
        cpu = cpu_seconds(ps, tree=True)
        started = time.perf_counter()
        sent = asyncio.run(run_clients(port, args.clients, bodies, args.messages))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(ps, tree=True) - cpu
        stored = poll_count(
            lambda: sum(1 for p in mail_dir.iterdir() if p.suffix == ".eml"), args.messages, 10
        )
    return Result(
        "MailDev 3 (persisting to a directory)",
        args.messages,
        elapsed,
        cpu / args.messages * 1000,
        stored,
        sent,
    )


def analysed_count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM messages WHERE analysis_status = 'analyzed'"
            ).fetchone()
        return int(row[0])
    except sqlite3.Error:
        return 0


def bench_mailqa(args: argparse.Namespace, bodies: list[bytes], work: Path) -> Result:
    data_dir = work / "mailqa"
    data_dir.mkdir()
    http_port, smtp_port = free_port(), free_port()
    env = {
        **os.environ,
        "MAILQA_DATA_DIR": str(data_dir),
        "MAILQA_HTTP_PORT": str(http_port),
        "MAILQA_SMTP_PORT": str(smtp_port),
        "MAILQA_API_TOKEN": TOKEN,
        "MAILQA_SMTP_ALLOW_ADMIN_TOKENS": "true",  # the clients log in with the admin token
        "MAILQA_CHECKS": args.checks,
        "MAILQA_OFFLINE": "true",  # no DNS or HTTP from the checks: the machine's own work
        "MAILQA_LOG_LEVEL": "warning",
    }
    if args.database_url:
        env["MAILQA_DATABASE_URL"] = args.database_url
    command = [sys.executable, "-m", "mailqa.cli.main", "serve"]
    with running(command, env) as proc:
        base = f"http://127.0.0.1:{http_port}"
        wait_port(http_port, proc, "mailqa serve")
        ps = psutil.Process(proc.pid)
        profiler = None
        if args.profile:
            kind = "speedscope" if args.profile.endswith(".json") else "flamegraph"
            profiler = subprocess.Popen(
                [args.py_spy, "record", "--pid", str(proc.pid), "--output", args.profile,
                 "--rate", "200", "--format", kind],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1)  # py-spy attaches
        cpu_serving, cpu_tree = cpu_seconds(ps), cpu_seconds(ps, tree=True)
        started = time.perf_counter()
        sent = asyncio.run(run_clients(smtp_port, args.clients, bodies, args.messages))
        elapsed = time.perf_counter() - started
        cpu_serving = cpu_seconds(ps) - cpu_serving
        if profiler is not None:
            profiler.send_signal(2)  # SIGINT: py-spy writes its output
            profiler.wait(60)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        inboxes = httpx.get(f"{base}/api/v1/inboxes", headers=headers).json()
        stored = sum(
            httpx.get(
                f"{base}/api/v1/inboxes/{i['id']}/messages", params={"per_page": 1}, headers=headers
            ).json()["total"]
            for i in inboxes
        )
        notes = []
        if not args.database_url:
            db = data_dir / "mailqa.db"
            analysed = poll_count(lambda: analysed_count(db), stored, args.analysis_timeout)
            done = time.perf_counter() - started
            cpu_tree = cpu_seconds(ps, tree=True) - cpu_tree
            notes.append(
                f"analysed {analysed}/{stored}: every message analysed {done:.1f} s after the "
                f"first was sent ({done - elapsed:.1f} s after the last 250), "
                f"{analysed / done:.1f} analyses/s; CPU with analysis and spamd "
                f"{cpu_tree / args.messages * 1000:.1f} ms/msg"
            )
    return Result(
        "mailqa",
        args.messages,
        elapsed,
        cpu_serving / args.messages * 1000,
        stored,
        sent,
        notes,
        analysed / done if notes else None,
    )


def spamd_floor(bodies: list[bytes], count: int, concurrency: int, children: int) -> float | None:
    """REPORT throughput of a spamd configured as mailqa's managed one, on the same mail."""
    from mailqa.net.spamd.client import SpamdClient
    from mailqa.net.spamd.process import ManagedSpamd, find_spamd

    if find_spamd() is None:
        return None

    async def scan() -> float:
        async with ManagedSpamd(children=children) as spamd:
            client = SpamdClient(spamd.url, concurrency=concurrency, timeout=60)
            await client.report(bodies[0])  # warm
            todo = iter(range(count))

            async def one() -> None:
                for i in todo:
                    await client.report(bodies[i % len(bodies)])

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(concurrency)))
            return count / (time.perf_counter() - started)

    return asyncio.run(scan())


def main() -> None:
    if sys.argv[1:2] == ["--serve-sink"]:
        serve_sink(int(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=28_000, help="approximate bytes per message")
    parser.add_argument(
        "--checks", default="", help="the checks mailqa runs (default: every default-on check)"
    )
    parser.add_argument(
        "--peer",
        action="append",
        choices=["sink", "maildev", "none"],
        help="peers to measure in the same run (repeatable; default: sink and maildev)",
    )
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument(
        "--analysis-timeout", type=float, default=900, help="seconds to wait for the analyses"
    )
    parser.add_argument(
        "--floor-messages", type=int, default=DISTINCT_BODIES, help="REPORTs of the spamd floor"
    )
    parser.add_argument("--profile", help="py-spy output of the serving process during capture")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    args = parser.parse_args()
    peers = args.peer or ["sink", "maildev"]
    if "none" in peers:
        peers = []

    bodies = [realistic_message(i, args.size) for i in range(min(args.messages, DISTINCT_BODIES))]
    print(
        f"{args.messages} messages of {statistics.mean(map(len, bodies)) / 1000:.1f} KB over "
        f"{args.clients} connections; mailqa checks: {args.checks or 'the defaults'}, "
        f"db {'SQLite' if not args.database_url else args.database_url.split(':')[0]}; "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )
    work = Path(tempfile.mkdtemp(prefix="mailqa-bench-"))
    try:
        results: dict[str, Result] = {}
        if "sink" in peers:
            results["sink"] = bench_sink(args, bodies, work)
        if "maildev" in peers and (maildev := bench_maildev(args, bodies, work)) is not None:
            results["maildev"] = maildev
        mailqa = bench_mailqa(args, bodies, work)
        for result in [*results.values(), mailqa]:
            print("\n".join(result.lines()))
        for key, result in results.items():
            print(f"mailqa / {key}: {mailqa.rate / result.rate:.2f}x")
        analysed = mailqa.analysed_per_second
        if analysed is not None and (not args.checks or "spam" in args.checks.split(",")):
            floor = spamd_floor(bodies, args.floor_messages, concurrency=2, children=2)
            if floor is not None:
                print(
                    f"spamd alone (REPORT, 2 children, 2 at a time, same mail): {floor:.1f}/s; "
                    f"mailqa analyses/s / spamd: {analysed / floor:.2f}x"
                )
        print(f"load average at end {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
