"""HTML client support: every feature the email uses against the caniemail support data.

Findings are per feature (rule = caniemail slug) with every location, the target clients that
lack full support and their notes. Scores: per client, per family, per platform and per
platform category, the % of used features supported (partial counts half, unknown is left
out), and an overall score weighted by market share (``CheckResult.score``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import ClassVar, Literal
from urllib.parse import urljoin

from pydantic import BaseModel, Field

from mailqa.checks.html_detect import UNDETECTABLE, Detection, detect
from mailqa.core.budget import in_thread
from mailqa.core.check import CheckContext
from mailqa.core.html import HtmlDocument
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Finding, Location, Severity, Status
from mailqa.core.rules import CheckRules
from mailqa.net.http.fetcher import LinkFetcher
from mailqa.rules.caniemail import (
    ClientInfo,
    ClientsData,
    Feature,
    RulesData,
    load_clients,
    load_rules,
)
from mailqa.rules.impact import FeatureImpact, Impact, ImpactData, load_impact

POINTS = {"y": 1.0, "a": 0.5, "n": 0.0}
SUPPORT_WORDS = {
    "y": "supported",
    "a": "partial",
    "n": "not supported",
    "u": "unknown",
    "none": "no data",
}
AMP_PART_TYPE = "text/x-amp-html"


class AffectedClient(BaseModel):
    """A target client that does not fully support a feature."""

    client: str
    name: str
    family: str
    platform: str
    category: str
    support: Literal["n", "a", "u"]
    version: str
    notes: list[str] = Field(default_factory=list)


class FamilyScore(BaseModel):
    name: str
    score: float | None
    clients: list[str]


class HtmlScores(BaseModel):
    overall: float = Field(description="Market-share-weighted support over the target clients.")
    by_family: dict[str, FamilyScore] = Field(default_factory=dict)
    by_platform: dict[str, float | None] = Field(default_factory=dict)
    by_category: dict[str, float | None] = Field(
        default_factory=dict, description="desktop / mobile / web"
    )
    by_client: dict[str, float | None] = Field(default_factory=dict)


class FeatureUse(BaseModel):
    slug: str
    title: str
    category: str
    count: int
    worst: Literal["y", "a", "u", "n", "none"] = Field(
        description="Worst support over the target clients ('none': no data for any)."
    )
    no_data: list[str] = Field(
        default_factory=list,
        description="Target client ids the support data has no entry for (neither supported "
        "nor unsupported: left out of the scores). Absent in reports stored before it existed.",
    )
    impact: Impact | None = Field(
        default=None,
        description="What a client lacking the feature does to the message (rules/impact.yaml); "
        "absent in reports stored before it existed.",
    )


class LinkedStylesheet(BaseModel):
    """A ``<link rel=stylesheet>`` the check fetched; its features are reported at the tag."""

    url: str
    final_url: str | None = None
    line: int
    status_code: int | None = None
    chars: int = 0
    truncated: bool = False
    error: str | None = None


class HtmlDetails(BaseModel):
    """The html check's ``details`` payload."""

    rules_version: str
    targets: list[str]
    clients: list[str] = Field(description="Client ids the target globs matched.")
    features_used: int
    features: list[FeatureUse] = Field(default_factory=list)
    scores: HtmlScores
    undetectable: list[str] = Field(
        default_factory=list, description="Features of the data no static check can see."
    )
    css_chars: int = 0
    css_truncated: bool = False
    html_truncated: bool = False
    market_share_source: str = ""
    stylesheets: list[LinkedStylesheet] = Field(
        default_factory=list,
        description="Linked stylesheets fetched and checked (MAILQA_HTML_FETCH_STYLESHEETS).",
    )


class HtmlAnalysis(BaseModel):
    """What analysing one HTML document found (the check's result before wrapping)."""

    findings: list[Finding]
    details: HtmlDetails


class TargetError(ValueError):
    """The target globs match no known client."""


