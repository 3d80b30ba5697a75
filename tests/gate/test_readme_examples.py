"""The README's gate examples run as written, with the exit codes their comments state."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.gate.conftest import ROOT
from tests.support.serve_process import serving

BLOCK = re.compile(r"<!-- gate-examples:start -->\n```sh\n(.*?)```", re.S)
EXIT = re.compile(r"#\s*exit (\d)")


def test_readme_gate_examples(tmp_path: Path, cli_env: dict[str, str]) -> None:
    match = BLOCK.search((ROOT / "README.md").read_text())
    assert match, "README lost its gate examples block"
    commands = [line for line in match.group(1).splitlines() if line.strip()]
    assert len(commands) >= 4
    shutil.copytree(ROOT / "tests" / "samples", tmp_path / "tests" / "samples")
    env = dict(cli_env)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for command in commands:
        expected = EXIT.search(command)
        assert expected, f"state the exit code of: {command}"
        proc = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == int(expected.group(1)), (command, proc.stdout, proc.stderr)
    assert (tmp_path / "mailqa.sarif").is_file() and (tmp_path / "mailqa-junit.xml").is_file()
    assert (tmp_path / "mailqa-baseline.json").is_file()


QUICK_START = re.compile(r"<!-- quickstart-example:start -->\n```sh\n(.*?)```", re.S)


def test_readme_quick_start_shows_the_report_of_the_mail_it_sends(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """The quick start against a fresh ``mailqa serve``: the token and inbox id it printed
    go where the example says, its ports where 8025 and 2525 are; the last command prints
    the message's report."""
    match = QUICK_START.search((ROOT / "README.md").read_text())
    assert match, "README lost its quick-start example"
    script = match.group(1)
    env = {**cli_env, "MAILQA_CHECKS": "headers,html", "MAILQA_OFFLINE": "true"}
    env["MAILQA_SPAMD_MANAGED"] = "off"
    with serving(tmp_path / "data", env=env, cwd=tmp_path) as served:
        for placeholder, value in (
            ("TOKEN=...", f"TOKEN={served.token}"),
            ("INBOX=...", f"INBOX={served.inbox_id}"),
            ("127.0.0.1:8025", f"127.0.0.1:{served.http_port}"),
            ('"127.0.0.1", 2525', f'"127.0.0.1", {served.smtp_port}'),
        ):
            assert placeholder in script, placeholder
            script = script.replace(placeholder, value)
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, (run.stdout, run.stderr)
    report = json.loads(run.stdout)
    assert report["message"]["subject"] == "Welcome!"
    assert set(report["checks"]) == {"headers", "html"}
    assert all("findings" in check for check in report["checks"].values())
