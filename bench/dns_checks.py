"""DNS list lookups: concurrency and cache, against NSD behind a proxy that delays 50 ms.

A message is checked against 20 zones (10 IP lists, 10 domain lists) with 30 linked domains:
the wall time of the check is compared with the sum of its single lookups (the same check with
one lookup at a time). Then 1,000 messages drawing their IPs and domains from shared pools run
through one resolver, and the cache hit rate is printed.

Run: .venv/bin/python bench/dns_checks.py  (needs the nsd binary)
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.dnscheck.delay_proxy import DelayProxy  # noqa: E402
from tests.dnscheck.nsd import NsdServer, zone_text  # noqa: E402

from mailqa.checks.blacklist import BlacklistCheck, BlacklistDetails  # noqa: E402
from mailqa.core.message import Envelope, ParsedMessage  # noqa: E402
from mailqa.net.dns import DnsResolver  # noqa: E402
from mailqa.resources import check_context  # noqa: E402
from mailqa.settings import Settings  # noqa: E402

DELAY = 0.050
IP_ZONES = [f"ip{n}.bench" for n in range(10)]
DOMAIN_ZONES = [f"dom{n}.bench" for n in range(10)]
DOMAIN_POOL = [f"site{n}.example" for n in range(300)]
IP_POOL = [f"11.0.{n // 250}.{n % 250 + 1}" for n in range(50)]


def zones() -> dict[str, str]:
    out = {}
    for zone in IP_ZONES:
        out[zone + "."] = zone_text(zone, ["2.0.0.127 IN A 127.0.0.2", "1.0.0.11 IN A 127.0.0.2"])
    for zone in DOMAIN_ZONES:
        out[zone + "."] = zone_text(zone, ["test IN A 127.0.0.2", "site7.example IN A 127.0.0.2"])
    return out


def lists_yaml() -> str:
    rows = [f"  - {{name: IP{n}, zone: {z}, kind: ip}}" for n, z in enumerate(IP_ZONES)]
    rows += [f"  - {{name: DOM{n}, zone: {z}, kind: domain}}" for n, z in enumerate(DOMAIN_ZONES)]
    return 'version: "bench"\nlists:\n' + "\n".join(rows) + "\n"


def message(ip: str, domains: list[str]) -> ParsedMessage:
    links = "".join(f'<a href="https://www.{d}/p">{d}</a>' for d in domains)
    raw = (
        "From: a@site0.example\r\nTo: b@receiver.example\r\nSubject: bench\r\n"
        "Content-Type: text/html\r\n\r\n<html><body>" + links + "</body></html>"
    ).encode()
    return ParsedMessage(raw, Envelope(mail_from="a@site0.example", client_ip=ip))


async def run_check(resolver: DnsResolver, settings: Settings, msg: ParsedMessage) -> float:
    ctx = check_context(settings, resolver=resolver)
    start = time.perf_counter()
    result = await BlacklistCheck().run(msg, ctx)
    elapsed = time.perf_counter() - start
    details = BlacklistDetails.model_validate(result.details)
    assert not any(r.status == "error" for r in details.results), result.summary
    return elapsed


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lists = Path(tmp) / "lists.yaml"
        lists.write_text(lists_yaml())
        settings = Settings(dnsbl_file=lists, dnsbl_max_domains=40)
        with NsdServer(Path(tmp) / "nsd", zones()) as nsd:
            host, port = nsd.address.split(":")
            async with DelayProxy((host, int(port)), DELAY) as proxy:
                msg = message(IP_POOL[0], DOMAIN_POOL[1:31])
                concurrent = DnsResolver([proxy.address], timeout=5.0, concurrency=100)
                wall = await run_check(concurrent, settings, msg)
                lookups = concurrent.stats.misses
                serial = DnsResolver([proxy.address], timeout=5.0, concurrency=1)
                total = await run_check(serial, settings, msg)
                print("one message, 20 zones, 30 linked domains, 50 ms per answer")
                print(f"  lookups                 {lookups}")
                print(f"  wall time (concurrent)  {wall * 1000:8.0f} ms")
                print(f"  sum of single lookups   {total * 1000:8.0f} ms")
                print(f"  speed-up                {total / wall:8.1f}x")

                rng = random.Random(5)
                shared = DnsResolver([proxy.address], timeout=5.0, concurrency=100)
                start = time.perf_counter()
                for _ in range(1000):
                    picked = rng.sample(DOMAIN_POOL, 30)
                    await run_check(shared, settings, message(rng.choice(IP_POOL), picked))
                elapsed = time.perf_counter() - start
                stats = shared.stats
                print("1,000 messages, 50 IPs and 300 domains shared, one resolver")
                print(f"  lookups asked           {stats.hits + stats.misses + stats.shared}")
                print(f"  sent to the server      {stats.misses}")
                print(f"  cache hit rate          {stats.hit_rate * 100:8.1f} %")
                print(f"  total                   {elapsed:8.1f} s ({1000 / elapsed:.0f} msg/s)")


if __name__ == "__main__":
    asyncio.run(main())