def resolve_targets(globs: Iterable[str], clients: ClientsData | None = None) -> list[ClientInfo]:
    clients = clients or load_clients()
    wanted = [g for g in globs if g.strip()] or ["*"]
    matched = clients.match(wanted)
    if not matched:
        raise TargetError(
            f"target clients {', '.join(wanted)} match no client; known: "
            + ", ".join(sorted(clients.clients))
        )
    return matched


def _pct(points: float, rated: int) -> float | None:
    return round(100.0 * points / rated, 1) if rated else None


def _support(feature: Feature, client: ClientInfo) -> tuple[str, str, list[str]] | None:
    """(value, version, notes) of a feature in a client, or None when the data has none."""
    support = feature.support.get(client.family, {}).get(client.platform)
    if support is None:
        return None
    return support.value, support.version, support.notes


def _scores(features: list[Feature], targets: list[ClientInfo]) -> HtmlScores:
    per_client: dict[str, tuple[float, int]] = {}
    for client in targets:
        points, rated = 0.0, 0
        for feature in features:
            found = _support(feature, client)
            if found is None or found[0] == "u":
                continue
            points += POINTS[found[0]]
            rated += 1
        per_client[client.id] = (points, rated)

    def pooled(ids: list[str]) -> float | None:
        points = sum(per_client[i][0] for i in ids)
        rated = sum(per_client[i][1] for i in ids)
        return _pct(points, rated) if features else 100.0

    by_client = {cid: (_pct(p, r) if features else 100.0) for cid, (p, r) in per_client.items()}
    families: dict[str, list[ClientInfo]] = {}
    platforms: dict[str, list[str]] = {}
    categories: dict[str, list[str]] = {}
    for client in targets:
        families.setdefault(client.family, []).append(client)
        platforms.setdefault(client.platform, []).append(client.id)
        categories.setdefault(client.category, []).append(client.id)
    by_family = {
        family: FamilyScore(
            name=members[0].name.split(" (")[0],
            score=pooled([c.id for c in members]),
            clients=[c.id for c in members],
        )
        for family, members in families.items()
    }
    weighted, weight = 0.0, 0.0
    for client in targets:
        score = by_client[client.id]
        if score is not None and client.market_share > 0:
            weighted += score * client.market_share
            weight += client.market_share
    if weight:
        overall = round(weighted / weight, 1)
    else:  # no shares for these targets: plain mean
        rated_scores = [s for s in by_client.values() if s is not None]
        overall = round(sum(rated_scores) / len(rated_scores), 1) if rated_scores else 100.0
    return HtmlScores(
        overall=overall,
        by_family=by_family,
        by_platform={p: pooled(ids) for p, ids in platforms.items()},
        by_category={c: pooled(ids) for c, ids in categories.items()},
        by_client=by_client,
    )


RULES = CheckRules("html", page="html-check.md#findings")
CANIEMAIL_FEATURE = RULES.open_family(
    "",
    "An HTML or CSS feature that some target email clients do not fully support "
    "(caniemail.com data); the feature's caniemail page has the details and workarounds.",
)


