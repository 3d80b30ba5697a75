"""Every rule a check can emit is declared (title, help, help URI) and catalogued.

Checks make their findings from ``Rule`` objects (``RULE.finding(...)``) or an open
family's (``html``: caniemail features, ``spam``: SpamAssassin rules), so a rule id cannot
be emitted without a declaration: the source test below fails a check that builds a
``Finding`` by hand.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
from tests.gate.conftest import SCHEMAS, Gate, write

import mailqa.checks
from mailqa.checks import BUILTIN_CHECKS
from mailqa.cli.gate import rule_catalog
from mailqa.core.rules import DEFAULT_DOCS_URL, RuleFamily
from mailqa.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
CATALOG = rule_catalog()
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def _check_sources() -> list[Path]:
    root = Path(inspect.getfile(mailqa.checks)).parent
    return sorted(p for p in root.rglob("*.py") if "html_detect" not in p.parts)


@pytest.mark.parametrize("path", _check_sources(), ids=lambda p: p.name)
def test_checks_make_findings_from_declared_rules(path: Path) -> None:
    tree = ast.parse(path.read_text())
    built = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Finding"
    ]
    assert not built, f"{path.name}: Finding(...) at lines {built}; use a Rule's finding()"


def test_the_catalogue_holds_the_rules_of_every_check() -> None:
    ids = set(CATALOG.rules)
    assert {
        "headers.from-missing",
        "hygiene.markup-duplicate-id",
        "accessibility.img-alt-missing",
        "links.image-broken",
        "links.cap-reached",
        "auth.spf-void-lookups",
        "auth.dkim-permerror",
        "blacklist.zone-unusable",
        "gate.min-html-score",
        "gate.max-spam-score",
    } <= ids
    assert set(CATALOG.families) == {"html", "spam"}
    assert len(ids) > 100
    for name, cls in BUILTIN_CHECKS.items():
        assert cls.rules.check == name  # type: ignore[attr-defined]


@pytest.mark.parametrize("rule", sorted(CATALOG.rules))
def test_catalogue_entries_are_complete(rule: str) -> None:
    doc = CATALOG.rules[rule]
    check, _, name = rule.partition(".")
    assert check == doc.check and KEBAB.match(name), f"{rule}: ids are <check>.<kebab-case>"
    assert doc.title and doc.help and doc.help.endswith((".", ")"))
    uri = urlsplit(doc.help_uri())
    assert uri.scheme == "https" and uri.netloc and uri.fragment
    page, _, anchor = doc.page.partition("#")
    assert (DOCS / page).is_file(), f"{rule}: no docs/{page}"
    assert anchor in _anchors((DOCS / page).read_text()), f"{rule}: no #{anchor} in docs/{page}"


def test_former_ids_name_their_rules() -> None:
    assert CATALOG.get("auth.spf_fail") is CATALOG.rules["auth.spf-fail"]
    assert CATALOG.get("blacklist.lookup_error") is CATALOG.rules["blacklist.lookup-error"]
    assert CATALOG.former_ids("auth.dkim-weak-key") == ("auth.dkim_weak_key",)
    for old, new in CATALOG.aliases.items():
        assert old not in CATALOG.rules and new in CATALOG.rules
    # Every auth id was snake_case before: each keeps its former id.
    assert all(rule.aliases for rule in CATALOG.sets["auth"])


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, spaces to '-', punctuation dropped."""
    out = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip().lower().replace(" ", "-")
            out.add("".join(c for c in heading if c.isalnum() or c in "-_"))
    return out


def test_catalogued_rules_are_listed_on_their_page() -> None:
    unlisted = sorted(
        rule
        for rule, doc in CATALOG.rules.items()
        if f"`{rule}`" not in (DOCS / doc.page.partition("#")[0]).read_text()
    )
    assert not unlisted, f"document these rules: {unlisted}"


def test_open_families_and_unknown_rules() -> None:
    assert CATALOG.describe("css-display-flex", "html") is CATALOG.families["html"]
    assert CATALOG.describe("spam.MISSING_DATE", "spam") is CATALOG.families["spam"]
    assert isinstance(CATALOG.families["spam"], RuleFamily)
    assert CATALOG.describe("headers.to-missing", "headers") is CATALOG.rules["headers.to-missing"]
    assert CATALOG.describe("acme.custom", "acme") is None
    assert set(CATALOG.sets) >= set(BUILTIN_CHECKS)


def test_docs_base_url_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILQA_DOCS_URL", raising=False)
    assert Settings().docs_url == DEFAULT_DOCS_URL
    monkeypatch.setenv("MAILQA_DOCS_URL", "https://git.internal/mail/mailqa/-/blob/v1/docs")
    assert CATALOG.rules["links.shortener"].help_uri(Settings().docs_url) == (
        "https://git.internal/mail/mailqa/-/blob/v1/docs/links.md#findings"
    )


def test_sarif_rules_come_from_the_catalogue(
    project: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule metadata is the catalogue's, not the first finding's instance-specific title."""
    monkeypatch.setenv("MAILQA_DOCS_URL", "https://docs.example.org/mailqa/")
    write(project, "long.eml", LONG_SUBJECT_EML)
    out = gate("long.eml", "--checks", "headers", "--format", "sarif")
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, json.loads((SCHEMAS / "sarif-2.1.0-rtm.5.json").read_text()))
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    long = rules["headers.subject-too-long"]
    assert long["shortDescription"]["text"] == "Subject is longer than 78 characters"
    assert long["helpUri"] == "https://docs.example.org/mailqa/headers.md#rules"
    assert long["help"]["text"].endswith("More: https://docs.example.org/mailqa/headers.md#rules")
    result = next(r for r in doc["runs"][0]["results"] if r["ruleId"] == long["id"])
    assert result["message"]["text"].startswith("Subject is 9")  # the instance's own title


LONG_SUBJECT_EML = """\
From: Shop <news@shop.example.com>
To: ann@example.org
Subject: {subject}
Date: Mon, 23 Nov 2026 10:00:00 +0000
Message-ID: <long-1@shop.example.com>
Content-Type: text/plain; charset=utf-8

Hello.
""".format(subject="A subject that goes on " * 4 + "and on")


def test_docs_rule_tables_come_from_the_registry() -> None:
    spec = importlib.util.spec_from_file_location(
        "rules_table", DOCS.parent / "scripts" / "rules_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale = [p.name for p, text in module.pages_with_tables().items() if p.read_text() != text]
    assert not stale, f"run: python scripts/rules_table.py --write ({stale})"
