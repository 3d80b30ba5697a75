"""The gate's verdict on each file: which findings count, which are ignored or baselined,
which thresholds are broken, and whether the run passes.

The checks' own statuses are not the verdict: a project's ``ignore`` list, its baseline, its
``fail-on`` severity and its thresholds decide. Every output format renders ``GateRun``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase

from mailqa.cli.config import FailOn, GateConfig
from mailqa.cli.paths import path_matches
from mailqa.core.message import ParsedMessage
from mailqa.core.report import Finding, Report, Severity, Status
from mailqa.core.rules import DEFAULT_DOCS_URL, CheckRules, RuleCatalog

SEVERITY_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.ERROR: 3}
FAIL_ON_RANK = {"info": 1, "warning": 2, "error": 3, "never": 99}
GATE_RULES = CheckRules("gate", page="ci-gate.md#thresholds", category="gate")
MIN_HTML_SCORE = GATE_RULES.rule(
    "min-html-score",
    "HTML support score below min-html-score",
    Severity.ERROR,
    "The html check's support score is lower than the configured minimum; raise client "
    "support (see the html findings) or lower min-html-score.",
)
MAX_SPAM_SCORE = GATE_RULES.rule(
    "max-spam-score",
    "Spam score above the maximum",
    Severity.ERROR,
    "SpamAssassin's score is above max-spam-score (default: spamd's own threshold); see "
    "the spam findings for the rules that added points.",
)
REQUIREMENTS = GATE_RULES.rule(
    "requirements",
    "A required bulk-sender profile is not met",
    Severity.ERROR,
    "The message does not meet a mailbox provider's bulk-sender requirements asked for with "
    "require (gmail-bulk, yahoo-bulk, outlook-high-volume); the report's compliance section "
    "says which items fail or could not be judged (those need the online checks).",
)
_SPACES = re.compile(r"\s+")
# How much of the source at a finding identifies it: a tag, a declaration or a URL with
# some of what follows it.
ANCHOR_CHARS = 60


class FindingState(StrEnum):
    NEW = "new"
    BASELINED = "baselined"
    IGNORED = "ignored"


@dataclass
class GateFinding:
    """One finding as the gate sees it. ``line``/``column`` are positions in the checked
    file (None when the finding has no place in it)."""

    check: str
    finding: Finding
    fingerprint: str
    state: FindingState = FindingState.NEW
    blocking: bool = False
    line: int | None = None
    column: int | None = None

    @property
    def rule(self) -> str:
        return self.finding.rule

    @property
    def severity(self) -> Severity:
        return self.finding.severity


@dataclass
class CheckOutcome:
    """A check's result for a file, reduced to what the outputs show per check."""

    name: str
    status: Status
    summary: str
    score: float | None
    error: str | None = None
    duration_ms: float = 0.0


@dataclass
class FileResult:
    """Everything the outputs need about one checked file."""

    path: str
    is_template: bool
    report: Report | None = None
    error: str | None = None
    findings: list[GateFinding] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)

    @property
    def errored_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if c.status == Status.ERRORED]

    @property
    def failed(self) -> bool:
        return (
            self.error is not None
            or bool(self.errored_checks)
            or any(f.blocking for f in self.findings)
        )

    def counted(self, state: FindingState = FindingState.NEW) -> list[GateFinding]:
        return [f for f in self.findings if f.state == state]

    def severity_count(self, severity: Severity) -> int:
        return sum(1 for f in self.counted() if f.severity == severity)


@dataclass
class GateRun:
    """The whole run: files in input order, plus run-level facts for the outputs."""

    files: list[FileResult]
    fail_on: FailOn = "error"
    duration_s: float = 0.0
    config_source: str = "defaults"
    baseline: str | None = None
    docs_url: str = DEFAULT_DOCS_URL
    """Where help URIs point (``MAILQA_DOCS_URL``)."""

    @property
    def failed(self) -> bool:
        return any(f.failed for f in self.files)

    def total(self, state: FindingState) -> int:
        return sum(len(f.counted(state)) for f in self.files)

    def severity_total(self, severity: Severity) -> int:
        return sum(f.severity_count(severity) for f in self.files)


