"""The README's gate examples run as written, with the exit codes their comments state."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.gate.conftest import ROOT

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
