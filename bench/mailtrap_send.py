"""Mailtrap-compatible send API benchmark against an in-process mailqa on loopback HTTP.

Prints: MIME build time per message, send-API messages/s (sequential and concurrent, with
p50/p99 latency), one 500-message batch, and show_message + spam_report-shaped reads/s.
Checks: headers only (the send path is measured, not the analysers).

    .venv/bin/python bench/mailtrap_send.py --messages 400 --clients 8
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from mailqa.app import create_app
from mailqa.capture.mime_builder import build_message, parse_send_request
from mailqa.service import open_service
from mailqa.settings import Settings
from mailqa.worker.selection import select_executor

TOKEN = "mq_bench_mailtrap_token_0123456789"


def payload(i: int) -> dict[str, Any]:
    rows = "".join(f"<tr><td>Item {n}</td><td>$ {n}.00</td></tr>" for n in range(60))
    return {
        "from": {"email": "orders@shop.example", "name": "Shop"},
        "to": [{"email": f"customer{i}@example.com", "name": "Customer"}],
        "subject": f"Your order #{i} has shipped",
        "text": "Your order has shipped.\n" * 20,
        "html": f'<html><body><img src="cid:logo"><table>{rows}</table></body></html>',
        "attachments": [
            {
                "content": base64.b64encode(b"\x89PNG" + bytes(2000)).decode(),
                "filename": "logo.png",
                "disposition": "inline",
                "content_id": "logo",
            },
            {"content": base64.b64encode(b"%PDF" + bytes(8000)).decode(), "filename": "inv.pdf"},
        ],
        "category": "orders",
    }


def bench_build(n: int) -> float:
    requests = [parse_send_request(payload(i)) for i in range(n)]
    start = time.perf_counter()
    for r in requests:
        build_message(r)
    return (time.perf_counter() - start) / n * 1000


async def run(messages: int, clients: int) -> None:
    print(f"MIME build: {bench_build(500):.2f} ms per message (text+html+inline image+pdf)")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            api_token=TOKEN,
            checks=["headers"],
            offline=True,
            spamd_managed="off",
            inbox_quota_bytes=10 * 1024**3,
        )
        async with open_service(settings, executor=select_executor) as service:
            await service.ensure_admin_token()
            project = await service.store.create_project("bench")
            inbox = await service.store.create_inbox(project.id, "bench", 10 * 1024**3)
            app = create_app(settings, service)
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
            )
            task = asyncio.create_task(server.serve())
            while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
                await asyncio.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            headers = {"Authorization": f"Bearer {TOKEN}"}
            limits = httpx.Limits(max_connections=clients)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits, timeout=60
            ) as http:
                latencies: list[float] = []

                async def send(i: int) -> str:
                    t = time.perf_counter()
                    r = await http.post(f"/api/send/{inbox.id}", json=payload(i))
                    latencies.append(time.perf_counter() - t)
                    r.raise_for_status()
                    return str(r.json()["message_ids"][0])

                start = time.perf_counter()
                for i in range(min(100, messages)):
                    await send(i)
                seq = min(100, messages) / (time.perf_counter() - start)
                print(f"send API sequential: {seq:.0f} msg/s")

                latencies.clear()
                queue = iter(range(messages))
                ids: list[str] = []

                async def worker() -> None:
                    for i in queue:
                        ids.append(await send(i))

                start = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(clients)))
                elapsed = time.perf_counter() - start
                q = statistics.quantiles(latencies, n=100)
                print(
                    f"send API, {clients} clients: {messages / elapsed:.0f} msg/s, "
                    f"p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms"
                )

                batch = {"base": payload(0), "requests": [{} for _ in range(500)]}
                start = time.perf_counter()
                r = await http.post(f"/api/batch/{inbox.id}", json=batch)
                r.raise_for_status()
                assert all(x["success"] for x in r.json()["responses"])
                print(f"batch of 500: {time.perf_counter() - start:.2f} s")

                base = f"/api/accounts/1/inboxes/{inbox.id}/messages"
                start = time.perf_counter()
                for message_id in ids[:200]:
                    (await http.get(f"{base}/{message_id}")).raise_for_status()
                reads = min(200, len(ids)) / (time.perf_counter() - start)
                print(f"show_message: {reads:.0f} req/s")
                start = time.perf_counter()
                (await http.get(base)).raise_for_status()
                print(f"get_list (30 messages): {(time.perf_counter() - start) * 1000:.0f} ms")
            server.should_exit = True
            await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.clients))


if __name__ == "__main__":
    main()
