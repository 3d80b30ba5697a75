"""The accessibility check against axe-core run in headless Chromium on the same templates.

For every ``.html``/``.htm``/``.eml`` file in DIR: the static check's findings (the
accessibility check, run in this process on the HTML as mailqa reads it), and axe-core's
violations on the same HTML loaded in Debian's Chromium through Playwright (the browser the
web UI tests drive), with every network request refused (as the check is offline: remote
images never load). axe-core is the pinned npm release bundled as rules data
(``rules/axe.min.js``, the copy the service runs in renders; MPL-2.0, notice in
``rules/LICENSES/axe-core.LICENSE``).

Per axe rule, over the templates:

- matched: axe and the static check both flag the template;
- render-only: axe flags it where the static check cannot know (a colour behind an image,
  a gradient or a variable, which the static check lists under needs review), or the rule
  needs layout (``RENDER_ONLY``);
- missed: axe flags it and the static check does not;
- static only: the static check flags it and none of the axe rules that cover its rule do
  (a false positive, or a rule axe reads differently), counted once per static rule under
  the first axe rule that covers it;
- not run: axe rules covering a static rule that this axe-core version does not run
  (deprecated ones: ``duplicate-id`` went with WCAG 2.2's removal of 4.1.1); the static
  rule's findings are then left out of the precision;
- not for email: rules about web pages (landmarks, skip links) a message has no use for.

Precision = matched / (matched + static only) and recall = matched / (matched + missed),
over (template, axe rule) pairs of the rules both cover.

    .venv/bin/python bench/accessibility.py DIR [--recursive] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from playwright.async_api import Route, async_playwright  # noqa: E402

from mailqa.checks.accessibility.axe import COVERED as AXE_COVERED  # noqa: E402
from mailqa.checks.accessibility.axe import NOT_FOR_EMAIL  # noqa: E402
from mailqa.checks.accessibility.axe import RENDER_ONLY as AXE_RENDER_ONLY  # noqa: E402
from mailqa.checks.accessibility.check import analyse  # noqa: E402
from mailqa.core.html import HtmlDocument  # noqa: E402
from mailqa.core.message import ParsedMessage  # noqa: E402
from mailqa.rules.axe import axe_script  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
SUFFIXES = (".html", ".htm", ".eml")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]

# The mapping the service merges axe-core's rendered audit with (mailqa.checks.accessibility.axe);
# here a duplicate id an ARIA reference names is told apart, as axe's duplicate-id-aria.
COVERED: dict[str, tuple[str, ...]] = {
    **AXE_COVERED,
    "duplicate-id-aria": ("duplicate-id-referenced",),
}
"""axe rule -> the static rules that find the same problem."""
RENDER_ONLY = frozenset(AXE_RENDER_ONLY)
"""axe rules that need a laid-out page."""


def templates(folder: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in SUFFIXES)


def html_of(path: Path) -> str | None:
    if path.suffix.lower() == ".eml":
        return ParsedMessage(path.read_bytes()).html
    return path.read_text(encoding="utf-8", errors="replace")


def static_rules(html: str) -> tuple[dict[str, int], bool]:
    """The static check's rule names (without the check prefix) with their occurrences, and
    whether it could not know some contrast (needs review)."""
    result = analyse(HtmlDocument(html))
    names: dict[str, int] = defaultdict(int)
    for f in result.findings:
        # A duplicate id an ARIA reference names is serious: axe's duplicate-id-aria.
        referenced = f.rule == "accessibility.duplicate-id" and f.severity == "warning"
        name = "duplicate-id-referenced" if referenced else f.rule.removeprefix("accessibility.")
        names[name] += int(f.data.get("occurrences", 1))
    unknown = any(item["kind"] == "contrast" for item in result.details["needs_review"])
    return names, unknown


async def axe_rules_run(browser: Any, axe_source: str) -> set[str]:
    """The rules this axe-core runs for ``AXE_TAGS`` (deprecated ones are left out)."""
    page = await browser.new_page()
    try:
        await page.set_content("<!DOCTYPE html><html><body></body></html>")
        await page.add_script_tag(content=axe_source)
        rules = await page.evaluate(
            "(tags) => axe.getRules(tags).filter(r => !r.tags.includes('deprecated'))"
            ".map(r => r.ruleId)",
            AXE_TAGS,
        )
    finally:
        await page.close()
    return set(rules)


async def axe_violations(browser: Any, html: str, axe_source: str) -> dict[str, int]:
    """axe rule -> violating nodes, for ``html`` loaded with the network refused."""
    page = await browser.new_page()

    async def refuse(route: Route) -> None:
        await route.abort()

    try:
        await page.route("**/*", refuse)
        await page.set_content(html, wait_until="domcontentloaded")
        await page.add_script_tag(content=axe_source)
        result = await page.evaluate(
            "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
        )
    finally:
        await page.close()
    return {v["id"]: len(v["nodes"]) for v in result["violations"]}


def compare(
    found: dict[str, tuple[dict[str, int], dict[str, int], bool]], axe_runs: set[str]
) -> dict[str, Any]:
    per_rule: dict[str, Counter[str]] = defaultdict(Counter)
    covering: dict[str, list[str]] = defaultdict(list)
    for axe_rule, names in COVERED.items():
        for name in names:
            covering[name].append(axe_rule)
    nodes: dict[str, Counter[str]] = defaultdict(Counter)
    for axe, ours, unknown in found.values():
        for rule, mapped in COVERED.items():
            nodes[rule]["axe"] += axe.get(rule, 0)
            nodes[rule]["static"] += sum(ours.get(name, 0) for name in mapped)
        for rule in axe:
            mapped = COVERED.get(rule, ())
            if rule in NOT_FOR_EMAIL:
                per_rule[rule]["not for email"] += 1
            elif any(name in ours for name in mapped):
                per_rule[rule]["matched"] += 1
            elif rule in RENDER_ONLY or (rule == "color-contrast" and unknown):
                per_rule[rule]["render-only"] += 1
            else:
                per_rule[rule]["missed"] += 1
        for name in sorted(ours):
            rules = covering.get(name)
            if not rules or any(r in axe for r in rules):
                continue  # no axe rule for it, or axe flags it too
            running = [r for r in rules if r in axe_runs]
            per_rule[(running or rules)[0]]["static only" if running else "not run"] += 1
    totals: Counter[str] = Counter()
    for counts in per_rule.values():
        totals.update(counts)
    matched = totals["matched"]
    precision = (
        matched / (matched + totals["static only"]) if matched + totals["static only"] else None
    )
    recall = matched / (matched + totals["missed"]) if matched + totals["missed"] else None
    return {
        "templates": len(found),
        "per_rule": {rule: dict(counts) for rule, counts in sorted(per_rule.items())},
        "totals": dict(totals),
        "nodes": {rule: dict(c) for rule, c in sorted(nodes.items()) if c["axe"] or c["static"]},
        "precision": precision,
        "recall": recall,
    }


async def run(
    files: list[Path],
) -> tuple[dict[str, tuple[dict[str, int], dict[str, int], bool]], set[str]]:
    axe_source = axe_script().source
    out: dict[str, tuple[dict[str, int], dict[str, int], bool]] = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            axe_runs = await axe_rules_run(browser, axe_source)
            for path in files:
                html = html_of(path)
                if not html:
                    continue
                ours, unknown = static_rules(html)
                out[path.name] = (await axe_violations(browser, html, axe_source), ours, unknown)
        finally:
            await browser.close()
    return out, axe_runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--recursive", action="store_true")
    parser.add_argument("--json", type=Path, help="write the comparison here too")
    args = parser.parse_args()
    files = templates(args.folder, args.recursive)
    if not files:
        raise SystemExit(f"no templates in {args.folder}")
    found, axe_runs = asyncio.run(run(files))
    summary = compare(found, axe_runs)
    print(f"{args.folder}: {summary['templates']} template(s), axe-core vs the static check")
    columns = ["matched", "render-only", "missed", "static only", "not run", "not for email"]
    print(f"  {'axe rule':32s}" + "".join(f"{c:>14s}" for c in columns))
    for rule, counts in summary["per_rule"].items():
        if counts:
            print(f"  {rule:32s}" + "".join(f"{counts.get(c, 0):>14d}" for c in columns))
    totals = summary["totals"]
    print(f"  {'total':32s}" + "".join(f"{totals.get(c, 0):>14d}" for c in columns))

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.0f}%"

    print(f"  precision {pct(summary['precision'])}, recall {pct(summary['recall'])}")
    print("  elements flagged (axe nodes / static occurrences), by axe rule:")
    for rule, counts in summary["nodes"].items():
        print(f"    {rule:30s} {counts.get('axe', 0):>6d} / {counts.get('static', 0)}")
    uncovered = sorted(
        {r for axe, _, _ in found.values() for r in axe}
        - set(COVERED)
        - NOT_FOR_EMAIL
        - RENDER_ONLY
    )
    if uncovered:
        print(f"  axe rules the static check has no rule for: {', '.join(uncovered)}")
    if args.json:
        summary["by_template"] = {
            name: {"axe": axe, "static": sorted(ours), "contrast_unknown": unknown}
            for name, (axe, ours, unknown) in found.items()
        }
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
