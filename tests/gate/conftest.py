"""Fixtures for the CI gate: sample files with known findings and ways to run the command.

Most tests call the Typer app in-process (fast); a few run ``python -m mailqa.cli.main`` as
CI would, with a bytecode cache shared by the session so each start stays short.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from typer.testing import CliRunner

from mailqa.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).parent / "schemas"
GOLDEN = Path(__file__).parent / "golden"

# A clean message: the headers check has nothing to say.
CLEAN_EML = """\
From: Shop <news@shop.example.com>
To: ann@example.org
Subject: Your receipt
Date: Mon, 23 Nov 2026 10:00:00 +0000
Message-ID: <receipt-1@shop.example.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Thanks for your order.
--b1
Content-Type: text/html; charset=utf-8

<p>Thanks for your order.</p>
--b1--
"""

# headers.date-missing (error), headers.message-id-missing (warning),
# headers.to-missing (warning), headers.subject-all-caps (warning).
BROKEN_EML = """\
From: Shop <news@shop.example.com>
Subject: HUGE SALE THIS WEEKEND ONLY
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Sale!
--b1
Content-Type: text/html; charset=utf-8

<p>Sale!</p>
--b1--
"""

# Only warnings: headers.message-id-missing.
WARNING_EML = """\
From: Shop <news@shop.example.com>
To: ann@example.org
Subject: Hello
Date: Mon, 23 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Hello.
--b1
Content-Type: text/html; charset=utf-8

<p>Hello.</p>
--b1--
"""

# links.private-host (error) on line 4 of the template.
TEMPLATE_WITH_PRIVATE_LINK = """\
<!doctype html>
<html lang="en"><head><title>Welcome</title></head>
<body>
<p>Confirm: <a href="https://yourapp.example/confirm">confirm</a></p>
</body>
</html>
"""


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str


class Gate(Protocol):
    """The ``gate`` fixture: ``mailqa check ARGS`` in-process."""

    def __call__(self, *args: str, stdin: str | None = None) -> Outcome: ...


class GateProcess(Protocol):
    """The ``gate_process`` fixture: ``mailqa check ARGS`` as a process in ``cwd``."""

    def __call__(self, *args: str, cwd: Path, stdin: bytes | None = None) -> Outcome: ...


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder, made the working directory, with no MAILQA_* settings."""
    for key in list(os.environ):
        if key.startswith("MAILQA_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def gate() -> Gate:
    """Run ``mailqa check ARGS`` in-process (in the current working directory)."""
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> Outcome:
        result = runner.invoke(app, ["check", "--jobs", "1", *args], input=stdin)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Outcome(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILQA_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path_factory.mktemp("pycache"))
    env["PYTHONPATH"] = str(ROOT / "src")
    env["NO_COLOR"] = "1"
    yield env


@pytest.fixture
def gate_process(cli_env: dict[str, str]) -> GateProcess:
    """Run ``python -m mailqa.cli.main check ARGS`` as a separate process."""

    def run(*args: str, cwd: Path, stdin: bytes | None = None) -> Outcome:
        proc = subprocess.run(
            [sys.executable, "-m", "mailqa.cli.main", "check", *args],
            cwd=cwd,
            env=cli_env,
            input=stdin,
            capture_output=True,
            timeout=120,
        )
        return Outcome(
            proc.returncode,
            proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"),
        )

    return run
