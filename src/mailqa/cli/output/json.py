"""``--format json``: one document for the run, each file's full report inside.

The document is the gate's wrapper (``mailqa schema --gate``): the verdict, the counts, and
per file the gate's view of each finding (state, blocking, position in the file) next to the
unmodified ``Report`` (``files[].report``), so consumers can rely on the report schema
(``mailqa schema``) for what the checks found.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from mailqa import __version__
from mailqa.cli.gate import FileResult, FindingState, GateRun, sorted_findings
from mailqa.core.report import SCHEMA_VERSION, Report, Severity


class GateFindingOut(BaseModel):
    check: str
    rule: str
    severity: Severity
    title: str
    message: str = ""
    url: str | None = None
    line: int | None = Field(None, description="Line in the checked file.")
    column: int | None = None
    state: FindingState
    blocking: bool = Field(description="Whether this finding fails the gate.")
    fingerprint: str


class GateFileOut(BaseModel):
    path: str
    template: bool
    status: Literal["passed", "failed"]
    error: str | None = None
    findings: list[GateFindingOut]
    report: Report | None = None


class GateSummaryOut(BaseModel):
    files: int
    passed: int
    failed: int
    errors: int
    warnings: int
    notes: int
    baselined: int
    ignored: int


class GateDocument(BaseModel):
    tool: dict[str, str] = Field(default_factory=lambda: {"name": "mailqa", "version": __version__})
    schema_version: str = SCHEMA_VERSION
    passed: bool
    fail_on: str
    config: str
    baseline: str | None = None
    duration_s: float
    summary: GateSummaryOut
    files: list[GateFileOut]


def _file(file: FileResult) -> GateFileOut:
    return GateFileOut(
        path=file.path,
        template=file.is_template,
        status="failed" if file.failed else "passed",
        error=file.error,
        findings=[
            GateFindingOut(
                check=f.check,
                rule=f.rule,
                severity=f.severity,
                title=f.finding.title,
                message=f.finding.message,
                url=f.finding.url,
                line=f.line,
                column=f.column,
                state=f.state,
                blocking=f.blocking,
                fingerprint=f.fingerprint,
            )
            for f in sorted_findings(file.findings)
        ],
        report=file.report,
    )


def gate_document(run: GateRun) -> GateDocument:
    failed = sum(1 for f in run.files if f.failed)
    return GateDocument(
        passed=not run.failed,
        fail_on=run.fail_on,
        config=run.config_source,
        baseline=run.baseline,
        duration_s=round(run.duration_s, 3),
        summary=GateSummaryOut(
            files=len(run.files),
            passed=len(run.files) - failed,
            failed=failed,
            errors=run.severity_total(Severity.ERROR),
            warnings=run.severity_total(Severity.WARNING),
            notes=run.severity_total(Severity.INFO),
            baselined=run.total(FindingState.BASELINED),
            ignored=run.total(FindingState.IGNORED),
        ),
        files=[_file(f) for f in run.files],
    )


def gate_json_schema() -> dict[str, Any]:
    """JSON Schema of the document ``render_json`` writes."""
    schema = GateDocument.model_json_schema(by_alias=True, mode="serialization")
    schema["title"] = "mailqa check --format json"
    schema["description"] = (
        "The gate's verdict and counts; per file the gate's view of each finding and the "
        "file's full report (the schema of 'mailqa schema')."
    )
    return schema


def render_json(run: GateRun) -> str:
    doc: dict[str, Any] = gate_document(run).model_dump(mode="json", by_alias=True)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
