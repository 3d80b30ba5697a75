"""Fixtures for the hygiene tests."""

from __future__ import annotations

import pytest

from mailqa.core.check import CheckContext
from mailqa.resources import check_context
from mailqa.settings import Settings


@pytest.fixture(scope="session")
def ctx() -> CheckContext:
    return check_context(Settings(), offline=True)
