"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from mailqa.store.database import migrate, sync_url
from mailqa.store.models import Base


def schema_drift(url: str) -> list[Any]:
    migrate(url)
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_sqlite_schema_matches_models(tmp_path: Path) -> None:
    assert schema_drift(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}") == []


def test_postgresql_schema_matches_models(pg_url: str) -> None:
    assert schema_drift(pg_url) == []


@pytest.mark.parametrize("revision", ["0011", "0010", "0005", "0003", "base"])
def test_downgrade_then_upgrade(tmp_path: Path, revision: str) -> None:
    from alembic import command

    from mailqa.store.database import alembic_config

    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    command.downgrade(alembic_config(url), revision)
    assert schema_drift(url) == []
