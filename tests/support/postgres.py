"""Throw-away PostgreSQL databases on the server the tests use (``MAILQA_TEST_PG``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

PG_ADMIN_DSN = os.environ.get("MAILQA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def throwaway_pg_database(prefix: str) -> Iterator[str]:
    """Create a PostgreSQL database, yield its SQLAlchemy URL, drop it afterwards. Skips
    when PostgreSQL is not reachable, except in CI, where it is required."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise RuntimeError(f"PostgreSQL at {PG_ADMIN_DSN} is required in CI: {exc}") from exc
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_DSN}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].split("://", 1)[1]
    yield f"postgresql+psycopg://{base}/{name}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
