"""The html check in the pipeline: findings, severities, scores, targets, bad targets."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest

from mailqa.checks import build_checks
from mailqa.checks.html import (
    HtmlCheck,
    HtmlDetails,
    VerdictPolicy,
    analyse_document,
    analyse_html,
    result_from,
)
from mailqa.core.html import HtmlDocument
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import CheckResult, Severity, Status
from mailqa.resources import check_context
from mailqa.rules.caniemail import ClientsData, RulesData
from mailqa.settings import Settings

NEWSLETTER = """<!DOCTYPE html>
<html lang="en">
<head>
<style>
  .card { display: flex; border-radius: 8px }
  @media (prefers-color-scheme: dark) { .card { background-color: #111 } }
</style>
</head>
<body>
  <table role="presentation" width="600"><tr><td>
    <h2 style="margin: 0">Hello</h2>
    <p style="color: #333">A paragraph.</p>
  </td></tr></table>
</body>
</html>
"""


def message(html: str | None, text: str | None = "plain", amp: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "news@example.com"
    msg["To"] = "you@example.org"
    msg["Subject"] = "Test"
    msg.set_content(text or "")
    if amp is not None:
        msg.add_alternative(amp, subtype="x-amp-html")
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return bytes(msg)


async def run(raw: bytes, **settings: Any) -> CheckResult:
    ctx = check_context(Settings(**settings))
    report = await Pipeline([HtmlCheck()]).run(ParsedMessage(raw), ctx)
    return report.checks["html"]


async def test_findings_have_slug_severity_locations_and_clients(rules: RulesData) -> None:
    result = await run(message(NEWSLETTER), html_targets=["outlook.windows", "apple-mail.*"])
    assert result.status == Status.FAILED  # flex breaks the layout in Outlook for Windows
    apple = await run(message(NEWSLETTER), html_targets=["apple-mail.*"])
    assert apple.status == Status.PASSED
    picky = await run(message(NEWSLETTER), html_targets=["apple-mail.*"], html_fail_below=100.0)
    assert picky.status == Status.PASSED  # Apple Mail supports all of it: score 100
    assert picky.score == 100.0
    by_rule = {f.rule: f for f in result.findings}
    flex = by_rule["css-display-flex"]
    assert flex.severity == Severity.ERROR  # Outlook for Windows: no support
    assert flex.category == "css"
    assert flex.url == rules.features["css-display-flex"].url
    assert [(loc.line, loc.column) for loc in flex.locations] == [(5, 20)]
    assert "display: flex" in (flex.locations[0].snippet or "")
    affected = {c["client"]: c for c in flex.data["clients"]}
    assert set(affected) == {"outlook.windows"}
    assert affected["outlook.windows"]["support"] == "n"
    # Fully supported everywhere targeted: no finding, but counted as used.
    details = HtmlDetails.model_validate(result.details)
    used = {f.slug for f in details.features}
    assert "html-p" in used and "html-p" not in by_rule
    assert details.features_used == len(details.features)
    assert details.clients == ["apple-mail.ios", "apple-mail.macos", "outlook.windows"]
    assert details.rules_version == rules.meta.version


async def test_partial_support_is_a_warning_with_notes(rules: RulesData) -> None:
    feature = rules.features["css-width"]
    partial = feature.support["outlook"]["windows"]
    assert partial.value == "a"  # the data facts this test relies on
    assert "`<div>`" in partial.notes[0]
    analysis = analyse_html('<div style="width:300px">x</div>', ["outlook.windows"])
    finding = next(f for f in analysis.findings if f.rule == "css-width")
    assert finding.severity == Severity.WARNING  # the caveat is about <div>: it applies
    client = finding.data["clients"][0]
    assert client["support"] == "a"
    row = next(u for u in analysis.details.features if u.slug == "css-width")
    assert row.clients["outlook.windows"].get("notes") == partial.notes
    on_a_cell = analyse_html('<td style="width:300px">x</td>', ["outlook.windows"])
    assert not [f for f in on_a_cell.findings if f.rule == "css-width" and f.severity != "info"]


def expected_scores(
    slugs: list[str], client_ids: list[str], rules: RulesData, clients: ClientsData
) -> tuple[dict[str, float | None], float]:
    """The scores as documented, computed from the data alone: per client, the % of used
    features supported (partial half, unknown and no data left out, one decimal); overall,
    those weighted by market share."""
    points = {"y": 1.0, "a": 0.5, "n": 0.0}
    per_client: dict[str, float | None] = {}
    for cid in client_ids:
        info = clients.clients[cid]
        values = []
        for slug in slugs:
            support = rules.features[slug].support.get(info.family, {}).get(info.platform)
            if support is not None and support.value != "u":
                values.append(points[support.value])
        per_client[cid] = round(100 * sum(values) / len(values), 1) if values else None
    rated = [(s, clients.clients[c].market_share) for c, s in per_client.items() if s is not None]
    overall = round(sum(s * w for s, w in rated) / sum(w for _, w in rated), 1)
    return per_client, overall


async def test_weighted_overall_of_a_handcrafted_case(
    rules: RulesData, clients: ClientsData
) -> None:
    targets = ["apple-mail.ios", "gmail.android", "outlook.windows"]
    analysis = analyse_html('<div style="display:flex">x</div>', targets)
    scores = analysis.details.scores
    used = sorted(f.slug for f in analysis.details.features)
    assert used == ["css-display", "css-display-flex", "html-div"]
    expected_clients, expected_overall = expected_scores(used, targets, rules, clients)
    assert scores.by_client == expected_clients
    assert scores.overall == expected_overall
    # The shares matter: with today's data 100, 66.7 and 50 weighted 46 : 7 : 4.5 give 92.0,
    # where a plain mean would give 72.2.
    plain = round(sum(s for s in expected_clients.values() if s is not None) / 3, 1)
    assert scores.overall != plain
    assert result_from("html", analysis).score == scores.verdict


async def test_scores_per_family_platform_and_weighted_overall(
    rules: RulesData, clients: ClientsData
) -> None:
    result = await run(message(NEWSLETTER), html_targets=["gmail.*", "outlook.windows"])
    scores = HtmlDetails.model_validate(result.details).scores
    assert set(scores.by_family) == {"gmail", "outlook"}
    assert set(scores.by_platform) == {
        "desktop-webmail",
        "android",
        "ios",
        "mobile-webmail",
        "windows",
    }
    assert scores.by_category.keys() == {"web", "mobile", "desktop"}
    assert result.score == scores.verdict
    client_scores = [s for s in scores.by_client.values() if s is not None]
    used = [f.slug for f in HtmlDetails.model_validate(result.details).features]
    expected_clients, expected_overall = expected_scores(
        used, list(scores.by_client), rules, clients
    )
    assert scores.by_client == expected_clients
    assert scores.overall == expected_overall
    # Outlook for Windows lacks flex and dark-mode queries: it scores lowest.
    assert scores.by_client["outlook.windows"] == min(client_scores)
    assert scores.by_family["outlook"].score == scores.by_client["outlook.windows"]


async def test_plain_html_scores_full_marks() -> None:
    result = await run(message("<p>Hello</p>"), html_targets=["apple-mail.*"])
    assert result.status == Status.PASSED
    assert result.score == 100.0
    assert result.findings == []


async def test_targets_narrow_findings() -> None:
    everyone = await run(message(NEWSLETTER))
    apple = await run(message(NEWSLETTER), html_targets=["apple-mail.*"])
    assert len(apple.findings) < len(everyone.findings)
    for finding in apple.findings:
        assert all(c["client"].startswith("apple-mail.") for c in finding.data["clients"])


async def test_unknown_targets_error_clearly() -> None:
    result = await run(message(NEWSLETTER), html_targets=["hotmail.*"])
    assert result.status == Status.ERRORED
    assert "hotmail.*" in (result.error or "") and "gmail.ios" in (result.error or "")


async def test_no_html_part_is_skipped() -> None:
    result = await run(message(None))
    assert result.status == Status.SKIPPED


async def test_amp_part_is_the_amp_feature() -> None:
    amp = "<!doctype html><html ⚡4email><head></head><body>Hi</body></html>"
    result = await run(message("<p>x</p>", amp=amp), html_targets=["outlook.windows"])
    assert "amp" in {f.rule for f in result.findings}


async def test_targets_setting_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILQA_HTML_TARGETS", "gmail.*, outlook.windows")
    assert Settings().html_targets == ["gmail.*", "outlook.windows"]


def test_registered_and_default_on() -> None:
    assert any(isinstance(c, HtmlCheck) for c in build_checks())


async def test_analysis_leaves_the_event_loop_live() -> None:
    """The CPU-bound analysis runs in a thread: SMTP and the API keep answering meanwhile."""
    import asyncio
    import time
    from email.message import EmailMessage

    from mailqa.core.message import ParsedMessage
    from mailqa.settings import Settings

    css = "".join(f".c{i} {{ display: flex; color: red }}\n" for i in range(6000))
    mail = EmailMessage()
    mail["From"] = "a@example.com"
    mail.set_content("x")
    mail.add_alternative(f"<style>{css}</style><p>hi</p>", subtype="html")
    msg = ParsedMessage(mail.as_bytes())
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    result = await HtmlCheck().run(msg, check_context(Settings(offline=True)))
    elapsed = time.perf_counter() - started
    task.cancel()
    assert result.status.value in ("warning", "failed", "passed")
    assert elapsed > 0.2  # long enough to tell
    # Run on the loop, the check would let the ticker in only after it returned: no tick
    # inside the run. In a thread the loop keeps ticking, more slowly as the thread holds the
    # GIL most of the time and a loaded machine stretches single gaps.
    inside = [t for t in ticks if started < t < started + elapsed]
    assert len(inside) >= 3, (len(inside), len(ticks), elapsed)


async def test_clients_without_data_are_listed_as_no_data(rules: RulesData) -> None:
    """A target client the support data has no entry for is "no data": named in the finding's
    ``data.no_data`` and the feature's ``no_data``, never among the supported."""
    kerning = rules.features["css-font-kerning"]
    assert "windows-mail" not in kerning.support["outlook"]  # the data has no entry
    assert kerning.support["apple-mail"]["ios"].value == "y"
    assert kerning.support["outlook"]["windows"].value == "n"
    targets = ["outlook.windows-mail", "outlook.windows", "apple-mail.ios"]
    analysis = analyse_document(
        HtmlDocument('<p style="font-kerning: none">x</p>'),
        targets,
        policy=VerdictPolicy(strict=True),  # kerning is harmless: no finding otherwise
    )
    finding = next(f for f in analysis.findings if f.rule == "css-font-kerning")
    assert finding.data["no_data"] == ["outlook.windows-mail"]
    assert [c["client"] for c in finding.data["clients"]] == ["outlook.windows"]
    assert finding.data["support_counts"] == {"y": 1, "a": 0, "n": 1, "u": 0}
    assert "No data for Outlook (Windows Mail)" in finding.message
    use = next(f for f in analysis.details.features if f.slug == "css-font-kerning")
    assert use.worst == "n"
    assert use.no_data == ["outlook.windows-mail"]
    # Left out of that client's score: only <p> (supported) is rated for it.
    assert rules.features["html-p"].support["outlook"]["windows-mail"].value == "y"
    assert analysis.details.scores.by_client["outlook.windows-mail"] == 100.0


async def test_no_data_of_a_feature_every_client_with_data_supports(rules: RulesData) -> None:
    """No finding (no client with data lacks it), but the feature still says who has no data."""
    assert "windows" not in rules.features["html-p"].support.get("thunderbird", {})
    assert rules.features["html-p"].support["apple-mail"]["ios"].value == "y"
    analysis = analyse_html("<p>x</p>", ["apple-mail.ios", "thunderbird.windows"])
    assert analysis.findings == []
    [use] = analysis.details.features
    assert (use.slug, use.worst, use.no_data) == ("html-p", "y", ["thunderbird.windows"])
    assert analysis.details.scores.by_client == {
        "apple-mail.ios": 100.0,
        "thunderbird.windows": None,
    }
    # Reports stored before no_data existed still load (empty: not said).
    stored = analysis.details.model_dump(mode="json")
    for feature in stored["features"]:
        del feature["no_data"]
    assert HtmlDetails.model_validate(stored).features[0].no_data == []
