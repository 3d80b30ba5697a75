"""Message listing latency: the Mailtrap-compatible, native and sandbox listings of one page
(30 messages) over the real ASGI app and database.

Prints p50/p99 latency and requests/s per listing, and the Mailtrap listing's ratio to the
native one (the same rows; the Mailtrap shape adds body sizes and blacklist info per message).

    .venv/bin/python bench/api_listing.py --messages 300 --size 40000 --requests 50
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from ingest import realistic_message

from mailqa.app import create_app
from mailqa.core.message import ParsedMessage
from mailqa.service import open_service
from mailqa.settings import Settings
from mailqa.worker.selection import select_executor

TOKEN = "mq_bench_token_0123456789abcdef"


async def timed(client: httpx.AsyncClient, path: str, n: int) -> list[float]:
    await client.get(path)  # warm
    out = []
    for _ in range(n):
        started = time.perf_counter()
        r = await client.get(path)
        out.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
    return out


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            api_token=TOKEN,
            checks=["headers"],
            offline=True,
            spamd_managed="off",
            database_url=args.database_url,
        )
        async with open_service(settings, executor=select_executor) as service:
            await service.ensure_admin_token()
            project = await service.store.create_project("bench")
            inbox = await service.store.create_inbox(project.id, "bench", 10**12)
            for i in range(args.messages):
                parsed = ParsedMessage(realistic_message(i, args.size))
                stored = await service.store.insert_message(inbox.id, parsed)
                await service.analyze(stored.id, parsed=parsed)
            app = create_app(settings, service)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as client:
                paths = {
                    "native": f"/api/v1/inboxes/{inbox.id}/messages?per_page=30",
                    "mailtrap": f"/api/accounts/{project.id}/inboxes/{inbox.id}/messages",
                }
                results = {name: await timed(client, p, args.requests) for name, p in paths.items()}
    print(f"{args.messages} messages of ~{args.size} bytes; one page of 30, {args.requests} times")
    for name, times in results.items():
        ms = sorted(t * 1000 for t in times)
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        print(
            f"{name:9s} p50 {statistics.median(ms):7.2f} ms  p99 {p99:7.2f} ms  "
            f"{len(ms) / sum(times):7.1f} req/s"
        )
    ratio = statistics.median(results["mailtrap"]) / statistics.median(results["native"])
    print(f"mailtrap / native p50: {ratio:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--size", type=int, default=40_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))
