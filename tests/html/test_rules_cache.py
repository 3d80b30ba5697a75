"""The prebuilt rules data (``mailqa.rules.prebuilt``): a fresh entry is used instead of the
sources, and any change to the sources (a data update by ``scripts/update_rules.py``, an
edit of ``impact.yaml``) is read and validated again, errors included."""

from __future__ import annotations

import importlib.util
import json
import pickle
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

import mailqa.rules
from mailqa.core.errors import RulesError
from mailqa.rules import caniemail, prebuilt, rules_dir
from mailqa.rules.caniemail import load_clients, load_rules, load_rules_from
from mailqa.rules.impact import load_impact

ROOT = Path(__file__).resolve().parents[2]


def _render() -> Callable[[dict[str, Any]], str]:
    """``scripts/update_rules.py``'s writer of ``caniemail.json``."""
    spec = importlib.util.spec_from_file_location("update_rules", ROOT / "scripts/update_rules.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast(Callable[[dict[str, Any]], str], module.render)


def _clear() -> None:
    for loader in (load_rules, load_clients, load_impact):
        loader.cache_clear()


@pytest.fixture
def rules_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the rules folder in use, with an empty cache folder of its own."""
    copy = tmp_path / "rules"
    shutil.copytree(rules_dir(), copy)
    monkeypatch.setattr(mailqa.rules, "rules_dir", lambda: copy)
    monkeypatch.setattr(prebuilt, "cache_dirs", lambda: [tmp_path / "cache"])
    _clear()
    yield copy
    _clear()


def entries(folder: Path, name: str) -> list[Path]:
    return sorted((folder.parent / "cache").glob(f"{name}-*{prebuilt.SUFFIX}"))


def test_the_first_load_writes_an_entry_the_next_one_uses_it(
    rules_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules, clients, impact = load_rules(), load_clients(), load_impact()
    for name in ("caniemail", "clients", "impact"):
        assert len(entries(rules_copy, name)) == 1
    _clear()

    def no_sources(*_: object) -> None:
        raise AssertionError("read the sources although the entry is fresh")

    monkeypatch.setattr(caniemail, "load_rules_from", no_sources)
    monkeypatch.setattr(caniemail, "load_clients_from", no_sources)
    monkeypatch.setattr("mailqa.rules.impact.load_impact_from", no_sources)
    assert load_rules() == rules
    assert load_clients() == clients
    assert load_impact() == impact


def test_the_entry_holds_what_validating_the_sources_gives(rules_copy: Path) -> None:
    load_rules()
    (entry,) = entries(rules_copy, "caniemail")
    assert pickle.loads(entry.read_bytes()) == load_rules_from(rules_copy / "caniemail.json")


def test_a_data_update_is_read_again(rules_copy: Path) -> None:
    slug = "css-display-flex"
    assert load_rules().features[slug].title == "display:flex"
    content = json.loads((rules_copy / "caniemail.json").read_text("utf-8"))
    content["features"][slug]["title"] = "display: flex (updated)"
    content["features"][slug]["support"]["gmail"]["desktop-webmail"]["value"] = "n"
    (rules_copy / "caniemail.json").write_text(_render()(content), "utf-8")
    _clear()
    updated = load_rules().features[slug]
    assert updated.title == "display: flex (updated)"
    assert updated.support["gmail"]["desktop-webmail"].value == "n"
    assert len(entries(rules_copy, "caniemail")) == 1  # the old entry is gone


def test_an_impact_edit_is_read_again(rules_copy: Path) -> None:
    before = load_impact().features["css-display-flex"]
    text = (rules_copy / "impact.yaml").read_text("utf-8")
    assert before.reason[:30] in " ".join(text.split())
    path = rules_copy / "impact.yaml"
    path.write_text(text.replace(before.reason[:30], "EDITED " + before.reason[:30], 1), "utf-8")
    _clear()
    assert load_impact().features["css-display-flex"].reason.startswith("EDITED ")


def test_a_new_feature_without_impact_fails_as_before(rules_copy: Path) -> None:
    load_impact()  # a good entry exists
    content = json.loads((rules_copy / "caniemail.json").read_text("utf-8"))
    added = dict(content["features"]["css-display-flex"], slug="css-display-brand-new")
    content["features"]["css-display-brand-new"] = added
    (rules_copy / "caniemail.json").write_text(_render()(content), "utf-8")
    _clear()
    assert "css-display-brand-new" in load_rules().features
    with pytest.raises(RulesError, match="css-display-brand-new"):
        load_impact()


def test_invalid_data_is_reported_and_not_stored(rules_copy: Path) -> None:
    (rules_copy / "caniemail.json").write_text('{"meta": {}}', "utf-8")
    with pytest.raises(RulesError, match="cannot load"):
        load_rules()
    assert entries(rules_copy, "caniemail") == []


def test_a_damaged_entry_is_replaced(rules_copy: Path) -> None:
    rules = load_rules()
    (entry,) = entries(rules_copy, "caniemail")
    entry.write_bytes(b"not a pickle")
    _clear()
    assert load_rules() == rules
    assert pickle.loads(entry.read_bytes()) == rules


def test_without_a_writable_folder_the_sources_are_read(
    rules_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(prebuilt, "cache_dirs", lambda: [blocker / "cache"])
    assert load_rules() == load_rules_from(rules_copy / "caniemail.json")
    assert load_impact().features


def test_equal_support_is_shared() -> None:
    rules = load_rules()
    supports = [s for f in rules.features.values() for p in f.support.values() for s in p.values()]
    assert len({id(s) for s in supports}) == len(
        {(s.version, s.value, tuple(s.notes)) for s in supports}
    )
