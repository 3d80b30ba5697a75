"""Attacks on a running mailqa: the foundation stack (SMTP + HTTP on loopback) is shared."""

from __future__ import annotations

from tests.foundation.conftest import (  # noqa: F401 (fixtures)
    any_db,
    pg_url,
    running,
    running_pg,
    sample,
)
