"""The configuration table (Markdown) from the Settings model; ``--write`` puts it in README."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mailqa.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- config-table:start -->", "<!-- config-table:end -->"


def config_table() -> str:
    rows = ["| Variable | Default | Description |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "" if default in (None, [], "") else f"`{default}`"
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `MAILQA_{name.upper()}` | {shown} | {description} |")
    return "\n".join(rows)


def readme_with_table(text: str) -> str:
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: f"{START}\n{config_table()}\n{END}", text)


if __name__ == "__main__":
    if "--write" in sys.argv:
        README.write_text(readme_with_table(README.read_text()))
    else:
        print(config_table())
