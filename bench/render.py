# ruff: noqa: E501  (template HTML is kept as written)
"""Render previews: renders per second, p50/p99 per render, peak RSS of the browser pool.

Renders the templates under ``bench/templates/`` (and a generated 60 KB newsletter) in every
variant, ``--rounds`` times, through one ``Renderer`` with ``--pool`` contexts at once (2: the
machine's cores). Memory is the resident set of Playwright's driver and Chromium with all its
child processes, sampled every 200 ms; the Python process is reported apart.

    .venv/bin/python bench/render.py --rounds 3 --pool 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from email.message import EmailMessage
from pathlib import Path

import psutil

from mailqa.core.message import ParsedMessage
from mailqa.render import DEFAULT_VARIANTS, RenderConfig, Renderer

TEMPLATES = Path(__file__).parent / "templates"
BLOCK = """<tr><td class="card" style="padding:16px;background:#ffffff">
<table role="presentation" width="100%"><tr>
<td class="stack" width="50%" style="padding:8px"><img src="cid:product@bench" width="260" height="160" alt="Product" style="display:block;border-radius:6px"></td>
<td class="stack" width="50%" style="padding:8px;font-family:Arial,sans-serif;color:#333">
<h2 style="margin:0 0 8px;font-size:20px">Spring jacket</h2><p style="margin:0 0 12px;line-height:1.5">Light, warm and water-repellent.</p>
<a href="https://shop.example/p/1" style="display:inline-block;padding:10px 20px;background:#1a73e8;color:#fff;border-radius:4px;text-decoration:none">Shop now</a>
</td></tr></table></td></tr>"""
NEWSLETTER = """<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width">
<style>@media (max-width:620px){{.stack{{display:block!important;width:100%!important}}}}
@media (prefers-color-scheme: dark){{.card{{background:#1e1e1e!important;color:#eee!important}}}}</style></head>
<body style="margin:0;background:#f4f4f4"><!--[if mso]><table width="600" align="center"><tr><td><![endif]-->
<div style="max-width:600px;margin:0 auto;display:flex;flex-direction:column">
<table role="presentation" width="100%">{blocks}</table></div>
<!--[if mso]></td></tr></table><![endif]--></body></html>"""


def png_pixel() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def message(html: str) -> ParsedMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@bench.example", "b@bench.example", "bench"
    msg.set_content("text")
    msg.add_alternative(html, subtype="html")
    related = msg.get_payload()[1]  # type: ignore[index]
    related.add_related(png_pixel(), maintype="image", subtype="png", cid="<product@bench>")
    return ParsedMessage(msg.as_bytes())


def pool_memory() -> tuple[int, int]:
    """Resident memory (RSS, and PSS: shared pages divided among their sharers) of this
    process's children: Playwright's driver and Chromium's browser, GPU, network and
    renderer processes. RSS counts the libraries they share once per process."""
    try:
        procs = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0, 0
    rss = pss = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            info = proc.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
    return rss, pss


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pool", type=int, default=2)
    args = parser.parse_args()

    htmls = [p.read_text() for p in sorted(TEMPLATES.rglob("*.html"))]
    htmls.append(NEWSLETTER.format(blocks=BLOCK * 60))
    messages = [message(h) for h in htmls]
    sizes = [len(h.encode()) for h in htmls]
    print(
        f"{len(messages)} messages ({min(sizes) // 1024}-{max(sizes) // 1024} KB HTML) x "
        f"{len(DEFAULT_VARIANTS)} variants x {args.rounds} rounds, pool {args.pool}, "
        f"{os.cpu_count()} CPUs"
    )
    durations: list[float] = []
    peak = peak_pss = 0
    async with Renderer(RenderConfig(pool_size=args.pool, timeout=60)) as renderer:
        # Start-up and the first page are not what a long-running server pays per message.
        await renderer.render_message(messages[0], DEFAULT_VARIANTS[:2])
        stop = asyncio.Event()

        async def sample() -> None:
            nonlocal peak, peak_pss
            while not stop.is_set():
                rss, pss = await asyncio.to_thread(pool_memory)
                peak, peak_pss = max(peak, rss), max(peak_pss, pss)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.2)

        sampler = asyncio.create_task(sample())
        errored = 0
        started = time.perf_counter()
        for _ in range(args.rounds):
            for msg in messages:
                result = await renderer.render_message(msg, DEFAULT_VARIANTS)
                for r in result.renders:
                    if r.status == "ok":
                        durations.append(r.duration_ms)
                    else:
                        errored += 1
        elapsed = time.perf_counter() - started
        stop.set()
        await sampler
        restarts = renderer.restarts
    count = len(durations) + errored
    ordered = sorted(durations)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"renders: {count} in {elapsed:.1f} s = {count / elapsed:.2f} renders/s ({errored} errored, {restarts} browser restarts)"
    )
    print(
        f"per render (in its pool slot): p50 {statistics.median(ordered):.0f} ms, p99 {p99:.0f} ms"
    )
    print(
        f"messages: {count / len(DEFAULT_VARIANTS) / elapsed:.2f} messages/s (all {len(DEFAULT_VARIANTS)} variants)"
    )
    print(
        f"peak memory of the browser pool (Playwright driver + Chromium): PSS "
        f"{peak_pss / 2**20:.0f} MiB, RSS {peak / 2**20:.0f} MiB; this process: {psutil.Process().memory_info().rss / 2**20:.0f} MiB"
    )


if __name__ == "__main__":
    asyncio.run(main())
