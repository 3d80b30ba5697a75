"""``--format json``: one document for the run, each file's report inside.

The document is the gate's wrapper (``mailqa schema --gate``): the verdict, the counts, and
per file the gate's view of each finding (state, blocking, position in the file) next to the
file's ``Report`` (``files[].report``, the report schema of ``mailqa schema``).

What the html check's support data says of a feature (its title, impact, fix, and per client
the data's support, version and notes) is the same for every file of a run: it is written
once, in ``html_features`` and ``html_clients``, and each file's html result keeps only what
is its own (counts, locations, the clients whose readers get something else than the data
says, and why). ``expand_html`` puts a file's report back into the form the API serves.
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


class HtmlClientSupport(BaseModel):
    support: Literal["a", "u", "n"] = Field(description="The support data's value.")
    version: str | None = None
    notes: list[str] = Field(default_factory=list)


class HtmlFeatureOut(BaseModel):
    """One feature as the support data describes it, once per run."""

    title: str
    category: str
    url: str | None = None
    impact: str | None = None
    impact_reason: str | None = None
    impact_narrowing: str | None = None
    fix: str | None = None
    clients: dict[str, HtmlClientSupport] = Field(
        default_factory=dict,
        description="Target clients the data says lack full support (any other target "
        "client supports it, or is in the file's ``no_data``).",
    )


class GateDocument(BaseModel):
    tool: dict[str, str] = Field(default_factory=lambda: {"name": "mailqa", "version": __version__})
    schema_version: str = SCHEMA_VERSION
    passed: bool
    fail_on: str
    config: str
    baseline: str | None = None
    duration_s: float
    summary: GateSummaryOut
    html_features: dict[str, HtmlFeatureOut] = Field(
        default_factory=dict,
        description="The html check's support data for every feature a file used, once per "
        "run. In each file's html result, a row of ``details.features`` keeps in ``clients`` "
        "only the clients whose readers get something else than this data says (with the "
        "reasons); a finding keeps its message, locations and counts, and its affected and "
        "covered clients are the row's. ``expand_html`` rebuilds the served form.",
    )
    html_clients: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="The html check's target clients: name, family, platform, category and "
        "share of opens.",
    )
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


_FEATURE_DATA = ("url", "impact_reason", "impact_narrowing", "fix")


def _hoist_html(
    file: dict[str, Any], features: dict[str, dict[str, Any]], clients: dict[str, Any]
) -> None:
    """Move what the support data says out of one file's html result into the run's tables,
    and drop from its findings what the file's gate view of them says already."""
    report = file["report"]
    html = report.get("checks", {}).get("html")
    details = html.get("details") if isinstance(html, dict) else None
    if not isinstance(details, dict) or not isinstance(details.get("features"), list):
        return
    clients.update(details.pop("client_info", None) or {})
    titles = {f["rule"]: f for f in html.get("findings", []) if isinstance(f, dict)}
    said = {f["rule"]: f["message"] for f in file["findings"] if f["check"] == "html"}
    for row in details["features"]:
        slug = row["slug"]
        entry = features.setdefault(
            slug, {"title": row["title"], "category": row["category"], "clients": {}}
        )
        own = {}
        for cid, cell in (row.get("clients") or {}).items():
            support = {"support": cell["data"]}
            for key in ("version", "notes"):
                if cell.get(key):
                    support[key] = cell[key]
            entry["clients"].setdefault(cid, support)
            if cell["support"] != cell["data"] or cell.get("reasons"):
                own[cid] = {"support": cell["support"], "reasons": cell.get("reasons") or []}
        row["clients"] = own
        del row["title"], row["category"]
        finding = titles.get(slug)
        if finding is None:
            continue
        for key in ("title", "category", "url"):
            finding.pop(key, None)
        if finding.get("message") == said.get(slug):
            del finding["message"]
        for location in finding.get("locations", []):
            if location.get("part") == "html":
                del location["part"]
        data = finding.get("data") or {}
        entry.setdefault("impact", data.get("impact"))
        for key in _FEATURE_DATA:
            if key in data:
                entry[key] = data.pop(key)
        data.pop("clients", None)
        data.pop("covered", None)


def expand_html(file: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """One file's report from a ``--format json`` document (``file``: one of its ``files``)
    back in the form the API serves: the html result's rows and findings with their client
    entries, feature data and messages."""
    report: dict[str, Any] = file["report"]
    html = report.get("checks", {}).get("html")
    details = html.get("details") if isinstance(html, dict) else None
    if not isinstance(details, dict) or "client_info" in details:
        return report
    features, infos = document.get("html_features", {}), document.get("html_clients", {})
    targets = details.get("clients") or []
    details["client_info"] = {c: infos[c] for c in targets if c in infos}
    rows = {}
    for row in details.get("features", []):
        entry = features.get(row["slug"], {})
        row["title"], row["category"] = entry.get("title", row["slug"]), entry.get("category", "")
        own = row.get("clients") or {}
        cells = {}
        for cid, support in entry.get("clients", {}).items():
            if cid not in targets:
                continue
            cell = own.get(cid) or {"support": support["support"], "reasons": []}
            cells[cid] = {"data": support["support"], **cell}
            for key in ("version", "notes"):
                if support.get(key):
                    cells[cid][key] = support[key]
        row["clients"] = cells
        rows[row["slug"]] = row
    said = {f["rule"]: f["message"] for f in file.get("findings", []) if f["check"] == "html"}
    for finding in html.get("findings", []):
        row = rows.get(finding.get("rule"))
        if row is None:
            continue
        entry = features.get(row["slug"], {})
        finding["title"] = entry.get("title", row["slug"])
        finding["category"] = entry.get("category", "")
        finding["url"] = entry.get("url")
        finding.setdefault("message", said.get(row["slug"], ""))
        for location in finding.get("locations", []):
            location.setdefault("part", "html")
        data = finding.setdefault("data", {})
        data.update({key: entry[key] for key in _FEATURE_DATA if entry.get(key)})
        data["clients"] = [
            {
                "client": cid,
                "name": infos.get(cid, {}).get("name", cid),
                "support": cell["support"],
                "data_support": cell["data"],
                "fallbacks": cell["reasons"],
            }
            for cid, cell in row["clients"].items()
            if cell["support"] != "y"
        ]
        data["covered"] = [
            {
                "client": cid,
                "name": infos.get(cid, {}).get("name", cid),
                "reason": "; ".join(cell["reasons"]),
            }
            for cid, cell in row["clients"].items()
            if cell["support"] == "y"
        ]
    return report


def render_json(run: GateRun) -> str:
    """The document on one line (a run over hundreds of files stays small; ``jq .`` shows it
    indented), with the html support data once per run."""
    doc: dict[str, Any] = gate_document(run).model_dump(mode="json", by_alias=True)
    features: dict[str, dict[str, Any]] = {}
    clients: dict[str, Any] = {}
    for file in doc["files"]:
        if file.get("report"):
            _hoist_html(file, features, clients)
    doc["html_features"], doc["html_clients"] = features, clients
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n"