def _finding(
    feature: Feature,
    targets: list[ClientInfo],
    found: Detection,
    doc: HtmlDocument,
    impact: FeatureImpact | None = None,
) -> tuple[Finding | None, str, list[str]]:
    """The feature's finding (None when no target client with data lacks it), its worst
    support and the target clients the data has no entry for."""
    affected: list[AffectedClient] = []
    no_data: list[ClientInfo] = []
    tally = {"y": 0, "a": 0, "n": 0, "u": 0}
    for client in targets:
        support = _support(feature, client)
        if support is None:
            no_data.append(client)
            continue
        value, version, notes = support
        tally[value] += 1
        if value != "y":
            affected.append(
                AffectedClient(
                    client=client.id,
                    name=client.name,
                    family=client.family,
                    platform=client.platform,
                    category=client.category,
                    support=value,
                    version=version,
                    notes=notes,
                )
            )
    worst = next((v for v in ("n", "u", "a", "y") if tally[v]), "none")
    if worst in ("y", "none"):
        return None, worst, [c.id for c in no_data]
    severity = Severity.ERROR if tally["n"] else Severity.WARNING
    locations = []
    for offset in found.offsets.get(feature.slug, []):
        line, column = doc.position(offset)
        locations.append(
            Location(part="html", line=line, column=column, snippet=doc.snippet(line, column))
        )
    parts = []
    for value in ("n", "a", "u", "none"):
        if value == "none":
            names = [c.name for c in no_data]
        else:
            names = [a.name for a in affected if a.support == value]
        if names:
            shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
            parts.append(f"{SUPPORT_WORDS[value]} {'for' if value == 'none' else 'in'} {shown}")
    count = found.counts.get(feature.slug, 0)
    return (
        CANIEMAIL_FEATURE.finding(
            feature.slug,
            title=feature.title,
            severity=severity,
            message=f"Used {count} time(s); " + "; ".join(parts) + ".",
            category=feature.category,
            url=feature.url,
            locations=locations,
            data={
                "clients": [a.model_dump() for a in affected],
                "support_counts": tally,
                "no_data": [c.id for c in no_data],
                "occurrences": count,
                "url": feature.url,
                **_impact_data(impact),
            },
        ),
        worst,
        [c.id for c in no_data],
    )


def _impact_data(impact: FeatureImpact | None) -> dict[str, str]:
    """The finding data fields that carry the feature's impact (none when it has no entry)."""
    if impact is None:
        return {}
    data = {"impact": impact.impact, "impact_reason": impact.reason}
    if impact.narrowing:
        data["impact_narrowing"] = impact.narrowing
    return data


def analyse_document(
    doc: HtmlDocument,
    targets: list[str],
    *,
    extra_features: Iterable[str] = (),
    stylesheets: Sequence[tuple[LinkedStylesheet, str | None, int]] = (),
    rules: RulesData | None = None,
    clients: ClientsData | None = None,
    impacts: ImpactData | None = None,
) -> HtmlAnalysis:
    """Analyse parsed HTML against the support data for the ``targets`` globs.

    ``extra_features`` are slugs found outside the HTML (an AMP MIME part);
    ``stylesheets`` are fetched linked sheets: (what was fetched, its CSS text or None, the
    source offset of its ``<link>``). Raises ``TargetError`` when the globs match no client.
    """
    rules = rules or load_rules()
    clients = clients or load_clients()
    impacts = impacts or load_impact()
    target_clients = resolve_targets(targets, clients)
    found = detect(doc, [(css, offset) for _, css, offset in stylesheets if css])
    for slug in extra_features:
        found.counts[slug] = found.counts.get(slug, 0) + 1
    used = [rules.features[s] for s in found.slugs if s in rules.features]
    findings: list[Finding] = []
    uses: list[FeatureUse] = []
    for feature in used:
        impact = impacts.of(feature.slug)
        finding, worst, no_data = _finding(feature, target_clients, found, doc, impact)
        if finding is not None:
            findings.append(finding)
        uses.append(
            FeatureUse(
                slug=feature.slug,
                title=feature.title,
                category=feature.category,
                count=found.counts[feature.slug],
                worst=worst,
                no_data=no_data,
                impact=impact.impact if impact is not None else None,
            )
        )
    findings.sort(key=lambda f: (f.severity != Severity.ERROR, f.rule))
    details = HtmlDetails(
        rules_version=rules.meta.version,
        targets=list(targets) or ["*"],
        clients=[c.id for c in target_clients],
        features_used=len(used),
        features=uses,
        scores=_scores(used, target_clients),
        undetectable=sorted(UNDETECTABLE),
        css_chars=found.css_chars,
        css_truncated=found.css_truncated,
        html_truncated=found.html_truncated,
        market_share_source=f"{clients.source} ({clients.date})",
        stylesheets=[sheet for sheet, _, _ in stylesheets],
    )
    return HtmlAnalysis(findings=findings, details=details)


