"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py.

The servers several areas use are started once per session here: NSD with the test zones
(``dns_lab``), a managed spamd (``spamd``) and a loopback HTTP server (``server``); the
session's Redis is ``redis_url``. Their helpers stay in their areas (tests/dnscheck,
tests/spam, tests/links).
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
# Render previews start Chromium for every captured message: only the tests of previews
# turn them on (``Settings(render=True)``).
os.environ.setdefault("MAILQA_RENDER", "false")
REDIS_URL = os.environ.get("MAILQA_TEST_REDIS", "redis://127.0.0.1:6379/0")


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


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis the tests use (``MAILQA_TEST_REDIS``): skipped when absent, except in CI."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        if os.environ.get("CI"):
            raise RuntimeError(f"Redis at {REDIS_URL} is required in CI: {exc}") from exc
        pytest.skip(f"Redis at {REDIS_URL} not reachable here ({exc}): its tests skipped")
    return REDIS_URL
