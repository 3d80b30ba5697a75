"""axe-core's violations in a rendered message, merged with the static findings.

``mailqa.render.axe`` runs axe-core (``AXE_RULES``: the rules that apply to email) in the
message laid out by Chromium and hands back an ``AxeAudit``: each violation's nodes placed at
the line and column of their start tag in the HTML part. ``merge_axe`` folds that into the
accessibility check's result, a pure function of the two:

- a violation node on a line the static check flagged under the same rule (``COVERED``
  maps axe rules to static ones) is the same finding: the static finding gains
  ``data.confirmed_by = "axe-core"`` (and the lines in ``data.confirmed_lines``), no second
  finding is made;
- the others become findings (except for rules about the document as a whole, which the
  source decides: ``DOCUMENT_RULES``) of the static rule (or of a rule only a render can find),
  marked ``data.source = "axe-core (rendered)"``, with the rule's WCAG criterion and a
  severity from axe's impact;
- a contrast axe computed (a violation, or a pass) decides the "needs review" contrast item
  on the same line: the item goes, the violation is a finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from mailqa.checks.accessibility import rules as r
from mailqa.checks.accessibility.analyse import MAX_LOCATIONS, AccessibilityDetails, result_from
from mailqa.core.report import CheckResult, Finding, Location, Severity, Status

SOURCE = "axe-core (rendered)"
CONFIRMED_BY = "axe-core"

COVERED: dict[str, tuple[str, ...]] = {
    "image-alt": ("img-alt-missing",),
    "link-name": ("link-name-missing",),
    "color-contrast": ("color-contrast",),
    "html-has-lang": ("html-lang-missing",),
    "html-lang-valid": ("lang-invalid",),
    "valid-lang": ("lang-invalid",),
    "document-title": ("document-title-missing",),
    "meta-viewport": ("viewport-zoom-disabled",),
    "meta-viewport-large": ("viewport-zoom-disabled",),
    "aria-roles": ("aria-role-invalid",),
    "aria-valid-attr": ("aria-attr-invalid",),
    "aria-hidden-focus": ("aria-hidden-focusable",),
    "duplicate-id": ("duplicate-id",),
    "duplicate-id-aria": ("duplicate-id",),
    "duplicate-id-active": ("duplicate-id",),
    "heading-order": ("heading-order",),
    "page-has-heading-one": ("heading-one-missing",),
    "link-in-text-block": ("link-not-distinguishable",),
    "td-has-header": ("data-table-headers",),
    "th-has-data-cells": ("data-table-headers",),
}
"""axe rule -> the static rules (names without the check prefix) that find the same problem."""
RENDER_ONLY: dict[str, r.A11yRule] = {
    "target-size": r.TARGET_SIZE,
    "scrollable-region-focusable": r.SCROLLABLE_REGION,
    "css-orientation-lock": r.ORIENTATION_LOCK,
}
"""axe rules that need a laid-out page, and the rules their findings are reported under."""
NOT_FOR_EMAIL = frozenset(
    {
        "region",
        "landmark-one-main",
        "landmark-complementary-is-top-level",
        "landmark-no-duplicate-banner",
        "landmark-no-duplicate-contentinfo",
        "landmark-unique",
        "bypass",
        "skip-link",
    }
)
"""Web-page structure a message has no use for: mail clients put it in their own page."""
AXE_RULES: tuple[str, ...] = (*COVERED, *RENDER_ONLY)
"""The axe rules run in a rendered message (those of them the axe version has)."""
DOCUMENT_RULES = frozenset(
    {"html-has-lang", "html-lang-valid", "document-title", "page-has-heading-one"}
)
"""Rules about the document as a whole, which the source decides as well as a render: a
static finding covers every node, and where there is none the static check chose so (no
``<h1>`` asked of a message under 200 characters, ``lang="und"`` as no language)."""


class AxeNode(BaseModel):
    """One element axe-core flagged (or passed), placed in the HTML part."""

    line: int | None = Field(None, description="Of the element's start tag; None: not found.")
    column: int | None = None
    snippet: str | None = Field(None, description="The source there (or axe's markup).")
    target: list[str] = Field(default_factory=list, description="axe's selector.")
    summary: str = Field("", description="axe's failure summary.")
    impact: r.ImpactLevel | None = None
    contrast: float | None = Field(None, description="color-contrast: the computed ratio.")
    expected: float | None = Field(None, description="color-contrast: the ratio needed.")
    foreground: str | None = None
    background: str | None = None


class AxeViolation(BaseModel):
    id: str
    impact: r.ImpactLevel | None = None
    help: str = ""
    help_url: str | None = None
    nodes: list[AxeNode] = Field(default_factory=list)


class AxeAudit(BaseModel):
    """axe-core's answer for one rendered message."""

    version: str
    variant: str = Field(description="The render it ran in (desktop, light, images on).")
    rules: list[str] = Field(default_factory=list, description="The axe rules run.")
    violations: list[AxeViolation] = Field(default_factory=list)
    contrast_passes: list[AxeNode] = Field(
        default_factory=list, description="Text whose computed contrast is enough."
    )
    contrast_incomplete: int = Field(
        0, description="Text whose contrast axe-core could not compute either."
    )
    duration_ms: float = 0.0


