"""The rule tables of docs/ from the rule registry; ``--write`` puts them in the pages.

Each table sits between ``<!-- rules-table:CHECK:start -->`` and
``<!-- rules-table:CHECK:end -->`` on the page the check's rules name (``CheckRules.page``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mailqa.cli.gate import rule_catalog
from mailqa.core.rules import CheckRules

DOCS = Path(__file__).resolve().parents[1] / "docs"


def markers(check: str) -> tuple[str, str]:
    return f"<!-- rules-table:{check}:start -->", f"<!-- rules-table:{check}:end -->"


def rules_table(rules: CheckRules) -> str:
    rows = ["| rule | severity | title | what it means |", "| --- | --- | --- | --- |"]
    for rule in rules:
        cells = [f"`{rule.id}`", rule.severity.value, rule.title, rule.help]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def pages_with_tables() -> dict[Path, str]:
    """Every page holding a rule table, with its tables brought up to date."""
    out: dict[Path, str] = {}
    for rules in rule_catalog().sets.values():
        if not rules.rules:
            continue
        path = DOCS / rules.page.partition("#")[0]
        text = out.get(path) or path.read_text()
        start, end = markers(rules.check)
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise SystemExit(f"{path.name}: no {start} ... {end} markers")
        table = f"{start}\n{rules_table(rules)}\n{end}"
        out[path] = pattern.sub(lambda _, table=table: table, text)
    return out


if __name__ == "__main__":
    pages = pages_with_tables()
    if "--write" in sys.argv:
        for path, text in pages.items():
            path.write_text(text)
    else:
        for path, text in pages.items():
            print(path.name, "up to date" if path.read_text() == text else "out of date")
