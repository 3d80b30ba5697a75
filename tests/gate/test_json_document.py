"""``--format json`` writes the html check's support data once per run, and every file's
report can be put back into the form the API serves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.gate.conftest import Gate

from mailqa.cli.output import json as json_output

VERDICTS = Path(__file__).resolve().parents[1] / "html" / "verdicts"
TEMPLATES = ("clean-hybrid-vml-buttons.html", "flex-product-grid.broken.html")


def served_and_written(
    project: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> tuple[json_output.GateDocument, dict[str, Any], int]:
    """The gate document as built from the reports, the one written, and its size."""
    built: list[json_output.GateDocument] = []
    original = json_output.gate_document

    def keep(run: Any) -> json_output.GateDocument:
        built.append(original(run))
        return built[-1]

    monkeypatch.setattr(json_output, "gate_document", keep)
    for name in TEMPLATES:
        (project / name).write_text((VERDICTS / name).read_text())
    outcome = gate(*TEMPLATES, "--checks", "html", "--format", "json", "-o", "out.json")
    assert outcome.exit_code in (0, 1), outcome.stderr
    text = (project / "out.json").read_text()
    return built[0], json.loads(text), len(text.encode())


def test_each_report_expands_to_the_served_form(
    project: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    served, written, _ = served_and_written(project, gate, monkeypatch)
    assert len(written["files"]) == len(TEMPLATES)
    for file, original in zip(written["files"], served.files, strict=True):
        assert original.report is not None
        expected = original.report.model_dump(mode="json", by_alias=True)
        assert json_output.expand_html(file, written) == expected


def test_support_data_is_written_once_per_run(
    project: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    served, written, size = served_and_written(project, gate, monkeypatch)
    features = written["html_features"]
    htmls = [f["report"]["checks"]["html"] for f in written["files"]]
    rows = [row for html in htmls for row in html["details"]["features"]]
    assert {r["slug"] for r in rows} == set(features)
    assert len(rows) > len(features)  # both files use some features: described once
    lacking = [c for f in features.values() for c in f["clients"].values()]
    assert lacking and all(c["support"] in ("a", "n", "u") for c in lacking)
    for file in written["files"]:
        html = file["report"]["checks"]["html"]
        assert "client_info" not in html["details"]
        for finding in html["findings"]:
            assert "clients" not in finding["data"] and "fix" not in finding["data"]
        for row in html["details"]["features"]:  # only the cells that differ from the data
            data = features[row["slug"]]["clients"]
            for client, cell in row["clients"].items():
                assert cell["reasons"] or cell["support"] != data[client]["support"]
    served_size = len(served.model_dump_json().encode())  # compact too
    assert size < 0.6 * served_size