def rule_catalog(check: str | None = None) -> RuleCatalog:
    """The rules of the registered checks and the gate's own; with ``check``, those of that
    check and the gate's only: all that its findings can name (without importing the other
    checks)."""
    from mailqa.checks import rule_catalog as checks_catalog

    return checks_catalog([GATE_RULES], checks=None if check is None else [check])


def fingerprint(
    check: str, finding: Finding, rule_id: str | None = None, *, text_at: str | None = None
) -> str:
    """What a finding is, not where it is: its check, rule and part, and ``text_at``, the
    source text from the finding's position on (``FilePositions.text_at``; its first
    ``ANCHOR_CHARS``), else its snippet, else its message. Whitespace is collapsed: moving,
    inserting or re-indenting other lines keeps it. ``rule_id`` stands in for the finding's
    rule (a former id of it, for old baselines). Without ``text_at`` it is the fingerprint
    of baseline version 1, whose snippet window began before the finding (and so moved with
    the indentation)."""
    loc = finding.locations[0] if finding.locations else None
    at = _SPACES.sub(" ", text_at).strip()[:ANCHOR_CHARS] if text_at else ""
    anchor = at or (loc.snippet if loc and loc.snippet else finding.message or finding.title)
    rule = finding.rule if rule_id is None else rule_id
    text = "\0".join((check, rule, loc.part if loc else "", _SPACES.sub(" ", anchor)))
    return hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()[:20]


def rule_matches(pattern: str, check: str, rule: str) -> bool:
    """``pattern`` is a rule id glob (``links.*``) or ``check:rule-glob`` (``html:*``).
    A renamed rule also matches patterns written for its former ids (``auth.spf_fail``)."""
    pattern = pattern.strip()
    ids = (rule, *rule_catalog(check).former_ids(rule))
    if ":" in pattern:
        check_pattern, rule_pattern = pattern.split(":", 1)
        return fnmatchcase(check, check_pattern) and any(
            fnmatchcase(i, rule_pattern or "*") for i in ids
        )
    return any(fnmatchcase(i, pattern) for i in ids)


def ignore_patterns_for(config: GateConfig, relative_path: str) -> list[str]:
    patterns = list(config.ignore)
    for glob, rules in config.per_path_ignores.items():
        if path_matches(relative_path, glob):
            patterns.extend(rules)
    return patterns


def threshold_findings(report: Report, config: GateConfig) -> list[tuple[str, Finding]]:
    """Findings for broken thresholds, attributed to the check they measure."""
    out: list[tuple[str, Finding]] = []
    html = report.checks.get("html")
    if (
        config.min_html_score is not None
        and html is not None
        and html.score is not None
        and html.score < config.min_html_score
    ):
        out.append(
            (
                "html",
                MIN_HTML_SCORE.finding(
                    "Raise client support (see the html findings) or lower min-html-score.",
                    title=f"HTML support score {html.score:g} is below the minimum "
                    f"{config.min_html_score:g}",
                    data={"score": html.score, "minimum": config.min_html_score},
                ),
            )
        )
    for profile_id in config.require:
        profile = report.compliance.profile(profile_id)
        if profile.status == "pass":
            continue
        items = {i.id: i for i in report.compliance.items}
        lacking = [f"{i}: {items[i].reason}" for i in profile.failing]
        if profile.unknown:
            reasons = sorted({items[i].reason for i in profile.unknown})
            lacking.append(f"not judged: {', '.join(profile.unknown)} ({'; '.join(reasons)})")
        out.append(
            (
                "headers",
                REQUIREMENTS.finding(
                    "; ".join(lacking),
                    title=f"{profile.name}: {profile.passed}/{profile.total} requirements met"
                    + (" (some need --online)" if profile.unknown else ""),
                    data={
                        "profile": profile_id,
                        "failing": profile.failing,
                        "unknown": profile.unknown,
                    },
                ),
            )
        )
    spam = report.checks.get("spam")
    points = spam.details.get("score") if spam is not None else None
    if isinstance(points, int | float):
        limit: float | None
        if config.max_spam_score is not None:
            limit = config.max_spam_score
            broken = points > limit
        else:  # spamd's own threshold: spam at or above it
            threshold = spam.details.get("threshold") if spam is not None else None
            limit = float(threshold) if isinstance(threshold, int | float) else None
            broken = limit is not None and points >= limit
        if broken and limit is not None:
            out.append(
                (
                    "spam",
                    MAX_SPAM_SCORE.finding(
                        "See the spam findings for the rules that added points.",
                        title=f"Spam score {points:g} is above the maximum {limit:g}",
                        data={"score": points, "maximum": limit},
                    ),
                )
            )
    return out


