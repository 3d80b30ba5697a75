"""What ``mailqa check`` loads to check files: the checks asked for and their needs, not the
web stack, the database, the network clients or the other checks. Each run here is a fresh
process that reports, after the gate ran, which of the modules that must stay unloaded got
loaded (no timings: what is imported is the property). The console script's quick start of
``check`` is held to the full application's behaviour: same outputs, same exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from tests.gate.conftest import BROKEN_EML, ROOT, write

from mailqa.checks import BUILTIN_CHECKS, rule_catalog
from mailqa.cli.gate import GATE_RULES
from mailqa.rules import prebuilt
from mailqa.rules.warm import warm

TEMPLATE = ROOT / "tests" / "html" / "verdicts" / "clean-hybrid-vml-buttons.html"
# Frameworks and clients no offline html run needs (the checks' own libraries included).
NEVER = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "celery", "kombu")
CLIENTS = ("httpx", "httpcore", "dkim", "dns", "aiospamc", "authres", "nacl")
OTHER_CHECKS = tuple(f"mailqa.checks.{n}" for n in BUILTIN_CHECKS if n != "html")
MAILQA_SERVER = ("mailqa.api", "mailqa.web", "mailqa.store", "mailqa.service", "mailqa.worker")
MAILQA_CLIENTS = ("mailqa.net.http", "mailqa.net.spamd", "mailqa.net.dns", "mailqa.rules.dnsbl")

REPORT = """
import gc, json, sys
{run}
loaded = sorted(
    m for m in sys.modules
    if m.split(".")[0] in {top!r} or m.startswith({prefixes!r})
)
print("\\nMODULES " + json.dumps({{"code": code, "loaded": loaded, "gc": gc.isenabled()}}))
"""

RUN_CHECK = """
from mailqa.cli.check_cmd import run_check
code = run_check(paths=[{path!r}], checks=["html"], jobs=1)
"""

# The console script's entry point (pyproject.toml), with the gate's exit caught.
ENTRY = """
sys.argv = ["mailqa", "check", "--checks", "html", {path!r}]
from mailqa.cli.entry import main
try:
    main()
except SystemExit as exc:
    code = exc.code
"""


def loaded_after(
    run: str, env: dict[str, str], cwd: Path, also: tuple[str, ...] = ()
) -> tuple[int, list[str]]:
    """(exit code, forbidden modules loaded) of ``run`` in a new interpreter; ``also``: more
    top-level packages that must stay unloaded. The cycle collector must be on at the end."""
    code = REPORT.format(
        run=run,
        top=(*NEVER, *CLIENTS, *also),
        prefixes=(*OTHER_CHECKS, *MAILQA_SERVER, *MAILQA_CLIENTS),
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.rsplit("\nMODULES ", 1)[1])
    assert result["gc"] is True
    return result["code"], result["loaded"]


def test_an_html_run_loads_only_the_html_check(cli_env: dict[str, str], tmp_path: Path) -> None:
    code, loaded = loaded_after(RUN_CHECK.format(path=str(TEMPLATE)), cli_env, tmp_path)
    assert code == 0
    assert loaded == []


def test_the_console_script_checks_a_template_without_rich_or_yaml(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    warm()  # the rules data's entries (without them the sources need the YAML parser)
    fresh = any(any(d.glob(f"*{prebuilt.SUFFIX}")) for d in prebuilt.cache_dirs() if d.is_dir())
    also = ("rich", "pygments", "markdown_it", *(("yaml",) if fresh else ()))
    code, loaded = loaded_after(ENTRY.format(path=str(TEMPLATE)), cli_env, tmp_path, also)
    assert code == 0
    assert loaded == []


def _console_script(folder: Path, entry: str) -> Path:
    """A ``mailqa`` script calling ``entry`` (module:function), as pip writes one."""
    module, _, function = entry.partition(":")
    folder.mkdir()
    script = folder / "mailqa"
    script.write_text(f"import sys\nfrom {module} import {function}\nsys.exit({function}())\n")
    return script


def _run(script: Path, args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = re.compile(r"in \d+\.\d+ s")
    return proc.returncode, took.sub("in T s", proc.stdout), took.sub("in T s", proc.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--checks", "html", str(TEMPLATE)],
        ["check", "--checks", "headers,html", "bad.eml"],
        ["check", "--checks", "html", "--format", "github", str(TEMPLATE)],
        ["check", "--no-such-option", str(TEMPLATE)],
        ["check", "--jobs", "0", str(TEMPLATE)],
        ["check", "--format", "yaml", str(TEMPLATE)],
        ["check", "--checks", "nope", str(TEMPLATE)],
        ["check", "missing.html"],
        ["check"],
        ["check", "--help"],
    ],
    ids=lambda args: " ".join(a if "/" not in a else Path(a).name for a in args),
)
def test_the_console_script_runs_check_as_the_full_application_does(
    args: list[str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    write(tmp_path, "bad.eml", BROKEN_EML)
    quick, full = (
        _run(_console_script(tmp_path / name, entry), args, cli_env, tmp_path)
        for name, entry in (("entry", "mailqa.cli.entry:main"), ("app", "mailqa.cli.main:app"))
    )
    assert quick == full
    assert quick[0] in (0, 1, 2)


def test_the_console_script_is_the_entry() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["scripts"]["mailqa"] == "mailqa.cli.entry:main"


def test_the_registry_imports_a_check_when_it_is_looked_up() -> None:
    assert list(BUILTIN_CHECKS) == [
        "headers",
        "links",
        "spam",
        "auth",
        "blacklist",
        "html",
        "hygiene",
        "accessibility",
        "merge_tags",
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
