"""How often the default gate fails real templates, and on which rules.

Runs ``mailqa check`` once, as a user would (a whole process, default gate, no configuration
file: it runs in DIR, so no ``mailqa.toml`` above the repository is picked up), over every
``.html``/``.htm``/``.eml`` file in DIR, and prints:

- the pass rate (templates whose gate passed);
- per blocking rule id, how many templates it blocked, with the rule's impact class from the
  impact file (``rules/impact.yaml`` unless ``--impact``) for the html check's rules;
- how many of the blocking findings are ``harmless`` or ``enhancement`` by that file (the
  noise impact-based verdicts remove), how many templates would pass without them, and the
  blocking findings per impact class.

    .venv/bin/python bench/verdicts.py DIR [--recursive] [--impact FILE] [--json OUT]
        [-- extra mailqa check options, e.g. --clients 'gmail.*,outlook.*']

Only ``mailqa check``'s JSON report is read; the impact file is read and checked against the
bundled support data (it must cover every caniemail slug).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mailqa.rules.caniemail import load_rules  # noqa: E402
from mailqa.rules.impact import ImpactData, load_impact_from  # noqa: E402

MAILQA = [sys.executable, "-m", "mailqa.cli.main", "check"]
SUFFIXES = (".html", ".htm", ".eml")
NOISE = ("harmless", "enhancement")


def templates(folder: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in SUFFIXES)


def run_gate(folder: Path, files: list[Path], extra: list[str]) -> dict[str, Any]:
    """One ``mailqa check`` process over ``files``; its JSON report."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        args = [str(p.relative_to(folder)) for p in files]
        proc = subprocess.run(
            [*MAILQA, *args, "--format", "json", "--output", str(out), *extra],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode not in (0, 1) or not out.is_file():
            raise SystemExit(f"mailqa check exited {proc.returncode}: {proc.stderr.strip()}")
        report: dict[str, Any] = json.loads(out.read_text("utf-8"))
        return report


def impact_of(finding: dict[str, Any], impact: ImpactData) -> str:
    if finding.get("check") != "html":
        return "-"
    entry = impact.of(str(finding.get("rule")))
    return entry.impact if entry is not None else "?"


def summarise(report: dict[str, Any], impact: ImpactData) -> dict[str, Any]:
    files = report["files"]
    passed = sum(f["status"] == "passed" for f in files)
    blocked_by: Counter[str] = Counter()
    by_impact: Counter[str] = Counter()
    classes: dict[str, str] = {}
    blocking = noise = 0
    pass_without_noise = passed
    errored = []
    for item in files:
        if item.get("error"):
            errored.append(item["path"])
        rules = set()
        only_noise = item["status"] != "passed"
        for finding in item["findings"]:
            if not finding.get("blocking"):
                continue
            rule = str(finding["rule"])
            cls = impact_of(finding, impact)
            classes[rule] = cls
            rules.add(rule)
            blocking += 1
            by_impact[cls] += 1
            if cls in NOISE:
                noise += 1
            else:
                only_noise = False
        blocked_by.update(rules)
        if only_noise and item["status"] == "failed" and not item.get("error"):
            pass_without_noise += 1
    return {
        "templates": len(files),
        "passed": passed,
        "pass_rate": round(100.0 * passed / len(files), 1) if files else None,
        "blocking_findings": blocking,
        "harmless_or_enhancement": noise,
        "by_impact": dict(by_impact.most_common()),
        "pass_without_noise": pass_without_noise,
        "errored": errored,
        "blocked_by": [
            {"rule": rule, "templates": n, "impact": classes[rule]}
            for rule, n in sorted(blocked_by.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    }


def print_summary(folder: Path, summary: dict[str, Any]) -> None:
    n = summary["templates"]
    print(f"{folder}: {n} template(s)")
    print(f"  default gate: {summary['passed']}/{n} passed ({summary['pass_rate']}%)")
    if summary["errored"]:
        print(f"  errored: {', '.join(summary['errored'])}")
    blocking, noise = summary["blocking_findings"], summary["harmless_or_enhancement"]
    share = f" ({100.0 * noise / blocking:.0f}%)" if blocking else ""
    print(f"  blocking findings: {blocking}, of which harmless or enhancement: {noise}{share}")
    print(f"  templates passing without those: {summary['pass_without_noise']}/{n}")
    classes = ", ".join(f"{cls} {k}" for cls, k in summary["by_impact"].items())
    print(f"  blocking findings by impact ('-': not an html rule): {classes}")
    if summary["blocked_by"]:
        print("  blocking rules (templates blocked, impact):")
        for row in summary["blocked_by"]:
            print(f"    {row['templates']:4d}  {row['rule']:<40} {row['impact']}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="folder of .html/.eml templates")
    parser.add_argument("--recursive", action="store_true", help="also check subfolders")
    parser.add_argument("--impact", type=Path, default=ROOT / "rules" / "impact.yaml")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    folder = args.dir.resolve()
    files = templates(folder, args.recursive)
    if not files:
        raise SystemExit(f"no .html or .eml files in {folder}")
    impact = load_impact_from(args.impact, load_rules().features)
    summary = summarise(run_gate(folder, files, extra), impact)
    print_summary(folder, summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
