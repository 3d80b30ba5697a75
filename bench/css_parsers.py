"""Compare CSS parsers on a ~100 KB email stylesheet: tinycss2 (used) vs cssutils.

    .venv/bin/python bench/css_parsers.py
    PYTHONPATH=/path/with/cssutils .venv/bin/python bench/css_parsers.py

cssutils is not a project dependency; install it anywhere on PYTHONPATH to compare.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable

import tinycss2


def stylesheet(target_bytes: int = 100_000) -> str:
    """A realistic newsletter stylesheet: resets, components, media and dark-mode queries."""
    blocks: list[str] = []
    i = 0
    while sum(len(b) for b in blocks) < target_bytes:
        blocks.append(
            f"""/* component {i} */
.card-{i} > td.inner, .card-{i} a:hover {{ padding: 12px 24px !important; margin: 0 auto;
  font: 400 16px/1.5 -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a;
  background: #fff url("https://cdn.example.com/img/bg-{i}.png") no-repeat center / cover;
  border-radius: 8px; box-shadow: 0 1px 3px rgba(0, 0, 0, .12); width: calc(100% - 2em); }}
#hero-{i} .title ~ p + span[data-x="{i}"]::before {{ content: ""; display: inline-block; }}
@media only screen and (max-width: 600px) {{
  .card-{i} {{ width: 100% !important; display: block; }}
  .col-{i} {{ max-width: 50vw; }}
}}
@media (prefers-color-scheme: dark) {{ .card-{i} {{ background-color: #121212; color: #eee; }} }}
"""
        )
        i += 1
    return "".join(blocks)


def with_tinycss2(css: str) -> int:
    count = 0
    stack = list(tinycss2.parse_stylesheet(css, skip_whitespace=True))
    while stack:
        node = stack.pop()
        count += 1
        if node.type in ("qualified-rule", "at-rule") and node.content is not None:
            stack.extend(tinycss2.parse_blocks_contents(node.content, skip_whitespace=True))
    return count


def with_cssutils(css: str) -> int:
    import cssutils  # type: ignore[import-not-found]

    cssutils.log.setLevel(logging.CRITICAL)
    sheet = cssutils.parseString(css, validate=False)
    count = 0
    stack = list(sheet.cssRules)
    while stack:
        rule = stack.pop()
        count += 1
        if hasattr(rule, "cssRules"):
            stack.extend(rule.cssRules)
        if hasattr(rule, "style"):
            count += len(list(rule.style))
    return count


def measure(fn: Callable[[str], int], css: str, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn(css)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    css = stylesheet()
    print(f"stylesheet: {len(css) / 1000:.0f} KB")
    t = measure(with_tinycss2, css)
    print(f"tinycss2 {tinycss2.__version__}: {t * 1000:.1f} ms (median of 5; rules+declarations)")
    try:
        import cssutils  # type: ignore[import-not-found]
    except ImportError:
        print("cssutils: not installed (pip install cssutils to compare)")
        return
    c = measure(with_cssutils, css)
    print(f"cssutils {getattr(cssutils, '__version__', '?')}: {c * 1000:.1f} ms (median of 5)")
    print(f"cssutils / tinycss2: {c / t:.1f}x")


if __name__ == "__main__":
    main()
