"""A running mailqa (service + SMTP + HTTP on loopback) shared by the foundation tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from tests.support.postgres import throwaway_pg_database
from tests.support.stack import Running, base_settings, start_stack


@pytest_asyncio.fixture(scope="session")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """The whole stack on SQLite (admin tokens accepted over SMTP: tests send with one)."""
    settings = base_settings(tmp_path_factory.mktemp("mailqa"), smtp_allow_admin_tokens=True)
    async with start_stack(settings) as stack:
        yield stack


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session."""
    yield from throwaway_pg_database("mailqa_test")


@pytest_asyncio.fixture(scope="session")
async def running_pg(
    tmp_path_factory: pytest.TempPathFactory, pg_url: str
) -> AsyncIterator[Running]:
    """The whole stack on PostgreSQL (admin tokens accepted over SMTP: tests send with one)."""
    settings = base_settings(
        tmp_path_factory.mktemp("mailqa-pg"), database_url=pg_url, smtp_allow_admin_tokens=True
    )
    async with start_stack(settings) as stack:
        yield stack


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest) -> Running:
    """The stack on each database in turn."""
    stack: Running = request.getfixturevalue(
        "running" if request.param == "sqlite" else "running_pg"
    )
    return stack


@pytest.fixture
def sample() -> bytes:
    return (Path(__file__).parent.parent / "samples" / "welcome.eml").read_bytes()
