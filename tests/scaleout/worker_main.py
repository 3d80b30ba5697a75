"""Entry point of the worker subprocess: the real `mailqa` CLI plus the test checks."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.scaleout.probe_checks import install

install()

from mailqa.cli.main import app  # noqa: E402

app()
