"""``mailqa.compat.mailtrap_client``: the CA it is given wins, mailqa never needs the SDK."""

from __future__ import annotations

import subprocess
import sys

import certifi
import pytest

from mailqa.compat import mailtrap_client

from .conftest import ADMIN_TOKEN, Stack, sdk


async def test_the_ca_file_wins_over_requests_ca_bundle(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests lets REQUESTS_CA_BUNDLE override a session's CA; the client's CA stays."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # no local CA in there
    projects = await sdk(stack.mailtrap().testing_api.projects.get_list)
    assert isinstance(projects, list)


def test_a_base_url_without_a_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="https://host:port"):
        mailtrap_client("127.0.0.1:8025", ADMIN_TOKEN)


def test_without_the_sdk_the_error_says_how_to_get_it() -> None:
    code = (
        "import sys; sys.modules['mailtrap'] = None\n"
        "import mailqa.compat\n"  # importing mailqa needs no SDK
        "mailqa.compat.mailtrap_client('https://127.0.0.1:1', 'mq_x')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "ImportError" in run.stderr and "pip install mailtrap" in run.stderr
