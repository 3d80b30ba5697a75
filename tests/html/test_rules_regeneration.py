"""The committed rules data is exactly what ``scripts/update_rules.py`` makes from the pinned
npm packages (caniemail, axe-core): nobody edited it by hand, and the pins still resolve."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_rules_regenerate_byte_for_byte(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "update_rules.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    if out.returncode != 0 and "npm" in out.stderr and not os.environ.get("CI"):
        pytest.skip(f"the npm registry is not reachable: {out.stderr.strip()[-200:]}")
    assert out.returncode == 0, out.stderr
    rules = ROOT / "rules"
    for name in ("caniemail.json", "axe.min.js", "axe-core.json"):
        assert (tmp_path / name).read_bytes() == (rules / name).read_bytes(), name
    licenses = filecmp.dircmp(tmp_path / "LICENSES", rules / "LICENSES")
    assert not licenses.left_only and not licenses.diff_files, (
        licenses.left_only,
        licenses.diff_files,
    )
