"""The impact data: one entry per caniemail slug, from the fixed classes, each with a reason
and, where the feature breaks something, a fix."""

from __future__ import annotations

import pytest

from mailqa.checks.html import VerdictPolicy, analyse_document, analyse_html
from mailqa.core.errors import RulesError
from mailqa.core.html import HtmlDocument
from mailqa.core.report import Severity
from mailqa.rules import rules_file
from mailqa.rules.caniemail import RulesData
from mailqa.rules.impact import IMPACT_FILE, IMPACTS, FeatureImpact, load_impact, parse_impact

ENTRY = "  {slug}:\n    impact: {impact}\n    reason: {reason}\n"


def _text(entries: dict[str, tuple[str, str]]) -> str:
    return "features:\n" + "".join(
        ENTRY.format(slug=slug, impact=impact, reason=reason)
        for slug, (impact, reason) in entries.items()
    )


def test_every_bundled_slug_has_an_entry_and_every_entry_a_slug(rules: RulesData) -> None:
    impact = load_impact()
    assert set(impact.features) == set(rules.features)
    assert len(impact.features) == len(rules.features) == 307


def test_classes_are_fixed_and_reasons_say_something() -> None:
    assert IMPACTS == ("harmless", "enhancement", "layout", "content", "interactive")
    for slug, entry in load_impact().features.items():
        assert entry.impact in IMPACTS, slug
        assert len(entry.reason) >= 15, slug
        assert entry.narrowing is None or len(entry.narrowing) >= 15, slug


def test_every_breaking_feature_says_how_to_fix_it() -> None:
    for slug, entry in load_impact().features.items():
        if entry.impact in ("layout", "content", "interactive"):
            assert entry.fix is not None and len(entry.fix) >= 15, slug
        assert entry.fix is None or len(entry.fix) >= 15, slug


def test_fixes_name_the_email_fallback() -> None:
    features = load_impact().features
    assert "VML" in (features["css-background-image"].fix or "")
    assert "MSO ghost table" in (features["css-display-flex"].fix or "")
    assert "<picture>" in (features["image-webp"].fix or "")
    assert "hosted" in (features["html-form"].fix or "")
    assert "stack" in (features["css-at-font-face"].fix or "")
    assert features["html-doctype"].fix is None  # harmless: nothing to fix


def test_the_issue_examples_carry_their_class() -> None:
    impact = load_impact()
    expected = {
        "html-doctype": "harmless",
        "html-body": "harmless",
        "html-role": "harmless",
        "html-aria-label": "harmless",
        "html-lang": "harmless",
        "html-target": "harmless",
        "css-cursor": "harmless",
        "css-pseudo-class-hover": "harmless",
        "css-at-media": "enhancement",
        "css-at-media-prefers-color-scheme": "enhancement",
        "css-border-radius": "enhancement",
        "css-box-shadow": "enhancement",
        "css-at-font-face": "enhancement",
        "css-transition": "enhancement",
        "css-display-flex": "layout",
        "css-display-grid": "layout",
        "css-float": "layout",
        "css-position": "layout",
        "css-background-image": "content",
        "html-svg": "content",
        "html-video": "content",
        "image-webp": "content",
        "image-base64": "content",
        "html-form": "interactive",
        "html-input-text": "interactive",
        "html-button-submit": "interactive",
    }
    assert {slug: impact.features[slug].impact for slug in expected} == expected


def test_narrowings_record_the_caniemail_notes_relied_on() -> None:
    impact = load_impact()
    assert "non-Google accounts" in (impact.features["css-display-flex"].narrowing or "")
    assert "<table>" in (impact.features["html-role"].narrowing or "")


def test_a_new_slug_in_the_support_data_fails_naming_it() -> None:
    text = _text({"css-a": ("layout", "The layout breaks.")})
    with pytest.raises(RulesError, match=r"no impact for 1 feature\(s\): css-new"):
        parse_impact(text, ["css-a", "css-new"])


