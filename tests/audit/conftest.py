"""Generated mail corpora (eml directory, mbox, Maildir) with known defects."""

from __future__ import annotations

import mailbox
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from tests.support.postgres import throwaway_pg_database

ROOT = Path(__file__).resolve().parents[2]
MAILQA = [sys.executable, "-m", "mailqa.cli.main"]


def make_message(i: int) -> bytes:
    """Every 4th message lacks a Subject, every 5th a Date; links to a few hosts."""
    msg = EmailMessage()
    msg["From"] = f"Shop {i % 3} <news@shop{i % 3}.example>"
    msg["To"] = "reader@example.com"
    if i % 4:
        msg["Subject"] = f"Offer number {i}"
    if i % 5:
        msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = f"<offer{i}@shop.example>"
    msg.set_content(f"Offer {i}: see https://shop{i % 3}.example/p/{i}\n")
    msg.add_alternative(
        f'<html><body><h1>Offer {i}</h1><p><a href="https://shop{i % 3}.example/p/{i}">'
        f"Buy</a></p></body></html>",
        subtype="html",
    )
    return msg.as_bytes()


@dataclass(frozen=True)
class Expected:
    messages: int
    subject_missing: int
    date_missing: int


def expected(n: int) -> Expected:
    return Expected(
        messages=n,
        subject_missing=sum(1 for i in range(n) if i % 4 == 0),
        date_missing=sum(1 for i in range(n) if i % 5 == 0),
    )


def write_eml_dir(path: Path, n: int, start: int = 0) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        (path / f"msg{i:05}.eml").write_bytes(make_message(i))
    return path


def write_mbox(path: Path, n: int) -> Path:
    box = mailbox.mbox(path)
    for i in range(n):
        box.add(make_message(i))
    box.close()
    return path


def write_maildir(path: Path, n: int) -> Path:
    box = mailbox.Maildir(path, create=True)
    for i in range(n):
        box.add(make_message(i))
    box.close()
    return path


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """The real `mailqa` command, run in this process (imports are paid once)."""
    from typer.testing import CliRunner

    from mailqa.cli.main import app

    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session."""
    yield from throwaway_pg_database("mailqa_audit")
