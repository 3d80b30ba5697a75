"""HTML client support: every feature the email uses against the caniemail support data.

Findings are per feature (rule = caniemail slug) with every location, the target clients that
lack full support and their notes. Scores: per client, per family, per platform and per
platform category, the % of used features supported (partial counts half, unknown is left
out), and an overall score weighted by market share (``CheckResult.score``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar, Literal, NotRequired, cast
from urllib.parse import urljoin

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from mailqa.checks.html_detect import UNDETECTABLE, Detection, detect
from mailqa.checks.html_detect.caveats import UseContext, caveat
from mailqa.checks.html_detect.conditional import OUTLOOK_CLIENTS, Conditionals, Scope, conditionals
from mailqa.checks.html_detect.engine import MOBILE_ONLY, Gates
from mailqa.checks.html_detect.fallbacks import Cover, Fallbacks, declarations
from mailqa.core.budget import in_thread
from mailqa.core.check import CheckContext
from mailqa.core.clients import Fetcher
from mailqa.core.html import HtmlDocument
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Finding, Location, Severity, Status
from mailqa.core.rules import CheckRules
from mailqa.rules.caniemail import (
    ClientInfo,
    ClientsData,
    Feature,
    RulesData,
    load_clients,
    load_rules,
)
from mailqa.rules.impact import IMPACTS, FeatureImpact, Impact, ImpactData, load_impact

if TYPE_CHECKING:  # the fetcher (httpx) is imported by whoever opens one
    pass

POINTS = {"y": 1.0, "a": 0.5, "n": 0.0}
SUPPORT_WORDS = {
    "y": "supported",
    "a": "partial",
    "n": "not supported",
    "u": "unknown",
    "none": "no data",
}
AMP_PART_TYPE = "text/x-amp-html"
# Locations a finding lists (the first in source order); ``occurrences`` counts them all.
REPORTED_LOCATIONS = 20


class AffectedClient(BaseModel):
    """A target client that does not fully support a feature. Its family, platform, category
    and share are in the check's ``details.client_info``; the data's version and notes in the
    feature's row of ``details.features``: one table per feature, not one per finding."""

    client: str
    name: str
    support: Literal["n", "a", "u"] = Field(
        description="What the recipient gets once conditional comments, gates and fallbacks "
        "apply (the data's support when the check is strict)."
    )
    data_support: Literal["n", "a", "u"] | None = Field(
        default=None, description="The support data's value; absent in older reports."
    )
    fallbacks: list[str] = Field(
        default_factory=list, description="Fallbacks that make it partial instead of missing."
    )
    market_share: float = Field(default=0.0, exclude=True)


@dataclass(frozen=True)
class Use:
    """The uses of a feature that are judged alike: who sees them, what rule they depend on,
    their fallbacks, and where they are."""

    scope: Scope
    gates: Gates
    covers: tuple[Cover, ...]
    offsets: tuple[int, ...] = ()
    """Every use of this kind (in the Outlook-only content's own offsets for ``outlook``)."""


class FamilyScore(BaseModel):
    name: str
    score: float | None
    clients: list[str]


class HtmlScores(BaseModel):
    verdict: float | None = Field(
        default=None,
        description="The HTML score (0-100, the check's score): per client, what its readers "
        "get (a lost layout, content or interactive feature costs most, enhancements little, "
        "harmless features and covered uses nothing), weighted by share of opens; at most 60 "
        "with an error finding. Absent in older reports.",
    )
    verdict_by_client: dict[str, float] = Field(default_factory=dict)
    overall: float = Field(description="Market-share-weighted support over the target clients.")
    by_family: dict[str, FamilyScore] = Field(default_factory=dict)
    by_platform: dict[str, float | None] = Field(default_factory=dict)
    by_category: dict[str, float | None] = Field(
        default_factory=dict, description="desktop / mobile / web"
    )
    by_client: dict[str, float | None] = Field(default_factory=dict)