def test_an_entry_for_an_unknown_slug_fails_naming_it() -> None:
    text = _text({"css-a": ("layout", "The layout breaks."), "css-gone": ("harmless", "Gone.")})
    with pytest.raises(RulesError, match=r"unknown feature\(s\): css-gone"):
        parse_impact(text, ["css-a"])


@pytest.mark.parametrize(
    ("impact", "reason"),
    [("broken", "The layout breaks."), ("layout", "''"), ("layout", "'   '")],
)
def test_bad_class_or_empty_reason_fails(impact: str, reason: str) -> None:
    with pytest.raises(RulesError, match="css-a"):
        parse_impact(_text({"css-a": (impact, reason)}), ["css-a"])


@pytest.mark.parametrize("fix", ["''", "'   '"])
def test_an_empty_fix_fails(fix: str) -> None:
    text = _text({"css-a": ("layout", "The layout breaks.")}) + f"    fix: {fix}\n"
    with pytest.raises(RulesError, match=r"css-a[\s\S]*fix is empty"):
        parse_impact(text, ["css-a"])


def test_the_fix_round_trips() -> None:
    text = _text({"css-a": ("layout", "The layout breaks."), "css-b": ("harmless", "Nothing.")})
    text = text.replace(
        "    reason: The layout breaks.\n",
        "    reason: The layout breaks.\n    fix: >-\n      Use a table\n        instead.\n",
    )
    data = parse_impact(text, ["css-a", "css-b"])
    entry = data.features["css-a"]
    assert entry.fix == "Use a table instead."  # whitespace folded, like the reason
    assert data.features["css-b"].fix is None
    assert FeatureImpact.model_validate(entry.model_dump()) == entry
    assert FeatureImpact.model_validate_json(entry.model_dump_json()) == entry


def test_a_slug_given_twice_fails() -> None:
    text = _text({"css-a": ("layout", "The layout breaks.")}) + ENTRY.format(
        slug="css-a", impact="harmless", reason="Nothing."
    )
    with pytest.raises(RulesError, match="duplicate key 'css-a'"):
        parse_impact(text, ["css-a"])


def test_unknown_fields_fail() -> None:
    text = _text({"css-a": ("layout", "The layout breaks.")}) + "    severity: error\n"
    with pytest.raises(RulesError, match="severity"):
        parse_impact(text, ["css-a"])


def test_the_file_says_it_is_this_projects_judgement() -> None:
    head = rules_file(IMPACT_FILE).read_text("utf-8").split("\nfeatures:", 1)[0]
    assert "own editorial judgement" in head


def test_findings_and_feature_uses_carry_the_impact() -> None:
    html = (
        '<div style="display:flex"><img src="a.webp" alt=""></div>'
        '<table role="presentation"><tr><td>x</td></tr></table>'
    )
    analysis = analyse_html(html, ["outlook.windows"])
    impact = load_impact()
    by_rule = {f.rule: f for f in analysis.findings}
    flex = by_rule["css-display-flex"]
    assert flex.data["impact"] == "layout"
    assert flex.data["impact_reason"] == impact.features["css-display-flex"].reason
    assert flex.data["impact_narrowing"] == impact.features["css-display-flex"].narrowing
    assert by_rule["image-webp"].data["impact"] == "content"
    uses = {u.slug: u.impact for u in analysis.details.features}
    assert uses["css-display-flex"] == "layout"
    assert uses["html-role"] == "harmless"  # supported in Outlook: no finding, still listed


def test_the_impact_sets_the_severity_and_strict_keeps_support_alone() -> None:
    html = '<div style="display:flex;cursor:pointer;border-radius:4px"><p>a</p><p>b</p></div>'
    severities = {f.rule: f.severity for f in analyse_html(html, ["*"]).findings}
    assert severities["css-display-flex"] == Severity.ERROR  # layout, Outlook lacks it
    assert severities["css-border-radius"] == Severity.INFO  # an enhancement
    assert "css-cursor" not in severities  # harmless: listed in the details only
    strict = analyse_document(HtmlDocument(html), ["*"], policy=VerdictPolicy(strict=True))
    severities = {f.rule: f.severity for f in strict.findings}
    assert severities["css-cursor"] == severities["css-border-radius"] == Severity.ERROR