def evaluate(
    path: str,
    relative_path: str,
    report: Report,
    config: GateConfig,
    *,
    is_template: bool,
    baseline_counts: dict[str, int] | None = None,
    message: ParsedMessage | None = None,
) -> FileResult:
    """Judge one report. ``baseline_counts`` (fingerprint -> count) is consumed per finding."""
    from mailqa.cli.positions import FilePositions

    fail_rank = FAIL_ON_RANK[config.fail_on]
    patterns = ignore_patterns_for(config, relative_path)
    remaining = dict(baseline_counts or {})
    positions = FilePositions(message, is_template=is_template)
    result = FileResult(path=path, is_template=is_template, report=report)
    pairs: list[tuple[str, Finding]] = [
        (name, f) for name, check in report.checks.items() for f in check.findings
    ]
    pairs += threshold_findings(report, config)
    for name, check in report.checks.items():
        result.checks.append(
            CheckOutcome(
                name=name,
                status=check.status,
                summary=check.summary,
                score=check.score,
                error=check.error,
                duration_ms=check.duration_ms,
            )
        )
    for check_name, finding in pairs:
        if is_template:
            finding = in_template(finding, check_name)
        text_at = positions.text_at(finding)
        gf = GateFinding(
            check=check_name,
            finding=finding,
            fingerprint=fingerprint(check_name, finding, text_at=text_at),
        )
        gf.line, gf.column = positions.locate(finding)
        if any(rule_matches(p, check_name, finding.rule) for p in patterns):
            gf.state = FindingState.IGNORED
        elif (recorded := _baselined(gf, remaining, text_at)) is not None:
            remaining[recorded] -= 1
            gf.state = FindingState.BASELINED
        else:
            gf.blocking = SEVERITY_RANK[finding.severity] >= fail_rank or finding.category == "gate"
        result.findings.append(gf)
    return result


def in_template(finding: Finding, check: str | None = None) -> Finding:
    """The finding as a template file has it: a rule whose severity differs there (a merge
    tag, sample content) says so in its ``in_template``. ``check``: the check that reported
    it (its rules are looked up alone)."""
    rule = rule_catalog(check).get(finding.rule)
    if rule is None or rule.in_template is None or finding.severity != rule.severity:
        return finding
    return finding.model_copy(
        update={
            "severity": rule.in_template,
            "message": f"{finding.message} In a template this is expected until it is sent "
            f"({rule.in_template} here, {rule.severity} in a message).",
        }
    )


def _baselined(gf: GateFinding, remaining: dict[str, int], text_at: str | None) -> str | None:
    """The baseline fingerprint that still covers ``gf``: its own, one recorded under a
    former id of its rule (a baseline written before the rule was renamed), or one of
    baseline version 1 (made from the snippet, see ``fingerprint``)."""
    rules = [gf.rule, *rule_catalog(gf.check).former_ids(gf.rule)]
    candidates = [gf.fingerprint]
    candidates += [
        fingerprint(_check_of(r, gf.check), gf.finding, r, text_at=text_at) for r in rules[1:]
    ]
    if text_at:
        candidates += [fingerprint(_check_of(r, gf.check), gf.finding, r) for r in rules]
    return next((c for c in candidates if remaining.get(c, 0) > 0), None)


def _check_of(rule_id: str, check: str) -> str:
    """The check that reported ``rule_id``: a former id may be another check's
    (``hygiene.missing-lang``, now the accessibility check's)."""
    prefix, dot, _ = rule_id.partition(".")
    return prefix if dot else check


def sorted_findings(findings: Sequence[GateFinding]) -> list[GateFinding]:
    """Position order, then severity (errors first)."""
    return sorted(
        findings,
        key=lambda f: (
            f.line is None,
            f.line or 0,
            f.column or 0,
            -SEVERITY_RANK[f.severity],
            f.rule,
        ),
    )
