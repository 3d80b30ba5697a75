"""Audit throughput: `mailqa audit` over generated mail, in processes and on Celery workers.

Prints messages/s and the peak RSS of the largest process for --jobs 1, --jobs 2, and for
one and two Celery workers (those need Redis and PostgreSQL; skipped when absent).

    .venv/bin/python bench/audit.py [--messages 10000] [--no-celery]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
MAILQA = [sys.executable, "-m", "mailqa.cli.main"]
HOSTS = ["shop.local.test", "cdn.local.test", "track.local.test", "img.local.test"]
PG_ADMIN = os.environ.get("MAILQA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("MAILQA_TEST_REDIS", "redis://127.0.0.1:6379/0")


def make_message(i: int, rng: random.Random) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Brand {i % 7} <news@brand{i % 7}.example>"
    msg["To"] = f"user{i}@example.com"
    if rng.random() > 0.1:
        msg["Subject"] = f"Weekly offers #{i}: " + "deal " * rng.randint(1, 12)
    if rng.random() > 0.1:
        msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = f"<bench{i}@brand.example>"
    if rng.random() > 0.5:
        msg["List-Unsubscribe"] = f"<https://{HOSTS[0]}/unsub/{i}>"
    links = "".join(
        f'<tr><td style="padding:8px"><a href="http{"s" if rng.random() > 0.3 else ""}://'
        f'{rng.choice(HOSTS)}/p/{i}/{k}">Item {k}</a>'
        f'<img src="https://{HOSTS[3]}/{i}/{k}.png" width="120" alt="item {k}"></td></tr>'
        for k in range(rng.randint(2, 15))
    )
    style = "<style>@media (max-width:600px){.c{width:100%}}</style>" if i % 2 else ""
    html = (
        f"<!doctype html><html><head>{style}</head><body><table class='c' width='600'>"
        f"<tr><td><h1 style='display:flex'>Offers {i}</h1></td></tr>{links}</table></body></html>"
    )
    msg.set_content(f"Offers {i}\nhttps://{HOSTS[0]}/p/{i}\n")
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def generate(path: Path, n: int) -> list[bytes]:
    rng = random.Random(7)
    path.mkdir(parents=True, exist_ok=True)
    raws = []
    for i in range(n):
        raw = make_message(i, rng)
        (path / f"m{i:06}.eml").write_bytes(raw)
        raws.append(raw) if n <= 20_000 else None
    return raws


def run_measured(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and the peak RSS (bytes) of the largest process in the tree."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            for p in [root, *root.children(recursive=True)]:
                peak = max(peak, p.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "failed")
    return elapsed, peak


class WorkerSet:
    """`mailqa worker` processes (concurrency 1 each); peak RSS polled in the background."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        self.procs = [
            subprocess.Popen(
                [
                    *MAILQA,
                    "worker",
                    "-c",
                    "1",
                    "--hostname",
                    f"bench{k}-{uuid.uuid4().hex[:4]}@%h",
                    "--loglevel",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            for k in range(count)
        ]
        self.peak = 0

    def sample(self) -> None:
        for proc in self.procs:
            try:
                root = psutil.Process(proc.pid)
                for p in [root, *root.children(recursive=True)]:
                    self.peak = max(self.peak, p.memory_info().rss)
            except psutil.Error:
                pass

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(30)


def bench_celery(n: int, raws: list[bytes], checks: str, tmp: Path) -> None:
    import psycopg
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as exc:
        print(f"celery: skipped (Redis/PostgreSQL not reachable: {exc})")
        return
    name = f"mailqa_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://{PG_ADMIN.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    queue = f"mailqa-bench-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILQA_")}
    env.update(
        MAILQA_DATABASE_URL=url,
        MAILQA_BROKER_URL=REDIS,
        MAILQA_CELERY_QUEUE=queue,
        MAILQA_SPAMD_MANAGED="off",
        MAILQA_OFFLINE="true",
    )
    try:
        inbox_id = asyncio.run(_store(url, raws))
        for workers in (1, 2):
            pool = WorkerSet(workers, env)
            time.sleep(4)  # let them connect
            started = time.perf_counter()
            proc = subprocess.Popen(
                [
                    *MAILQA,
                    "audit",
                    "--inbox",
                    str(inbox_id),
                    "--executor",
                    "celery",
                    "--checks",
                    checks,
                    "--format",
                    "json",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            while proc.poll() is None:
                pool.sample()
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
            pool.stop()
            if proc.returncode:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "")
            print(
                f"celery workers={workers}: {n / elapsed:7.1f} msg/s "
                f"({elapsed:.1f} s), peak RSS {pool.peak / 2**20:.0f} MB per process"
            )
    finally:
        redis.Redis.from_url(REDIS).delete(queue)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


async def _store(url: str, raws: list[bytes]) -> int:
    from mailqa.core.message import ParsedMessage
    from mailqa.store.database import migrate
    from mailqa.store.repository import Store

    await asyncio.to_thread(migrate, url)
    store = Store(url)
    project = await store.create_project("bench")
    inbox = await store.create_inbox(project.id, "bench", 10**12)
    for start in range(0, len(raws), 200):
        await asyncio.gather(
            *(store.insert_message(inbox.id, ParsedMessage(r)) for r in raws[start : start + 200])
        )
    await store.close()
    return inbox.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--no-celery", action="store_true")
    parser.add_argument("--celery-only", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from mailqa.audit.record import default_audit_checks

    checks = ",".join(default_audit_checks())
    tmp = Path(tempfile.mkdtemp(prefix="mailqa-bench-"))
    try:
        raws = generate(tmp / "eml", args.messages)
        size = sum(len(r) for r in raws) / max(1, len(raws))
        print(
            f"{args.messages} messages (mean {size / 1024:.1f} KB), checks: {checks}, "
            f"{os.cpu_count()} CPUs"
        )
        for jobs in () if args.celery_only else (1, 2):
            elapsed, peak = run_measured(
                [
                    *MAILQA,
                    "audit",
                    str(tmp / "eml"),
                    "--jobs",
                    str(jobs),
                    "--checks",
                    checks,
                    "--out",
                    str(tmp / f"out{jobs}"),
                    "--format",
                    "json",
                ]
            )
            print(
                f"--jobs {jobs}: {args.messages / elapsed:7.1f} msg/s ({elapsed:.1f} s, "
                f"start-up included), peak RSS {peak / 2**20:.0f} MB per process"
            )
        if not args.no_celery:
            bench_celery(args.messages, raws, checks, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
