"""What ``mailqa check`` loads to check files: the checks asked for and their needs, not the
web stack, the database, the network clients or the other checks. Each run here is a fresh
process that reports, after the gate ran, which of the modules that must stay unloaded got
loaded (no timings: what is imported is the property)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.gate.conftest import ROOT

from mailqa.checks import BUILTIN_CHECKS, rule_catalog
from mailqa.cli.gate import GATE_RULES

TEMPLATE = ROOT / "tests" / "html" / "verdicts" / "clean-hybrid-vml-buttons.html"
# Frameworks and clients no offline html run needs (the checks' own libraries included).
NEVER = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "celery", "kombu")
CLIENTS = ("httpx", "httpcore", "dkim", "dns", "aiospamc", "authres", "nacl")
OTHER_CHECKS = tuple(f"mailqa.checks.{n}" for n in BUILTIN_CHECKS if n != "html")
MAILQA_SERVER = ("mailqa.api", "mailqa.web", "mailqa.store", "mailqa.service", "mailqa.worker")
MAILQA_CLIENTS = ("mailqa.net.http", "mailqa.net.spamd", "mailqa.net.dns", "mailqa.rules.dnsbl")

REPORT = """
import json, sys
{run}
loaded = sorted(
    m for m in sys.modules
    if m.split(".")[0] in {top!r} or m.startswith({prefixes!r})
)
print("\\nMODULES " + json.dumps({{"code": code, "loaded": loaded}}))
"""

RUN_CHECK = """
from mailqa.cli.check_cmd import run_check
code = run_check(paths=[{path!r}], checks=["html"], jobs=1)
"""


def loaded_after(run: str, env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    """(exit code, forbidden modules loaded) of ``run`` in a new interpreter."""
    code = REPORT.format(
        run=run, top=(*NEVER, *CLIENTS), prefixes=(*OTHER_CHECKS, *MAILQA_SERVER, *MAILQA_CLIENTS)
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.rsplit("\nMODULES ", 1)[1])
    return result["code"], result["loaded"]


def test_an_html_run_loads_only_the_html_check(cli_env: dict[str, str], tmp_path: Path) -> None:
    code, loaded = loaded_after(RUN_CHECK.format(path=str(TEMPLATE)), cli_env, tmp_path)
    assert code == 0
    assert loaded == []


def test_the_registry_imports_a_check_when_it_is_looked_up() -> None:
    assert list(BUILTIN_CHECKS) == [
        "headers",
        "links",
        "spam",
        "auth",
        "blacklist",
        "html",
        "hygiene",
    ]
    for name, cls in BUILTIN_CHECKS.items():
        assert cls.name == name
        assert BUILTIN_CHECKS[name] is cls


@pytest.mark.parametrize("check", list(BUILTIN_CHECKS))
def test_one_checks_catalogue_has_all_its_rules_and_the_gates(check: str) -> None:
    full = rule_catalog([GATE_RULES])
    alone = rule_catalog([GATE_RULES], checks=[check])
    assert set(alone.sets) <= {check, "gate"}
    for rule in full:
        if rule.check in (check, "gate"):
            assert alone.get(rule.id) is rule
            for alias in rule.aliases:
                assert alone.get(alias) is rule
        else:
            assert alone.get(rule.id) is None
    assert alone.families.get(check) is full.families.get(check)
