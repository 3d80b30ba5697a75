"""The README stays true: its set-up commands, CI entry point and configuration table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_config_table() -> object:
    spec = importlib.util.spec_from_file_location("config_table", ROOT / "scripts/config_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_configuration_table_is_current() -> None:
    module = load_config_table()
    readme = (ROOT / "README.md").read_text()
    assert module.readme_with_table(readme) == readme, (  # type: ignore[attr-defined]
        "README configuration table is stale: run scripts/config_table.py --write"
    )


def test_readme_has_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/serve.sh" in readme and "bash scripts/test.sh" in readme
    assert "bash scripts/test.sh" in (ROOT / ".ci/run").read_text()
