"""Link validation throughput: 300 links over 15 hosts of a local server that answers in 200 ms.

Prints the wall time of the links check against the ideal (links / concurrency) x delay, the
requests made (HEAD/GET), and the cache hits when a second message carries the same links.

    .venv/bin/python bench/links.py [--links 300] [--hosts 15] [--delay 0.2] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "links"))

from local_http import LocalHttpServer

from mailqa.checks.links import LinksCheck, LinksDetails, registrable_domain
from mailqa.core.message import ParsedMessage
from mailqa.net.http.fetcher import FetcherConfig, LinkFetcher
from mailqa.net.http.policy import AddressPolicy
from mailqa.resources import check_context
from mailqa.settings import Settings


def message(server: LocalHttpServer, links: int, hosts: int) -> ParsedMessage:
    anchors = "\n".join(
        f'<a href="{server.url(f"/page/{i}", host=f"host{i % hosts}.bench.test")}">page {i}</a>'
        for i in range(links)
    )
    raw = (
        "From: a@acme.com\r\nTo: b@acme.com\r\nSubject: bench\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/html\r\n\r\n<html><body>\n{anchors}\n</body></html>"
    )
    return ParsedMessage(raw.encode())


async def resolve(host: str) -> Sequence[str]:
    return ["127.0.0.1"]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--links", type=int, default=300)
    parser.add_argument("--hosts", type=int, default=15)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument("--rate", type=float, default=10.0, help="per-host requests/s")
    args = parser.parse_args()

    # The server runs on its own event loop in a thread, as a remote site would not share the
    # checker's CPU.
    server = LocalHttpServer(delay=args.delay)
    server_loop = asyncio.new_event_loop()
    threading.Thread(target=server_loop.run_forever, daemon=True).start()
    asyncio.run_coroutine_threadsafe(server.start(), server_loop).result()
    settings = Settings(link_max_urls=args.links, check_timeout=600)
    config = FetcherConfig(
        policy=AddressPolicy.from_entries([".bench.test"]),
        concurrency=args.concurrency,
        per_host_concurrency=args.per_host,
        per_host_rate=args.rate,
    )
    check = LinksCheck()
    started = time.perf_counter()
    registrable_domain("warm.example.com")  # loads the public suffix list once per process
    print(f"public suffix list load {time.perf_counter() - started:.2f} s (once per process)")
    try:
        async with LinkFetcher(config, resolve=resolve) as fetcher:
            ctx = check_context(settings, http=fetcher)
            started = time.perf_counter()
            await fetcher.fetch(server.url("/ok", host="warm-up.bench.test"))
            print(
                f"first request (lazy imports, TLS context) {time.perf_counter() - started:.2f} s"
            )
            for label in ("first message", "second message, same links"):
                before = len(server.requests)
                hits_before = fetcher.stats.cache_hits
                started = time.perf_counter()
                result = await check.run(message(server, args.links, args.hosts), ctx)
                wall = time.perf_counter() - started
                details = LinksDetails.model_validate(result.details)
                made = server.requests[before:]
                heads = sum(r.method == "HEAD" for r in made)
                gets = sum(r.method == "GET" for r in made)
                ok = sum(bool(link.ok) for link in details.links)
                print(f"{label}:")
                print(f"  links checked      {details.http_checked} ({ok} ok)")
                print(f"  wall time          {wall:.2f} s")
                print(f"  requests made      {len(made)} (HEAD {heads}, GET {gets})")
                print(f"  cache hits         {fetcher.stats.cache_hits - hits_before}")
            ideal = args.links / args.concurrency * args.delay
            print(
                f"ideal first pass     {ideal:.2f} s = {args.links} links / {args.concurrency}"
                f" concurrency x {args.delay * 1000:.0f} ms"
            )
            print(f"server max in flight {server.max_active}")
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), server_loop).result()
        server_loop.call_soon_threadsafe(server_loop.stop)


if __name__ == "__main__":
    asyncio.run(main())
