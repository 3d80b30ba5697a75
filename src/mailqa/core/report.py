"""The one report model: stored, served by the API, printed by the CLI, aggregated by audits.

Adapters (sandbox contract, Mailtrap shapes, CLI formats) reshape a ``Report``; they never
re-analyse the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from mailqa.core.compliance import Compliance, assess

# 2.0: location columns count from 1 (they counted from 0 in 1.x).
SCHEMA_VERSION = "2.0"


class Status(StrEnum):
    """Outcome of a check (and of the whole report)."""

    PASSED = "passed"
    WARNING = "warning"
    FAILED = "failed"
    ERRORED = "errored"
    SKIPPED = "skipped"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Location(BaseModel):
    """Where a finding occurs. ``part`` names the source: html, text, headers, css, url."""

    model_config = ConfigDict(extra="forbid")

    part: str = "html"
    line: int | None = None
    column: int | None = None
    snippet: str | None = None


class Finding(BaseModel):
    """One thing a check noticed, identified by a stable ``rule`` id."""

    model_config = ConfigDict(extra="forbid")

    rule: str
    title: str
    severity: Severity
    message: str = ""
    category: str | None = None
    url: str | None = Field(default=None, description="Where to read more about the rule.")
    locations: list[Location] = Field(default_factory=list)
    data: dict[str, Any] = Field(
        default_factory=dict, description="Rule-specific details (affected clients, codes...)."
    )


class CheckResult(BaseModel):
    """The outcome of one check.

    ``details`` carries the check's own structured payload (spam rules, DNSBL answers,
    link results...); each check documents and validates its shape.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    status: Status
    summary: str = ""
    score: float | None = Field(default=None, ge=0, le=100, description="0 (worst) to 100.")
    findings: list[Finding] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    retryable: bool = False
    duration_ms: float = 0.0

    @classmethod
    def from_findings(
        cls,
        name: str,
        findings: list[Finding],
        penalties: Mapping[Severity, float],
        *,
        summary: str = "",
        details: dict[str, Any] | None = None,
        retryable: bool = False,
    ) -> CheckResult:
        """Failed with an error finding, warning with a warning, else passed; the score is
        100 less each finding's penalty by severity (``penalties``; absent: none), at least 0."""
        if any(f.severity == Severity.ERROR for f in findings):
            status = Status.FAILED
        elif any(f.severity == Severity.WARNING for f in findings):
            status = Status.WARNING
        else:
            status = Status.PASSED
        penalty = sum(penalties.get(f.severity, 0.0) for f in findings)
        return cls(
            name=name,
            status=status,
            summary=summary,
            score=max(0.0, 100.0 - penalty),
            findings=findings,
            details=details or {},
            retryable=retryable,
        )

    @classmethod
    def skipped(cls, name: str, reason: str) -> CheckResult:
        return cls(name=name, status=Status.SKIPPED, summary=reason)

    @classmethod
    def errored(cls, name: str, error: str, *, retryable: bool = False) -> CheckResult:
        return cls(
            name=name, status=Status.ERRORED, summary=error, error=error, retryable=retryable
        )


class MessageSummary(BaseModel):
    """What the report is about, in a few fields."""

    subject: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: list[str] = Field(default_factory=list)
    date: str | None = None
    message_id: str | None = None
    size: int = 0
    has_html: bool = False
    has_text: bool = False
    attachments: int = 0
    parse_defects: list[str] = Field(default_factory=list)

    model_config = ConfigDict(populate_by_name=True)


_STATUS_RANK = {
    Status.SKIPPED: 0,
    Status.PASSED: 1,
    Status.WARNING: 2,
    Status.ERRORED: 3,
    Status.FAILED: 4,
}


def overall_status(results: list[CheckResult]) -> Status:
    """Failed beats errored beats warning beats passed; all skipped is skipped."""
    if not results:
        return Status.SKIPPED
    worst = max(results, key=lambda r: _STATUS_RANK[r.status]).status
    return worst


def overall_score(results: list[CheckResult]) -> float | None:
    """Mean of the scores of checks that produced one."""
    scores = [r.score for r in results if r.score is not None]
    if not scores:
        return None
    return round(sum(scores) / len(scores), 1)


class Report(BaseModel):
    """The analysis of one message."""

    schema_version: str = SCHEMA_VERSION
    rules_version: str | None = None
    message: MessageSummary
    status: Status
    score: float | None = None
    checks: dict[str, CheckResult] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    duration_ms: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def compliance(self) -> Compliance:
        """The bulk-sender requirements (Gmail, Yahoo, Outlook.com), judged from the checks."""
        return assess(self.checks)

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """A report stored by a 1.x version reads as the current schema."""
        if isinstance(data, Mapping) and str(data.get("schema_version", "")).startswith("1."):
            return _upgraded_from_1(data)
        return data

    @classmethod
    def from_results(
        cls,
        message: MessageSummary,
        results: list[CheckResult],
        *,
        rules_version: str | None = None,
        duration_ms: float = 0.0,
    ) -> Report:
        return cls(
            message=message,
            status=overall_status(results),
            score=overall_score(results),
            checks={r.name: r for r in results},
            rules_version=rules_version,
            duration_ms=duration_ms,
        )

    def merged(self, results: list[CheckResult]) -> Report:
        """A copy with ``results`` replacing the checks of the same name (re-runs, retries)."""
        checks = dict(self.checks)
        for r in results:
            checks[r.name] = r
        values = list(checks.values())
        return self.model_copy(
            update={
                "checks": checks,
                "status": overall_status(values),
                "score": overall_score(values),
            }
        )


def _upgraded_from_1(data: Mapping[str, Any]) -> dict[str, Any]:
    """A 1.x report as 2.0: every column one more (1.x counted them from 0), in findings'
    locations and in the accessibility check's review list."""
    checks = {}
    for name, check in (data.get("checks") or {}).items():
        if isinstance(check, Mapping):
            check = dict(check)
            if isinstance(check.get("findings"), list):
                check["findings"] = [
                    {**f, "locations": _columns_from_1(f.get("locations"))}
                    if isinstance(f, Mapping) and "locations" in f
                    else f
                    for f in check["findings"]
                ]
            details = check.get("details")
            if isinstance(details, Mapping) and "needs_review" in details:
                check["details"] = {
                    **details,
                    "needs_review": _columns_from_1(details["needs_review"]),
                }
        checks[name] = check
    return {**data, "schema_version": SCHEMA_VERSION, "checks": checks}


def _columns_from_1(places: Any) -> Any:
    if not isinstance(places, list):
        return places
    return [
        {**p, "column": p["column"] + 1}
        if isinstance(p, Mapping) and isinstance(p.get("column"), int)
        else p
        for p in places
    ]


def report_json_schema() -> dict[str, Any]:
    return Report.model_json_schema(by_alias=True)