def analyse_html(source: str, targets: list[str] | None = None) -> HtmlAnalysis:
    """Check a bare HTML string (a template) without wrapping it in a message."""
    return analyse_document(HtmlDocument(source), targets or ["*"])


def result_from(name: str, analysis: HtmlAnalysis, fail_below: float = 0.0) -> CheckResult:
    """Failed when the weighted support score is under ``fail_below``; a warning when some
    target client lacks (or only partly has) a feature in use; passed otherwise."""
    errors = sum(f.severity == Severity.ERROR for f in analysis.findings)
    warnings = len(analysis.findings) - errors
    details = analysis.details
    if details.scores.overall < fail_below:
        status = Status.FAILED
    else:
        status = Status.WARNING if analysis.findings else Status.PASSED
    summary = (
        f"{details.features_used} feature(s) used: {errors} not supported by some target "
        f"client, {warnings} partial or unknown; weighted support {details.scores.overall:g}%"
    )
    if details.css_truncated or details.html_truncated:
        summary += " (document too large: analysed in part)"
    return CheckResult(
        name=name,
        status=status,
        summary=summary,
        score=details.scores.overall,
        findings=analysis.findings,
        details=details.model_dump(mode="json"),
    )


class HtmlCheck:
    name: ClassVar[str] = "html"
    rules: ClassVar[CheckRules] = RULES
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = True

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        has_amp = any(p.content_type == AMP_PART_TYPE for p in msg.parts)
        if msg.html is None and not has_amp:
            return CheckResult.skipped(self.name, "no HTML part")
        sheets: list[tuple[LinkedStylesheet, str | None, int]] = []
        if ctx.settings.html_fetch_stylesheets and ctx.http is not None and not ctx.offline:
            sheets = await fetch_stylesheets(msg.html_document, ctx.http)
        try:
            # CPU-bound: in a thread, so the event loop (SMTP, API) stays live.
            analysis = await in_thread(
                analyse_document,
                msg.html_document,
                list(ctx.settings.html_targets),
                extra_features=["amp"] if has_amp else [],
                stylesheets=sheets,
            )
        except TargetError as exc:
            return CheckResult.errored(self.name, f"MAILQA_HTML_TARGETS: {exc}")
        return result_from(self.name, analysis, ctx.settings.html_fail_below)


MAX_STYLESHEETS = 10
MAX_STYLESHEET_BYTES = 512 * 1024


async def fetch_stylesheets(
    doc: HtmlDocument, http: LinkFetcher
) -> list[tuple[LinkedStylesheet, str | None, int]]:
    """Fetch the document's http(s) ``<link rel=stylesheet>`` sheets, at most
    ``MAX_STYLESHEETS``, concurrently, through the SSRF-safe fetcher."""
    base: str | None = None
    links: list[tuple[str, int]] = []
    for element in doc.scan.elements:
        if element.name == "base" and base is None:
            base = element.get("href")
        elif element.name == "link" and "stylesheet" in (element.get("rel") or "").lower().split():
            href = (element.get("href") or "").strip()
            url = urljoin(base, href) if base else href
            if url.lower().startswith(("http://", "https://")):
                links.append((url, element.offset))
    links = list(dict.fromkeys(links))[:MAX_STYLESHEETS]
    fetched = await asyncio.gather(
        *(http.fetch_text(url, max_bytes=MAX_STYLESHEET_BYTES) for url, _ in links)
    )
    sheets = []
    for (url, offset), result in zip(links, fetched, strict=True):
        sheet = LinkedStylesheet(
            url=url,
            final_url=result.final_url,
            line=doc.position(offset)[0],
            status_code=result.status_code,
            chars=len(result.text or ""),
            truncated=result.truncated,
            error=result.error,
        )
        sheets.append((sheet, result.text, offset))
    return sheets


def __getattr__(name: str) -> str:
    # Read lazily so importing the module does not load the rules file.
    if name == "RULES_VERSION":
        return load_rules().meta.version
    raise AttributeError(name)
