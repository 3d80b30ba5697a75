"""--online: the spam check through a real (managed) spamd and the spam-score threshold."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.gate.conftest import ROOT, Gate, GateProcess

from mailqa.net.spamd.process import find_spamd

GTUBE = ROOT / "tests" / "spam" / "samples" / "gtube.eml"
SHIPPED = ROOT / "tests" / "spam" / "samples" / "order_shipped.eml"


@pytest.mark.slow
def test_spam_score_threshold_with_a_real_spamd(project: Path, gate_process: GateProcess) -> None:
    if find_spamd() is None:
        pytest.skip("spamd is not installed (apt-get install spamassassin spamd)")
    shutil.copy(GTUBE, project / "gtube.eml")
    shutil.copy(SHIPPED, project / "shipped.eml")
    args = ["gtube.eml", "shipped.eml", "--online", "--checks", "spam", "--fail-on", "never"]
    out = gate_process(*args, "--format", "json", cwd=project)
    assert out.exit_code == 1, out.stderr
    doc = json.loads(out.stdout)
    by_path = {f["path"]: f for f in doc["files"]}
    gtube = by_path["gtube.eml"]
    points = gtube["report"]["checks"]["spam"]["details"]["score"]
    assert points >= 1000
    (threshold,) = [f for f in gtube["findings"] if f["rule"] == "gate.max-spam-score"]
    assert threshold["check"] == "spam" and threshold["blocking"]
    assert by_path["shipped.eml"]["status"] == "passed"
    # A maximum above GTUBE's score lets it through.
    relaxed = gate_process(*args, "--max-spam-score", "5000", cwd=project)
    assert relaxed.exit_code == 0, relaxed.stdout + relaxed.stderr


def test_offline_default_leaves_spam_and_network_checks_out(project: Path, gate: Gate) -> None:
    shutil.copy(GTUBE, project / "gtube.eml")
    out = gate("gtube.eml", "--format", "json")
    checks = set(json.loads(out.stdout)["files"][0]["report"]["checks"])
    assert "spam" not in checks and "auth" not in checks and "blacklist" not in checks
    assert "headers" in checks
