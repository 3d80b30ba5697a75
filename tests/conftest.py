"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py.

The servers several areas use are started once per session here: NSD with the test zones
(``dns_lab``), a managed spamd (``spamd``) and a loopback HTTP server (``server``). Their
helpers stay in their areas (tests/dnscheck, tests/spam, tests/links).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.dnscheck.conftest import DnsLab
    from tests.links.local_http import LocalHttpServer

    from mailqa.net.spamd.process import ManagedSpamd

SAMPLES = Path(__file__).parent / "samples"
PG_ADMIN_DSN = os.environ.get("MAILQA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def throwaway_pg_database(prefix: str) -> Iterator[str]:
    """Create a PostgreSQL database, yield its SQLAlchemy URL, drop it afterwards. Skips
    when PostgreSQL is not reachable, except in CI, where it is required."""
    import uuid

    import psycopg

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


@pytest.fixture
def sample_bytes() -> bytes:
    return (SAMPLES / "welcome.eml").read_bytes()


@pytest.fixture(scope="session")
def dns_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsLab]:
    """One NSD for the session serving the test zones (DKIM keys made per run)."""
    from tests.dnscheck.conftest import running_dns_lab

    with running_dns_lab(tmp_path_factory.mktemp("nsd")) as lab:
        yield lab


@pytest.fixture(scope="session")
def spamd_installed() -> None:
    """Skip locally, fail in CI, when spamd is missing."""
    from mailqa.net.spamd.process import find_spamd

    if find_spamd() is None:
        if os.environ.get("CI"):
            pytest.fail("spamd is not installed: scripts/setup.sh --dev installs it")
        pytest.skip("spamd is not installed (apt-get install spamassassin spamc spamd)")


@pytest.fixture(scope="session")
async def spamd(spamd_installed: None) -> AsyncIterator[ManagedSpamd]:
    """One real spamd for the session, required score ``SESSION_THRESHOLD``."""
    from tests.spam.conftest import SESSION_THRESHOLD

    from mailqa.net.spamd.process import ManagedSpamd

    async with ManagedSpamd(extra_config=(f"required_score {SESSION_THRESHOLD}",)) as daemon:
        yield daemon


@pytest.fixture(scope="session")
async def server() -> AsyncIterator[LocalHttpServer]:
    """A real HTTP server on loopback (tests/links/local_http.py). It answers while the
    session's event loop runs: use it from async tests."""
    from tests.links.local_http import LocalHttpServer

    srv = LocalHttpServer()
    await srv.start()
    yield srv
    await srv.stop()
