"""The generated rules data and the upstream validation that produces it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mailqa.core.errors import RulesError
from mailqa.rules import rules_dir
from mailqa.rules.caniemail import ClientsData, RulesData, convert_upstream, parse_value

META = {
    "source": "test",
    "package_version": "0",
    "integrity": "sha512-x",
    "license": "LICENSES/caniemail-data.LICENSE",
    "package_license": "LICENSES/caniemail-npm.LICENSE",
    "generated_by": "test",
}
UPSTREAM: dict[str, Any] = {
    "api_version": "1.0.4",
    "last_update_date": "2026-01-01 00:00:00 +0000",
    "nicenames": {"family": {"gmail": "Gmail"}, "platform": {"ios": "iOS"}},
    "data": [
        {
            "slug": "css-x",
            "title": "x",
            "description": "",
            "url": "https://www.caniemail.com/features/css-x/",
            "category": "css",
            "tags": [],
            "keywords": None,
            "notes": None,
            "notes_by_num": {"1": "Only in dark mode."},
            # Last listed is current, although "2019-10" sorts after "2019-09" and "10" < "9".
            "stats": {"gmail": {"ios": {"9": "n", "10": "y", "2019-02": "a #1"}}},
        }
    ],
}


def test_last_listed_version_is_current_and_notes_resolve() -> None:
    content = convert_upstream(copy.deepcopy(UPSTREAM), META)
    support = content["features"]["css-x"]["support"]["gmail"]["ios"]
    assert support == {"version": "2019-02", "value": "a", "notes": ["Only in dark mode."]}
    history = content["features"]["css-x"]["history"]["gmail"]["ios"]
    assert [v for v, _ in history] == ["9", "10", "2019-02"]


@pytest.mark.parametrize("bad", ["yes", "a#1", "x", "y #", "n #1x", ""])
def test_value_grammar_is_enforced(bad: str) -> None:
    with pytest.raises(RulesError):
        parse_value(bad)
    upstream = copy.deepcopy(UPSTREAM)
    upstream["data"][0]["stats"]["gmail"]["ios"]["2020"] = bad
    with pytest.raises(RulesError, match="css-x"):
        convert_upstream(upstream, META)


def test_missing_keys_and_duplicates_are_refused() -> None:
    upstream = copy.deepcopy(UPSTREAM)
    del upstream["data"][0]["stats"]
    with pytest.raises(RulesError, match="missing keys"):
        convert_upstream(upstream, META)
    upstream = copy.deepcopy(UPSTREAM)
    upstream["data"].append(copy.deepcopy(upstream["data"][0]))
    with pytest.raises(RulesError, match="duplicate"):
        convert_upstream(upstream, META)
    with pytest.raises(RulesError, match="top-level"):
        convert_upstream({"data": []}, META)


def test_dangling_note_is_kept_with_a_warning() -> None:
    upstream = copy.deepcopy(UPSTREAM)
    upstream["data"][0]["stats"]["gmail"]["ios"]["2020"] = "a #7"
    warnings: list[str] = []
    content = convert_upstream(upstream, META, warnings)
    assert warnings and "#7" in warnings[0]
    assert "#7" in content["features"]["css-x"]["support"]["gmail"]["ios"]["notes"][0]


def test_bundled_rules_are_complete_and_licensed(rules: RulesData) -> None:
    assert len(rules.features) == 307
    assert rules.meta.package_version == "2.0.2"
    notice = (rules_dir() / rules.meta.license).read_text("utf-8")
    assert "Copyright (c) 2019 Rémi Parmentier" in notice
    assert (rules_dir() / rules.meta.package_license).read_text("utf-8").startswith("MIT")
    # Spot-check a known fact: Outlook for Windows does not support display:flex.
    assert rules.features["css-display-flex"].support["outlook"]["windows"].value == "n"


def test_clients_cover_the_data(rules: RulesData, clients: ClientsData) -> None:
    pairs = {
        f"{family}.{platform}"
        for feature in rules.features.values()
        for family, platforms in feature.support.items()
        for platform in platforms
    }
    assert pairs <= set(clients.clients)
    assert 95 <= sum(c.market_share for c in clients.clients.values()) <= 101
    assert clients.source and clients.date
    assert [c.id for c in clients.match(["*.ios"])] and all(
        c.category == "mobile" for c in clients.match(["*.ios", "*.android"])
    )
