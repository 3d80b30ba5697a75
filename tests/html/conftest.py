"""Fixtures for the HTML client-support tests."""

from __future__ import annotations

import pytest

from mailqa.rules.caniemail import ClientsData, RulesData, load_clients, load_rules


@pytest.fixture(scope="session")
def rules() -> RulesData:
    return load_rules()


@pytest.fixture(scope="session")
def clients() -> ClientsData:
    return load_clients()
