"""Fixtures for the hygiene tests."""

from __future__ import annotations

import pytest

from mailqa.core.check import CheckContext
from mailqa.settings import Settings


@pytest.fixture(scope="session")
def ctx() -> CheckContext:
    return CheckContext(Settings(), offline=True)
