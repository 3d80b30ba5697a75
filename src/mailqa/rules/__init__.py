"""Locate the bundled rules data (the top-level ``rules/`` folder of the project)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from mailqa.core.errors import RulesError


@cache
def rules_dir() -> Path:
    """The rules folder: the source tree's ``rules/`` or the copy packaged in the wheel."""
    source = Path(__file__).resolve().parents[3] / "rules"
    if source.is_dir():
        return source
    packaged = Path(str(resources.files("mailqa") / "_rules"))
    if packaged.is_dir():
        return packaged
    raise RulesError(f"rules data not found (looked in {source} and {packaged})")


def rules_file(name: str) -> Path:
    path = rules_dir() / name
    if not path.is_file():
        raise RulesError(f"rules file missing: {path}")
    return path