class ClientVerdict(TypedDict):
    """How one target client fares with one feature as this message uses it: the data's
    support (``data``), what the recipient gets once conditional comments, gates and
    fallbacks apply (``support``) and why it is better (``reasons``). A plain dict: a message
    has one per feature and lacking client, hundreds."""

    data: Literal["a", "u", "n"]
    support: Literal["y", "a", "u", "n"]
    reasons: list[str]
    version: NotRequired[str]
    notes: NotRequired[list[str]]


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
    severity: Severity | None = Field(
        default=None, description="The severity of its finding; none: nothing is lost."
    )
    clients: dict[str, ClientVerdict] = Field(
        default_factory=dict,
        description="Each target client the support data says lacks full support: what its "
        "readers get here (``support``), why it is better (``reasons``), and the data's "
        "``version`` and ``notes``. Every other target client supports it or has no data "
        "(``no_data``).",
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


class ClientSummary(BaseModel):
    """A target client as a report names it."""

    name: str
    family: str
    platform: str
    category: str
    market_share: float


class HtmlDetails(BaseModel):
    """The html check's ``details`` payload."""

    rules_version: str
    targets: list[str]
    clients: list[str] = Field(description="Client ids the target globs matched.")
    client_info: dict[str, ClientSummary] = Field(
        default_factory=dict,
        description="Per target client: its name, family, platform, category and share of "
        "opens. Absent in older reports.",
    )
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
    strict: bool = Field(default=False, description="Severities from support alone.")
    min_share: float | None = Field(
        default=None, description="Share of opens (%) from which a lost feature is an error."
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
    "(caniemail.com data), judged by what the recipient sees and the fallbacks present; the "
    "feature's caniemail page has the details and workarounds.",
)

BLOCKING_IMPACTS: frozenset[str] = frozenset({"layout", "content", "interactive"})
"""Classes whose loss the recipient sees as broken: only these can be an ``error``."""
_RANK = {"y": 0, "a": 1, "u": 2, "n": 3}
_UNLOCATED = Use(scope="all", gates=(), covers=())


class VerdictPolicy(BaseModel):
    """How findings get their severity (``MAILQA_HTML_*``)."""

    model_config = ConfigDict(frozen=True)

    strict: bool = Field(
        False,
        description="Severity from support alone: error when a target client lacks the "
        "feature, warning when support is partial, whatever the impact or fallbacks.",
    )
    min_share: float = Field(
        1.0,
        ge=0,
        description="Share of opens (%) from which a client that lacks a layout, content or "
        "interactive feature makes it an error; smaller clients make it a warning.",
    )
    impacts: dict[str, Impact] = Field(
        default_factory=dict, description="Impact class per caniemail slug, over the data's."
    )


def _support_value(feature: Feature | None, client: ClientInfo) -> str | None:
    if feature is None:
        return None
    found = _support(feature, client)
    return found[0] if found is not None else None


class Judge:
    """What one analysis needs to judge uses, computed once: each feature's uses with their
    fallbacks (only for features some target client lacks), which target clients support a
    feature, and which clients a rule's gates shut out."""

    def __init__(
        self,
        doc: HtmlDocument,
        conds: Conditionals,
        found: Detection,
        outlook_found: Detection | None,
        rules: RulesData,
        targets: list[ClientInfo],
    ) -> None:
        self.rules = rules
        self.targets = targets
        self.conds = conds
        self.found = found
        self.outlook_found = outlook_found
        ids = frozenset(c.id for c in targets)
        self.fallbacks = Fallbacks(doc, conds, self.supported, ids)
        self.outlook_fallbacks = (
            Fallbacks(conds.outlook.document, Conditionals(), self.supported, ids)
            if conds.outlook is not None
            else None
        )
        self._supported: dict[str, frozenset[str]] = {}
        self._gated: dict[Gates, dict[str, str]] = {}
        self._contexts: dict[Use, frozenset[UseContext]] = {}

    def supported(self, slug: str) -> frozenset[str]:
        """The target clients that support ``slug``, at least in part."""
        found = self._supported.get(slug)
        if found is None:
            feature = self.rules.features.get(slug)
            found = frozenset(
                c.id for c in self.targets if _support_value(feature, c) in ("y", "a")
            )
            self._supported[slug] = found
        return found

    def gated(self, gates: Gates) -> dict[str, str]:
        """Client id -> the first of ``gates`` it does not support (it never applies the rule)."""
        found = self._gated.get(gates)
        if found is None:
            found = {}
            for gate in gates:
                if gate == MOBILE_ONLY:  # a phone-width query: desktops and webmail never match
                    for client in self.targets:
                        if client.category != "mobile":
                            found.setdefault(client.id, "a wide window: the query is for phones")
                    continue
                feature = self.rules.features.get(gate)
                for client in self.targets:
                    if client.id not in found and _support_value(feature, client) == "n":
                        found[client.id] = f"no {gate}"
            self._gated[gates] = found
        return found

    def _outlook_offsets(self, slug: str) -> list[int]:
        outlook, content = self.outlook_found, self.conds.outlook
        if outlook is None or content is None or slug not in outlook.offsets:
            return []
        return [content.source_offset(offset) for offset in outlook.offsets[slug]]

    def offsets(self, slug: str) -> list[int]:
        """Where ``slug`` is used (the located uses), in source order."""
        main = self.found.offsets.get(slug, [])
        outlook = self._outlook_offsets(slug)
        return sorted(main + outlook) if outlook else list(main)

    def contexts(self, use: Use) -> frozenset[UseContext]:
        """The elements and declarations of the uses of a kind, to read caniemail's notes
        against; worked out when a partial support with notes needs them, once."""
        found = self._contexts.get(use)
        if found is None:
            if use.scope == "outlook":
                fallbacks, body = self.outlook_fallbacks, None
            else:
                fallbacks, body = self.fallbacks, self.body_offset
            assert fallbacks is not None
            found = frozenset(_context(fallbacks, offset, body) for offset in use.offsets)
            self._contexts[use] = found
        return found

    def uses(self, slug: str) -> list[Use]:
        """The uses of ``slug``, one per kind: uses seen by the same clients, in rules with
        the same gates and with the same fallbacks are judged alike."""
        handled = self.fallbacks.handles(slug)
        conds, gates_at = self.conds, self.found.gates
        scoped = bool(conds.outlook_ranges or conds.hidden_from_outlook)
        kinds: dict[tuple[Scope, Gates, tuple[Cover, ...]], list[int]] = {}
        for offset in self.found.offsets.get(slug, ()):
            scope: Scope = conds.scope_at(offset) if scoped else "all"
            covers = tuple(self.fallbacks.covers(slug, offset)) if handled else ()
            kinds.setdefault((scope, gates_at.get(offset, ()), covers), []).append(offset)
        if self.outlook_found is not None and self.outlook_fallbacks is not None:
            outlook_gates = self.outlook_found.gates
            for offset in self.outlook_found.offsets.get(slug, ()):
                covers = tuple(self.outlook_fallbacks.covers(slug, offset)) if handled else ()
                key: tuple[Scope, Gates, tuple[Cover, ...]] = (
                    "outlook",
                    outlook_gates.get(offset, ()),
                    covers,
                )
                kinds.setdefault(key, []).append(offset)
        return [Use(*key, offsets=tuple(offsets)) for key, offsets in kinds.items()]

    @cached_property
    def body_offset(self) -> int | None:
        bodies = self.fallbacks.doc.scan.named("body")
        return bodies[0].offset if bodies else None


def _context(fallbacks: Fallbacks, offset: int, body: int | None) -> UseContext:
    located = fallbacks.css_at(offset)
    css, element = located if located is not None else (None, None)
    value: str | None = None
    if element is not None:
        attr = next((a for a in element.attrs.values() if a.offset == offset), None)
        if attr is not None and attr.name != "style":
            value = attr.value.lower()
        elif element.name == "style":  # the <style> element itself: its sheet
            css = fallbacks.sheet_at(offset)
    if value is None and css is not None:
        prop = fallbacks.property_at(offset)
        value = declarations(css).get(prop) if prop is not None else None
    return UseContext(
        element=element.name if element is not None else None,
        css=css.lower() if css is not None else None,
        in_body=None if body is None else offset > body,
        value=value.lower() if value is not None else None,
    )


def _verdict(data: str, support: str, reasons: list[str]) -> ClientVerdict:
    # The values come from the validated support data.
    return cast(ClientVerdict, {"data": data, "support": support, "reasons": reasons})


def judge_client(
    raw: str,
    client: ClientInfo,
    uses: Sequence[Use],
    gated: Callable[[Gates], dict[str, str]],
    notes: tuple[str, ...] = (),
    contexts: Callable[[Use], frozenset[UseContext]] | None = None,
) -> ClientVerdict:
    """The support ``client`` gives the uses of a feature it supports as ``raw``.

    A use in content the client never shows (an Outlook-only conditional comment elsewhere,
    downlevel-revealed content in Outlook) costs nothing; nor does one in a stylesheet rule
    the client never applies because it lacks one of the rule's gates (``@media`` in Outlook);
    a full fallback for the client makes the use supported, a partial one makes it partial.
    """
    worst = "y"
    reasons: list[str] = []
    outlook = client.id in OUTLOOK_CLIENTS
    for use in uses or (_UNLOCATED,):
        if use.scope == "outlook" and not outlook:
            reasons.append("only Outlook for Windows shows it (a conditional comment)")
            continue
        if use.scope == "not-outlook" and outlook:
            reasons.append("a conditional comment hides it from Outlook for Windows")
            continue
        gate = gated(use.gates).get(client.id) if use.gates else None
        if gate is not None:
            reasons.append(f"it never applies the rule around it ({gate})")
            continue
        value = raw
        for cover in use.covers:
            if cover.clients is None or client.id in cover.clients:
                reasons.append(cover.reason)
                if cover.full:
                    value = "y"
                    break
                if _RANK[value] > _RANK["a"]:
                    value = "a"
        if value == "a" and raw == "a" and notes and contexts is not None and use.offsets:
            reads = {caveat(notes, context) for context in contexts(use)}
            read = "applies" if "applies" in reads else "minor" if "minor" in reads else "none"
            if read == "none":
                value = "y"
                reasons.append("caniemail's caveats are about something this use does not do")
            elif read == "minor":
                value = "y"
                reasons.append(f"only in a corner case or for a minority: {notes[0]}")
        if _RANK[value] > _RANK[worst]:
            worst = value
    return _verdict(raw, worst, list(dict.fromkeys(reasons)))


def _names(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _finding(
    feature: Feature,
    judge: Judge,
    count: int,
    doc: HtmlDocument,
    impact: FeatureImpact | None,
    policy: VerdictPolicy,
) -> tuple[Finding | None, str, list[str], dict[str, ClientVerdict]]:
    """The feature's finding (None when nothing is lost or the feature is harmless), its
    worst support by the data, the target clients the data has no entry for, and the
    verdict of each target client the data says lacks full support."""
    affected: list[AffectedClient] = []
    covered: list[dict[str, str]] = []
    no_data: list[ClientInfo] = []
    verdicts: dict[str, ClientVerdict] = {}
    tally = {"y": 0, "a": 0, "n": 0, "u": 0}
    uses: list[Use] | None = None
    plain = False
    with_notes = any(
        s is not None and s.value == "a" and s.notes
        for s in (feature.support.get(c.family, {}).get(c.platform) for c in judge.targets)
    )
    # Harmless and enhancement features are info at most whatever the fallbacks: their uses
    # need no judging, the data's word is enough.
    minor = impact is not None and impact.impact not in BLOCKING_IMPACTS
    for client in judge.targets:
        support = _support(feature, client)
        if support is None:
            no_data.append(client)
            continue
        value, version, notes = support
        tally[value] += 1
        if value == "y":
            continue
        if policy.strict or minor:
            verdict = _verdict(value, value, [])
        else:
            if uses is None:
                uses = judge.uses(feature.slug)
                plain = not with_notes and all(
                    u.scope == "all" and not u.gates and not u.covers for u in uses
                )
            if plain:  # seen by all, in no gated rule, no fallback: the data's word
                verdict = _verdict(value, value, [])
            else:
                verdict = judge_client(
                    value, client, uses, judge.gated, tuple(notes), judge.contexts
                )
        verdict = ClientVerdict(
            data=verdict["data"], support=verdict["support"], reasons=verdict["reasons"]
        )
        if version:
            verdict["version"] = version
        if notes:
            verdict["notes"] = list(notes)
        verdicts[client.id] = verdict
        if verdict["support"] == "y":
            covered.append(
                {"client": client.id, "name": client.name, "reason": "; ".join(verdict["reasons"])}
            )
            continue
        affected.append(
            AffectedClient(
                client=client.id,
                name=client.name,
                support=verdict["support"],
                data_support=value,
                fallbacks=verdict["reasons"],
                market_share=client.market_share,
            )
        )
    worst = next((v for v in ("n", "u", "a", "y") if tally[v]), "none")
    no_data_ids = [c.id for c in no_data]
    if worst in ("y", "none"):
        return None, worst, no_data_ids, verdicts
    klass = impact.impact if impact is not None else "layout"
    severity = _severity(klass, affected, covered, policy, tally)
    if severity is None:
        return None, worst, no_data_ids, verdicts
    offsets = judge.offsets(feature.slug)
    if uses:  # the uses no fallback covers first: the location a reader is sent to breaks
        bare = {o for u in uses if u.scope != "outlook" and not u.covers for o in u.offsets}
        offsets.sort(key=lambda o: o not in bare)
    locations = []
    for offset in offsets[:REPORTED_LOCATIONS]:
        line, column = doc.position(offset)
        locations.append(
            Location(part="html", line=line, column=column, snippet=doc.snippet(line, column))
        )
    return (
        CANIEMAIL_FEATURE.finding(
            feature.slug,
            title=feature.title,
            severity=severity,
            message=_message(affected, covered, no_data, impact, count),
            category=feature.category,
            url=feature.url,
            locations=locations,
            data={
                "clients": [a.model_dump() for a in affected],
                "covered": covered,
                "support_counts": tally,
                "no_data": no_data_ids,
                "occurrences": count,
                "url": feature.url,
                **_impact_data(impact, klass),
            },
        ),
        worst,
        no_data_ids,
        verdicts,
    )


def _severity(
    klass: str,
    affected: list[AffectedClient],
    covered: list[dict[str, str]],
    policy: VerdictPolicy,
    tally: dict[str, int],
) -> Severity | None:
    if policy.strict:
        return Severity.ERROR if tally["n"] else Severity.WARNING
    if klass == "harmless":
        return None
    if not affected:
        return Severity.INFO if covered else None
    if klass not in BLOCKING_IMPACTS:
        return Severity.INFO
    if any(a.support == "n" and a.market_share >= policy.min_share for a in affected):
        return Severity.ERROR
    return Severity.WARNING


def _message(
    affected: list[AffectedClient],
    covered: list[dict[str, str]],
    no_data: list[ClientInfo],
    impact: FeatureImpact | None,
    count: int,
) -> str:
    parts = []
    for value in ("n", "a", "u"):
        names = [a.name for a in affected if a.support == value]
        if names:
            parts.append(f"{SUPPORT_WORDS[value]} in {_names(names)}")
    text = ""
    if parts:
        lead = "; ".join(parts)
        text = lead[0].upper() + lead[1:]
        if impact is not None:
            text += f": {impact.reason}"
        if impact is not None and impact.fix:
            text += f" Fix: {impact.fix}"
    if covered:
        who = _names([c["name"] for c in covered], 4)
        why = "; ".join(dict.fromkeys(c["reason"] for c in covered))
        text += f"{' ' if text else ''}Covered in {who}: {why}."
    if no_data:
        text += f" No data for {_names([c.name for c in no_data], 4)}."
    return f"{text} Used {count} time(s).".strip()


def _impact_data(impact: FeatureImpact | None, klass: str) -> dict[str, str]:
    """The finding data fields that carry the feature's impact."""
    data = {"impact": klass}
    if impact is None:
        return data
    data["impact_reason"] = impact.reason
    if impact.narrowing:
        data["impact_narrowing"] = impact.narrowing
    if impact.fix:
        data["fix"] = impact.fix
    return data


def _client_scores(
    used: list[tuple[Feature, str, dict[str, ClientVerdict]]],
    targets: list[ClientInfo],
) -> dict[str, float]:
    """Per client, 0–100: what its readers get. A layout, content or interactive feature
    lost costs 60, one partly there 5 (at most 30 in all); a lost enhancement 2, a partial
    one 1 (at most 15 in all); harmless features and covered uses cost nothing."""
    scores = {}
    for client in targets:
        broken = degraded = enhanced = 0.0
        for _feature, klass, verdicts in used:
            verdict = verdicts.get(client.id)
            if verdict is None or verdict["support"] == "y" or klass == "harmless":
                continue
            lost = verdict["support"] == "n"
            if klass in BLOCKING_IMPACTS:
                if lost:
                    broken += 60
                else:
                    degraded += 5
            else:
                enhanced += 2 if lost else 1
        penalty = broken + min(degraded, 30) + min(enhanced, 15)
        scores[client.id] = max(0.0, 100.0 - penalty)
    return scores


ERROR_SCORE_CAP = 60.0
"""The most a message with an error finding scores: it is broken for real readers."""


def _verdict_score(
    client_scores: dict[str, float], targets: list[ClientInfo], has_error: bool
) -> float:
    weighted = sum(client_scores[c.id] * c.market_share for c in targets)
    weight = sum(c.market_share for c in targets)
    if weight:
        score = weighted / weight
    else:
        score = sum(client_scores.values()) / len(client_scores) if client_scores else 100.0
    if has_error:
        score = min(score, ERROR_SCORE_CAP)
    return round(score, 1)


def _gated_classes(
    found: Detection,
    outlook_found: Detection | None,
    impacts: ImpactData,
    policy: VerdictPolicy,
) -> dict[str, Impact]:
    """The class of each selector and at-rule feature by what its rules set.

    A client without a selector feature drops the rules that use it, so losing ``>`` costs
    what those rules' declarations would have done: ``.fix > table { border-collapse: ... }``
    is an enhancement, ``.col > td { display: none }`` a layout. The class is the most severe
    of the features used inside (the bundled class at most), each counted at most as much as
    the other gates it sits behind (a declaration under ``@media`` matters as an enhancement);
    ``html-style`` keeps its own.
    """

    ranks: dict[str, int] = {}

    def rank(slug: str) -> int:
        known = ranks.get(slug)
        if known is not None:
            return known
        if slug == MOBILE_ONLY:  # rules for phone widths: a responsive enhancement
            known = IMPACTS.index("enhancement")
        else:
            entry = impacts.of(slug)
            impact = policy.impacts.get(slug) or (entry.impact if entry else "layout")
            known = IMPACTS.index(impact)
        ranks[slug] = known
        return known

    inside: dict[str, int] = {}
    for detection in (found, outlook_found):
        if detection is None or not detection.gates:
            continue
        for slug, offsets in detection.offsets.items():
            seen: set[tuple[str, ...]] = set()
            for offset in offsets:
                gates = detection.gates.get(offset, ())
                if not gates or gates in seen:  # the same gates weigh the same
                    continue
                seen.add(gates)
                for gate in gates:
                    if gate == slug:
                        continue
                    others = [rank(g) for g in gates if g not in (gate, slug, "html-style")]
                    weight = min([rank(slug), *others])
                    inside[gate] = max(inside.get(gate, 0), weight)
    classes: dict[str, Impact] = {}
    for gate, worst_rank in inside.items():
        own = impacts.of(gate)
        if gate == "html-style" or own is None or own.impact not in BLOCKING_IMPACTS:
            continue
        worst = IMPACTS[worst_rank]
        if IMPACTS.index(worst) < IMPACTS.index(own.impact):
            classes[gate] = worst
    return classes


def analyse_document(
    doc: HtmlDocument,
    targets: list[str],
    *,
    extra_features: Iterable[str] = (),
    stylesheets: Sequence[tuple[LinkedStylesheet, str | None, int]] = (),
    rules: RulesData | None = None,
    clients: ClientsData | None = None,
    impacts: ImpactData | None = None,
    policy: VerdictPolicy | None = None,
) -> HtmlAnalysis:
    """Analyse parsed HTML against the support data for the ``targets`` globs.

    ``extra_features`` are slugs found outside the HTML (an AMP MIME part);
    ``stylesheets`` are fetched linked sheets: (what was fetched, its CSS text or None, the
    source offset of its ``<link>``). Raises ``TargetError`` when the globs match no client.
    """
    rules = rules or load_rules()
    clients = clients or load_clients()
    impacts = impacts or load_impact()
    policy = policy or VerdictPolicy()
    target_clients = resolve_targets(targets, clients)
    found = detect(doc, [(css, offset) for _, css, offset in stylesheets if css])
    conds = conditionals(doc)
    outlook_found = detect(conds.outlook.document) if conds.outlook is not None else None
    counts: dict[str, int] = dict(found.counts)
    if outlook_found is not None:
        for slug, n in outlook_found.counts.items():
            counts[slug] = counts.get(slug, 0) + n
    for slug in extra_features:
        counts[slug] = counts.get(slug, 0) + 1

    judge = Judge(doc, conds, found, outlook_found, rules, target_clients)
    used = [rules.features[s] for s in sorted(counts) if s in rules.features]
    findings: list[Finding] = []
    feature_uses_out: list[FeatureUse] = []
    judged: list[tuple[Feature, str, dict[str, ClientVerdict]]] = []
    gated_classes = _gated_classes(found, outlook_found, impacts, policy)
    for feature in used:
        impact = impacts.of(feature.slug)
        klass = policy.impacts.get(feature.slug) or gated_classes.get(feature.slug)
        klass = klass or (impact.impact if impact else "layout")
        if impact is not None and klass != impact.impact:
            impact = impact.model_copy(update={"impact": klass})
        finding, worst, no_data, verdicts = _finding(
            feature, judge, counts[feature.slug], doc, impact, policy
        )
        if finding is not None:
            findings.append(finding)
        judged.append((feature, klass, verdicts))
        feature_uses_out.append(
            FeatureUse(
                slug=feature.slug,
                title=feature.title,
                category=feature.category,
                count=counts[feature.slug],
                worst=worst,
                no_data=no_data,
                impact=klass,
                severity=finding.severity if finding is not None else None,
                clients=verdicts,
            )
        )
    findings.sort(key=lambda f: (_SEVERITY_ORDER[f.severity], f.rule))
    scores = _scores(used, target_clients)
    client_scores = _client_scores(judged, target_clients)
    has_error = any(f.severity == Severity.ERROR for f in findings)
    scores.verdict = _verdict_score(client_scores, target_clients, has_error)
    scores.verdict_by_client = client_scores
    details = HtmlDetails(
        rules_version=rules.meta.version,
        targets=list(targets) or ["*"],
        clients=[c.id for c in target_clients],
        client_info={
            c.id: ClientSummary(
                name=c.name,
                family=c.family,
                platform=c.platform,
                category=c.category,
                market_share=c.market_share,
            )
            for c in target_clients
        },
        features_used=len(used),
        features=feature_uses_out,
        scores=scores,
        undetectable=sorted(UNDETECTABLE),
        css_chars=found.css_chars,
        css_truncated=found.css_truncated,
        html_truncated=found.html_truncated,
        market_share_source=f"{clients.source} ({clients.date})",
        stylesheets=[sheet for sheet, _, _ in stylesheets],
        strict=policy.strict,
        min_share=policy.min_share,
    )
    return HtmlAnalysis(findings=findings, details=details)


_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def analyse_html(source: str, targets: list[str] | None = None) -> HtmlAnalysis:
    """Check a bare HTML string (a template) without wrapping it in a message."""
    return analyse_document(HtmlDocument(source), targets or ["*"])


def result_from(name: str, analysis: HtmlAnalysis, fail_below: float = 0.0) -> CheckResult:
    """Failed with an error finding or an HTML score under ``fail_below``; a warning with a
    warning finding; passed otherwise (info findings: enhancements and covered uses)."""
    findings = analysis.findings
    errors = sum(f.severity == Severity.ERROR for f in findings)
    warnings = sum(f.severity == Severity.WARNING for f in findings)
    infos = len(findings) - errors - warnings
    details = analysis.details
    score = details.scores.verdict if details.scores.verdict is not None else 100.0
    if errors or score < fail_below:
        status = Status.FAILED
    else:
        status = Status.WARNING if warnings else Status.PASSED
    summary = (
        f"{details.features_used} feature(s) used: {errors} break the message for some "
        f"readers, {warnings} degrade it, {infos} are enhancements or covered by fallbacks; "
        f"HTML score {score:g}, weighted support {details.scores.overall:g}%"
    )
    if details.strict:
        summary = (
            f"{details.features_used} feature(s) used: {errors} not supported by some target "
            f"client, {warnings} partial or unknown; weighted support "
            f"{details.scores.overall:g}% (strict)"
        )
    if details.css_truncated or details.html_truncated:
        summary += " (document too large: analysed in part)"
    return CheckResult(
        name=name,
        status=status,
        summary=summary,
        score=score,
        findings=analysis.findings,
        details=details.model_dump(mode="json"),
    )


@dataclass(frozen=True)
class HtmlConfig:
    """What the html check reads of the settings (``MAILQA_HTML_*``)."""

    targets: tuple[str, ...]
    strict: bool
    min_share: float
    impact: Mapping[str, str]
    fetch_stylesheets: bool
    fail_below: float


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
        config = ctx.config(HtmlConfig)
        if config.fetch_stylesheets and ctx.http is not None and not ctx.offline:
            sheets = await fetch_stylesheets(msg.html_document, ctx.http)
        try:
            # CPU-bound: in a thread, so the event loop (SMTP, API) stays live.
            analysis = await in_thread(
                analyse_document,
                msg.html_document,
                list(config.targets),
                extra_features=["amp"] if has_amp else [],
                stylesheets=sheets,
                policy=VerdictPolicy(
                    strict=config.strict,
                    min_share=config.min_share,
                    impacts=dict(config.impact),
                ),
            )
        except TargetError as exc:
            return CheckResult.errored(self.name, f"MAILQA_HTML_TARGETS: {exc}")
        return result_from(self.name, analysis, config.fail_below)


MAX_STYLESHEETS = 10
MAX_STYLESHEET_BYTES = 512 * 1024


async def fetch_stylesheets(
    doc: HtmlDocument, http: Fetcher
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
