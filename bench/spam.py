"""Spam check throughput against spamc, on the same spamd in the same run.

200 realistic messages (transactional, newsletters, a few spammy ones) go through the spam
check with concurrency = spamd children, then through ``spamc -R`` with as many parallel
workers. Prints messages/s for both and the ratio (goal: >= 0.95).

Both sides are warmed up first (spamd children compile their rules lazily, spamc's first
runs fault in its pages), then measured for several rounds. Within a round the messages go
in chunks, each chunk through both sides back to back (alternating which goes first), and
each side's time is summed over its chunks: the two sides run interleaved a few seconds
apart, so a drift in the machine's other load hits both alike. The ratio reported is the
median of the per-round ratios. Run it on a quiet machine (the load average is printed
before and after).

    .venv/bin/python bench/spam.py [--messages 200] [--children 2] [--rounds 5] [--warmup 40]
                                   [--chunk 25]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import time
from email.utils import formatdate

from mailqa.checks.spam import SpamCheck, SpamDetails
from mailqa.core.check import CheckContext
from mailqa.core.message import ParsedMessage
from mailqa.net.spamd.client import SpamdClient
from mailqa.net.spamd.process import ManagedSpamd
from mailqa.resources import check_context
from mailqa.settings import Settings

WORDS = [
    "account",
    "order",
    "delivery",
    "invoice",
    "team",
    "update",
    "project",
    "meeting",
    "report",
    "weekly",
    "customer",
    "support",
    "product",
    "release",
    "notes",
    "thanks",
    "please",
    "review",
    "attached",
    "schedule",
    "payment",
    "receipt",
    "welcome",
    "password",
    "reset",
    "confirm",
    "subscription",
    "newsletter",
    "event",
    "webinar",
    "offer",
    "discount",
]
SPAMMY = [
    "You have WON a prize! Claim your $1,000,000 now, 100% guaranteed, risk free.",
    "Cheap meds online pharmacy, no prescription needed. Lose weight fast!",
    "Dear beneficiary, send your bank account details to receive the transfer.",
]


def _paragraph(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def make_message(i: int, rng: random.Random) -> bytes:
    kind = rng.choices(["transactional", "newsletter", "spammy"], weights=[6, 3, 1])[0]
    paragraphs = [_paragraph(rng, rng.randint(20, 60)) for _ in range(rng.randint(2, 8))]
    if kind == "spammy":
        paragraphs.insert(0, rng.choice(SPAMMY))
    text = "\n\n".join(paragraphs)
    html = "".join(f"<p>{p}</p>" for p in paragraphs)
    if kind == "newsletter":
        html += f'<p><a href="https://news.example.com/u?id={i}">Unsubscribe</a></p>'
    boundary = f"b{i:06d}"
    headers = [
        f"From: {kind.title()} Sender <{kind}@example.com>",
        f"To: user{i}@example.org",
        f"Subject: {_paragraph(rng, rng.randint(3, 8))[:-1]}",
        f"Date: {formatdate(1_790_000_000 + i * 60, localtime=False)}",
        f"Message-ID: <{i}.{rng.getrandbits(40):x}@mail.example.com>",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    if kind == "newsletter":
        headers.append(f"List-Unsubscribe: <https://news.example.com/u?id={i}>")
    body = (
        f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{text}\n\n"
        f"--{boundary}\nContent-Type: text/html; charset=utf-8\n\n"
        f"<html><body>{html}</body></html>\n\n--{boundary}--\n"
    )
    return ("\n".join(headers) + "\n\n" + body).encode()


async def run_check(messages: list[ParsedMessage], ctx: CheckContext) -> tuple[float, list[float]]:
    """(seconds, scores) of the spam check over ``messages``."""
    check = SpamCheck()
    started = time.perf_counter()
    results = await asyncio.gather(*(check.run(m, ctx) for m in messages))
    elapsed = time.perf_counter() - started
    scores = []
    for r in results:
        details = SpamDetails.model_validate(r.details)
        if details.outcome != "scored" or details.score is None:
            raise SystemExit(f"check did not score a message: {r.summary}")
        scores.append(details.score)
    return elapsed, scores


async def run_spamc(
    spamc: str, raws: list[bytes], host: str, port: int, workers: int
) -> tuple[float, list[float]]:
    """(seconds, scores) of ``spamc -R`` over ``raws`` with ``workers`` parallel clients."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(raws)):
        queue.put_nowait(i)
    scores: list[float] = [0.0] * len(raws)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            proc = await asyncio.create_subprocess_exec(
                spamc,
                "-d",
                host,
                "-p",
                str(port),
                "-R",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await proc.communicate(raws[i])
            scores[i] = float(out.split(b"/", 1)[0])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - started, scores


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--warmup", type=int, default=40, help="messages through each side before measuring"
    )
    parser.add_argument(
        "--chunk", type=int, default=25, help="messages per interleaved chunk of a round"
    )
    args = parser.parse_args()
    spamc = shutil.which("spamc")
    if spamc is None:
        sys.exit("spamc is not installed (apt-get install spamc)")

    rng = random.Random(42)
    # The check drops nothing from these (no loopback hops): both sides scan the same bytes.
    raws = [make_message(i, rng) for i in range(args.messages)]
    messages = [ParsedMessage(raw) for raw in raws]
    sizes = [len(r) for r in raws]
    print(
        f"{len(raws)} messages, {min(sizes)}-{max(sizes)} bytes (median "
        f"{int(statistics.median(sizes))}), spamd children = concurrency = {args.children}, "
        f"{args.rounds} rounds after {args.warmup} warm-up messages per side"
    )
    print(f"load average before: {_load()}")

    async with ManagedSpamd(children=args.children) as spamd:
        client = SpamdClient(spamd.url, concurrency=args.children, timeout=60)
        ctx = check_context(Settings(), spamd=client)
        warm = max(args.children, min(args.warmup, len(raws)))
        await run_check(messages[:warm], ctx)
        await run_spamc(spamc, raws[:warm], spamd.host, spamd.port, args.children)
        ours, theirs, ratios = [], [], []
        chunk = max(args.children, args.chunk)
        for round_ in range(args.rounds):
            seconds = {"check": 0.0, "spamc": 0.0}
            check_scores, spamc_scores = [], []
            for n, start in enumerate(range(0, len(raws), chunk)):
                part = slice(start, start + chunk)
                # Alternate which side goes first: the machine's other load drifts.
                order = ("check", "spamc") if (round_ + n) % 2 == 0 else ("spamc", "check")
                for side in order:
                    if side == "check":
                        elapsed, scores = await run_check(messages[part], ctx)
                        check_scores += scores
                    else:
                        elapsed, scores = await run_spamc(
                            spamc, raws[part], spamd.host, spamd.port, args.children
                        )
                        spamc_scores += scores
                    seconds[side] += elapsed
            ours.append(len(raws) / seconds["check"])
            theirs.append(len(raws) / seconds["spamc"])
            ratios.append(seconds["spamc"] / seconds["check"])
        mismatches = sum(a != b for a, b in zip(check_scores, spamc_scores, strict=True))
    print(f"load average after : {_load()}")

    def rounds(values: list[float], fmt: str = ".1f") -> str:
        return ", ".join(f"{v:{fmt}}" for v in values)

    print(f"spam check : {statistics.median(ours):6.1f} msg/s  (rounds: {rounds(ours)})")
    print(f"spamc -R   : {statistics.median(theirs):6.1f} msg/s  (rounds: {rounds(theirs)})")
    print(
        f"ratio      : {statistics.median(ratios):6.3f}  median of per-round ratios "
        f"({rounds(ratios, '.3f')}; spread {max(ratios) - min(ratios):.3f})  (goal >= 0.95)"
    )
    print(f"score mismatches between the check and spamc: {mismatches}/{len(raws)}")


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


if __name__ == "__main__":
    asyncio.run(main())