class AxeMerge(BaseModel):
    """What merging axe-core's audit did, in the accessibility check's details."""

    source: str
    variant: str
    rules: int = Field(0, description="axe rules run.")
    violations: int = Field(0, description="Violating elements axe-core found.")
    confirmed: int = Field(0, description="Of them, already found by the static check.")
    added: int = Field(0, description="Of them, new findings (marked with their source).")
    reviews_decided: int = Field(0, description="'Needs review' contrast items decided.")
    duration_ms: float = 0.0


def _static_rule(axe_rule: str) -> r.A11yRule | None:
    names = COVERED.get(axe_rule)
    if names:
        return r.BY_ID.get(f"{r.RULES.check}.{names[0]}")
    return RENDER_ONLY.get(axe_rule)


def _lines(findings: Iterable[Finding]) -> set[int]:
    return {loc.line for f in findings for loc in f.locations if loc.line is not None}


def _capped(findings: Iterable[Finding]) -> bool:
    """Some occurrence is not listed: a node on another line may be one of them."""
    return any(int(f.data.get("occurrences", 1)) > len(f.locations) for f in findings)


def _message(violation: AxeViolation, node: AxeNode) -> str:
    if violation.id == "color-contrast" and node.contrast is not None:
        colours = ""
        if node.foreground and node.background:
            colours = f"{node.foreground} on {node.background} is "
        needed = f" (needs {node.expected:g}:1)" if node.expected else ""
        return f"{colours}{node.contrast:g}:1{needed} as rendered."
    return (node.summary.splitlines() or [violation.help])[-1].strip() or violation.help


def merge_axe(result: CheckResult, audit: AxeAudit) -> CheckResult:
    """The static ``result`` with ``audit`` merged in (see the module docstring); unchanged
    when the check did not run, or already holds an axe-core audit."""
    if result.status in (Status.SKIPPED, Status.ERRORED) or result.details.get("rendered"):
        return result
    details = AccessibilityDetails.model_validate(result.details)
    findings = [f.model_copy(deep=True) for f in result.findings]
    summary = AxeMerge(
        source=f"axe-core {audit.version}, rendered",
        variant=audit.variant,
        rules=len(audit.rules),
        duration_ms=audit.duration_ms,
    )
    added: dict[tuple[str, Severity], Finding] = {}
    counts: dict[tuple[str, Severity], int] = {}
    decided: set[int] = {n.line for n in audit.contrast_passes if n.line is not None}
    for violation in audit.violations:
        rule = _static_rule(violation.id)
        if rule is None:
            continue  # not a rule for email
        same = [f for f in findings if f.rule == rule.id]
        if violation.id in DOCUMENT_RULES and not same:
            continue  # the source says all there is: the static check chose not to flag it
        lines, capped = _lines(same), _capped(same)
        for node in violation.nodes:
            summary.violations += 1
            if violation.id == "color-contrast" and node.line is not None:
                decided.add(node.line)
            whole = violation.id in DOCUMENT_RULES or node.line is None
            if same and (whole or node.line in lines or capped):
                summary.confirmed += 1
                hits = [f for f in same if whole or node.line in _lines([f])] or same
                for f in hits:
                    f.data["confirmed_by"] = CONFIRMED_BY
                    f.data.setdefault("axe_rule", violation.id)
                    confirmed = f.data.setdefault("confirmed_lines", [])
                    if node.line is not None and node.line not in confirmed:
                        confirmed.append(node.line)
                continue
            summary.added += 1
            impact = node.impact or violation.impact or rule.impact
            severity = r.SEVERITY_OF_IMPACT[impact]
            key = (rule.id, severity)
            finding = added.get(key)
            if finding is None:
                finding = rule.rule.finding(
                    f"Found by axe-core in the rendered message ({audit.variant}): "
                    f"{violation.help}. Fix: {rule.fix}",
                    severity=severity,
                    data={
                        "wcag": rule.criterion.number or None,
                        "wcag_level": rule.criterion.level,
                        "criterion": rule.criterion.label,
                        "impact": impact,
                        "fix": rule.fix,
                        "source": SOURCE,
                        "axe_rule": violation.id,
                        "help_url": violation.help_url,
                        "elements": [],
                    },
                )
                added[key] = finding
                counts[key] = 0
            counts[key] += 1
            if len(finding.locations) < MAX_LOCATIONS:
                finding.locations.append(
                    Location(part="html", line=node.line, column=node.column, snippet=node.snippet)
                )
                finding.data["elements"].append(_message(violation, node))
    for key, finding in added.items():
        finding.data["occurrences"] = counts[key]
        if counts[key] > len(finding.locations):
            finding.message += f" ({counts[key] - len(finding.locations)} more not listed)"
        findings.append(finding)
    kept = [
        item
        for item in details.needs_review
        if not (item.kind == "contrast" and item.line is not None and item.line in decided)
    ]
    summary.reviews_decided = len(details.needs_review) - len(kept)
    details.needs_review = kept
    details.needs_review_total -= summary.reviews_decided
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    findings.sort(key=lambda f: (order[f.severity], f.rule))
    details.wcag = {f.rule: str(f.data.get("criterion", "")) for f in findings}
    merged = result_from(result.name, findings, details)
    out: dict[str, Any] = merged.details
    out["rendered"] = summary.model_dump(mode="json")
    return merged.model_copy(update={"duration_ms": result.duration_ms, "details": out})
