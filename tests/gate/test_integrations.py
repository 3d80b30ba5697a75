"""The pre-commit hook and the GitHub Action run as written (their commands, real bash)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.gate.conftest import BROKEN_EML, ROOT, TEMPLATE_WITH_PRIVATE_LINK, write


def _env(cli_env: dict[str, str]) -> dict[str, str]:
    env = dict(cli_env)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_pre_commit_hook_entry_checks_the_matching_files(
    project: Path, cli_env: dict[str, str]
) -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "mailqa-check" and hook["language"] == "python"
    files = re.compile(hook["files"])
    staged = ["mail/welcome.html", "mail/bad.eml", "README.md"]
    write(project, "mailqa.toml", "checks = ['headers', 'links']\n")
    write(project, "mail/welcome.html", TEMPLATE_WITH_PRIVATE_LINK)
    write(project, "mail/bad.eml", BROKEN_EML)
    write(project, "README.md", "# x\n")
    chosen = [f for f in staged if files.search(f)]
    assert chosen == ["mail/welcome.html", "mail/bad.eml"]
    proc = subprocess.run(
        [*shlex.split(hook["entry"]), *chosen],
        cwd=project,
        env=_env(cli_env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "mail/welcome.html:4:" in proc.stdout and "headers.date-missing" in proc.stdout


def test_action_script_annotates_summarises_and_passes_the_exit_code(
    project: Path, cli_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "check")
    write(project, "mailqa.toml", "checks = ['headers']\n")
    write(project, "mail/bad.eml", BROKEN_EML)
    gh = tmp_path_factory.mktemp("github")
    env = _env(cli_env) | {
        "GITHUB_STEP_SUMMARY": str(gh / "summary.md"),
        "GITHUB_OUTPUT": str(gh / "output"),
        "MQ_PATHS": "mail",
        "MQ_CONFIG": "",
        "MQ_FORMAT": "sarif",
        "MQ_OUTPUT": "mailqa.sarif",
        "MQ_BASELINE": "",
        "MQ_ONLINE": "false",
        "MQ_ARGS": "--fail-on warning",
    }
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "::error file=mail/bad.eml,line=1,title=mailqa headers.date-missing::" in proc.stdout
    assert (gh / "summary.md").read_text().startswith("## mailqa check: ❌ failed")
    assert (gh / "output").read_text() == "exit-code=1\n"
    assert '"version": "2.1.0"' in (project / "mailqa.sarif").read_text()
