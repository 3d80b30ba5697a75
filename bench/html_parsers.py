"""Why mailqa tokenizes HTML itself: the shared linear scan against BeautifulSoup.

    .venv/bin/python bench/html_parsers.py [--rounds 3]

Every HTML reader of a message (client-support, hygiene, links, blacklist, preview text) reads
one pass of ``core.markup``. This prints, in the same run, ms per template for that pass and
for ``BeautifulSoup(html, "html.parser")`` (the tree the checks used before) on the realistic
corpus of ``bench/html_check.py``, and the time both take on hostile input that makes the
stdlib tokenizer rescan the rest of the document (``<a<a<a...``, ``</</</...``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))
sys.path.insert(0, str(BENCH))

from html_check import write_corpus  # noqa: E402

from mailqa.core.markup import scan_markup  # noqa: E402


def soup_parser() -> Callable[[str], object] | None:
    try:
        from bs4 import BeautifulSoup
    except ImportError:
        return None
    return lambda source: BeautifulSoup(source, "html.parser")


def per_call_ms(func: Callable[[str], object], sources: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for source in sources:
            func(source)
        best = min(best, time.perf_counter() - start)
    return best / len(sources) * 1000


def once_s(func: Callable[[str], object], source: str) -> float:
    start = time.perf_counter()
    func(source)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sources = [path.read_text() for path in write_corpus(60)]
    kib = sum(len(s) for s in sources) / len(sources) / 1024
    soup = soup_parser()
    scan_ms = per_call_ms(scan_markup, sources, args.rounds)
    print(f"corpus: {len(sources)} templates, mean {kib:.0f} KiB")
    print(f"  core.markup scan        {scan_ms:7.2f} ms/template")
    if soup is None:
        print("  BeautifulSoup           not installed (pip install beautifulsoup4)")
    else:
        soup_ms = per_call_ms(soup, sources, args.rounds)
        print(
            f"  BeautifulSoup (stdlib)  {soup_ms:7.2f} ms/template   ratio {soup_ms / scan_ms:.1f}x"
        )
    print("hostile input (one document each):")
    for label, source in (
        ("'<a' * 50,000 (100 KB)", "<a" * 50_000),
        ("'</' * 50,000 (100 KB)", "</" * 50_000),
        ("'<div>x' * 20,000 (120 KB)", "<div>x" * 20_000),
    ):
        line = f"  {label:28} scan {once_s(scan_markup, source):7.3f} s"
        if soup is not None:
            line += f"   BeautifulSoup {once_s(soup, source):7.3f} s"
        print(line)
    print(f"  '<a' * 1,000,000 (2 MB)      scan {once_s(scan_markup, '<a' * 1_000_000):7.3f} s")


if __name__ == "__main__":
    main()
