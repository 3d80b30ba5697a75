"""`mailqa schema`, `mailqa token create` and `mailqa serve` option errors."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from mailqa.service import open_service
from mailqa.settings import Settings
from mailqa.worker.selection import select_executor

MAILQA = [sys.executable, "-m", "mailqa.cli.main"]


def test_schema_prints_the_report_json_schema() -> None:
    out = subprocess.run([*MAILQA, "schema"], capture_output=True, check=True, text=True)
    schema = json.loads(out.stdout)
    assert schema["title"] == "Report"
    assert {"schema_version", "checks", "status"} <= set(schema["properties"])


def test_token_create_stores_a_working_token(tmp_path: Path) -> None:
    out = subprocess.run(
        [*MAILQA, "token", "create", "--name", "ci", "--data-dir", str(tmp_path)],
        capture_output=True,
        check=True,
        text=True,
    )
    token = out.stdout.strip()
    assert token.startswith("mq_")

    async def lookup() -> bool:
        settings = Settings(data_dir=tmp_path, checks=["headers"])
        async with open_service(
            settings, executor=select_executor, start_executor=False
        ) as service:
            row = await service.store.resolve_token(token)
            return row is not None and row.is_admin and row.name == "ci"

    assert asyncio.run(lookup())


def test_bad_option_values_are_usage_errors(tmp_path: Path) -> None:
    out = subprocess.run(
        [*MAILQA, "serve", "--executor", "nonsense", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "executor" in out.stderr


def test_token_list_and_revoke(tmp_path: Path) -> None:
    def mailqa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*MAILQA, "token", *args, "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    token = mailqa("create", "--name", "short-lived").stdout.strip()
    listed = mailqa("list").stdout.splitlines()
    [line] = [row for row in listed if row.endswith("\tshort-lived")]
    token_id, prefix, scope, _ = line.split("\t")
    assert token.startswith(prefix.rstrip("…")) and scope == "admin"
    assert token not in "".join(listed)
    assert mailqa("revoke", token_id).returncode == 0
    assert "short-lived" not in mailqa("list").stdout
    again = mailqa("revoke", token_id)
    assert again.returncode == 2 and "not found" in again.stderr


def test_token_create_in_another_folder_refuses_to_make_a_new_database(tmp_path: Path) -> None:
    """Run away from the server's folder, the default ./data is not the server's database:
    the command says so instead of making a new one there, unless told to."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILQA_")}
    database = (tmp_path / "data" / "mailqa.db").resolve()

    def token_create(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*MAILQA, "token", "create", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    refused = token_create()
    assert refused.returncode == 2 and refused.stdout == ""
    assert str(database) in refused.stderr and "--create" in refused.stderr
    assert not (tmp_path / "data").exists()

    made = token_create("--create")
    assert made.returncode == 0, made.stderr
    assert made.stderr.strip() == f"database: {database} (new)"
    assert made.stdout.strip().startswith("mq_") and database.is_file()

    again = token_create()  # the database exists now: no flag needed, and it is named
    assert again.returncode == 0 and again.stderr.strip() == f"database: {database}"
