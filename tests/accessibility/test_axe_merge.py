"""Merging axe-core's rendered audit into the static accessibility result (a pure function),
with axe output shaped as axe-core 4.14 reports it (reduced by ``mailqa.render.axe``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mailqa.checks.accessibility.axe import (
    AXE_RULES,
    CONFIRMED_BY,
    COVERED,
    NOT_FOR_EMAIL,
    SOURCE,
    AxeAudit,
    AxeNode,
    AxeViolation,
    merge_axe,
)
from mailqa.checks.accessibility.check import analyse
from mailqa.core.html import HtmlDocument
from mailqa.core.report import CheckResult, Severity, Status
from mailqa.rules import rules_dir
from mailqa.rules.axe import axe_script

# Line 4: a colour from a custom property the static cascade does not resolve; line 5: an
# inline light grey it does; line 6: an image without alt.
HTML = """<!DOCTYPE html><html lang="en"><head><title>Hi</title>
<style>:root{--muted:#d0d0d0} .muted{color:var(--muted)}</style></head>
<body><div lang="en"><h1>Hello</h1>
<p class="muted">Light grey text that the static cascade cannot decide.</p>
<p style="color:#eeeeee">Very light inline text.</p>
<img src="cid:logo">
<p>Dark enough text.</p>
</div></body></html>"""


def contrast_node(line: int, ratio: float, fg: str) -> AxeNode:
    return AxeNode(
        line=line,
        column=1,
        snippet="<p>",
        target=[".muted"],
        summary="Fix any of the following:\n  Element has insufficient color contrast of "
        f"{ratio} (foreground color: {fg}, background color: #ffffff, font size: 12.0pt "
        "(16px), font weight: normal). Expected contrast ratio of 4.5:1",
        impact="serious",
        contrast=ratio,
        expected=4.5,
        foreground=fg,
        background="#ffffff",
    )


def audit(*violations: AxeViolation, passes: tuple[int, ...] = ()) -> AxeAudit:
    return AxeAudit(
        version="4.14.1",
        variant="emulated: desktop 600px",
        rules=list(AXE_RULES),
        violations=list(violations),
        contrast_passes=[AxeNode(line=n, column=1) for n in passes],
    )


CONTRAST = AxeViolation(
    id="color-contrast",
    impact="serious",
    help="Elements must meet minimum color contrast ratio thresholds",
    help_url="https://dequeuniversity.com/rules/axe/4.14/color-contrast?application=axeAPI",
    nodes=[contrast_node(4, 1.54, "#d0d0d0"), contrast_node(5, 1.16, "#eeeeee")],
)
IMAGE_ALT = AxeViolation(
    id="image-alt",
    impact="critical",
    help="Images must have alternative text",
    nodes=[
        AxeNode(
            line=6,
            column=1,
            snippet='<img src="cid:logo">',
            target=["img"],
            summary="Fix any of the following:\n  Element does not have an alt attribute",
            impact="critical",
        )
    ],
)


@pytest.fixture
def static() -> CheckResult:
    return analyse(HtmlDocument(HTML))


def by_rule(result: CheckResult, rule: str) -> list[dict[str, object]]:
    return [f.data for f in result.findings if f.rule == f"accessibility.{rule}"]


def test_the_static_check_leaves_the_custom_property_colour_to_review(
    static: CheckResult,
) -> None:
    lines = [loc.line for f in static.findings for loc in f.locations if "contrast" in f.rule]
    assert lines == [5]
    reviews = [i for i in static.details["needs_review"] if i["kind"] == "contrast"]
    assert [i["line"] for i in reviews] == [4]


def test_matching_violations_confirm_static_findings_and_new_ones_are_marked(
    static: CheckResult,
) -> None:
    merged = merge_axe(static, audit(CONTRAST, IMAGE_ALT, passes=(7,)))
    contrast = by_rule(merged, "color-contrast")
    assert len(contrast) == 2
    confirmed = [d for d in contrast if d.get("confirmed_by") == CONFIRMED_BY]
    added = [d for d in contrast if d.get("source") == SOURCE]
    assert len(confirmed) == 1 and "source" not in confirmed[0]
    assert len(added) == 1 and added[0]["wcag"] == "1.4.3" and added[0]["occurrences"] == 1
    assert added[0]["impact"] == "serious" and added[0]["axe_rule"] == "color-contrast"
    assert "#d0d0d0" in str(added[0]["elements"])
    new = next(f for f in merged.findings if f.data.get("source") == SOURCE)
    assert new.severity == Severity.WARNING and [loc.line for loc in new.locations] == [4]
    # The image without alt: the static finding, confirmed, not a second one.
    alt = by_rule(merged, "img-alt-missing")
    assert len(alt) == 1 and alt[0]["confirmed_by"] == CONFIRMED_BY
    assert alt[0]["confirmed_lines"] == [6] and confirmed[0]["confirmed_lines"] == [5]
    # The review of line 4 is decided by the computed contrast.
    assert not [i for i in merged.details["needs_review"] if i["kind"] == "contrast"]
    assert merged.details["needs_review_total"] == static.details["needs_review_total"] - 1
    rendered = merged.details["rendered"]
    assert rendered["violations"] == 3 and rendered["confirmed"] == 2
    assert rendered["added"] == 1 and rendered["reviews_decided"] == 1
    assert merged.score is not None and static.score is not None
    assert merged.score < static.score
    assert "accessibility.color-contrast" in merged.details["wcag"]


def test_a_contrast_pass_decides_the_review_without_a_finding(static: CheckResult) -> None:
    merged = merge_axe(static, audit(passes=(4,)))
    assert [f.rule for f in merged.findings] == [f.rule for f in static.findings]
    assert not [i for i in merged.details["needs_review"] if i["kind"] == "contrast"]
    assert merged.details["rendered"]["reviews_decided"] == 1


def test_merging_twice_changes_nothing(static: CheckResult) -> None:
    once = merge_axe(static, audit(CONTRAST))
    assert merge_axe(once, audit(CONTRAST)) == once


def test_a_render_only_rule_becomes_its_own_finding(static: CheckResult) -> None:
    target = AxeViolation(
        id="target-size",
        impact="serious",
        help="All touch targets must be 24px large, or leave sufficient space",
        nodes=[AxeNode(line=3, column=7, impact="serious"), AxeNode(line=7, column=1)],
    )
    merged = merge_axe(static, audit(target))
    found = by_rule(merged, "target-size")
    assert len(found) == 1 and found[0]["source"] == SOURCE and found[0]["wcag"] == "2.5.8"
    assert found[0]["occurrences"] == 2


def test_minor_impact_gives_a_note_and_page_rules_are_ignored(static: CheckResult) -> None:
    heading = AxeViolation(
        id="heading-order", impact="moderate", help="Heading levels", nodes=[AxeNode(line=3)]
    )
    region = AxeViolation(id="region", impact="moderate", help="landmarks", nodes=[AxeNode()])
    merged = merge_axe(static, audit(heading, region))
    assert [f.severity for f in merged.findings if f.rule.endswith("heading-order")] == [
        Severity.INFO
    ]
    assert merged.details["rendered"]["violations"] == 1
    assert "region" in NOT_FOR_EMAIL and "region" not in AXE_RULES


def test_a_skipped_check_stays_skipped() -> None:
    skipped = CheckResult.skipped("accessibility", "no HTML part")
    assert merge_axe(skipped, audit(CONTRAST)) is skipped
    assert skipped.status == Status.SKIPPED


def test_every_covered_axe_rule_maps_to_a_registered_rule() -> None:
    from mailqa.checks.accessibility.rules import BY_ID

    for names in COVERED.values():
        assert all(f"accessibility.{n}" in BY_ID for n in names)


def test_the_bundled_axe_core_is_the_recorded_file() -> None:
    meta = json.loads((rules_dir() / "axe-core.json").read_text("utf-8"))
    data = (rules_dir() / "axe.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == meta["sha256"]
    script = axe_script()
    assert script.version == meta["package_version"]
    assert f"axe v{script.version}" in script.source[:100]
    licence = Path(rules_dir() / meta["license_file"]).read_text("utf-8")
    assert "Mozilla Public License" in licence


def test_an_axe_core_file_that_is_not_the_recorded_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mailqa.rules.axe as axe_rules
    from mailqa.core.errors import RulesError

    (tmp_path / "axe-core.json").write_bytes((rules_dir() / "axe-core.json").read_bytes())
    (tmp_path / "axe.min.js").write_text("/*! axe v4.14.1 */ window.axe = {run() {}};")
    monkeypatch.setattr(axe_rules, "rules_file", lambda name: tmp_path / name)
    axe_rules.axe_script.cache_clear()
    try:
        with pytest.raises(RulesError, match="SHA-256"):
            axe_rules.axe_script()
    finally:
        monkeypatch.undo()
        axe_rules.axe_script.cache_clear()
    assert axe_rules.axe_script().version == "4.14.1"


def test_document_rules_the_static_check_chose_not_to_flag_stay_unflagged() -> None:
    short = analyse(HtmlDocument('<html lang="en"><head><title>t</title></head><body><p>Hi</p>'))
    assert not by_rule(short, "heading-one-missing")  # under 200 characters: no <h1> asked
    h1 = AxeViolation(
        id="page-has-heading-one",
        impact="moderate",
        help="Page should contain a level-one heading",
        nodes=[AxeNode(line=1, column=1)],
    )
    merged = merge_axe(short, audit(h1))
    assert merged.findings == short.findings and merged.details["rendered"]["added"] == 0
