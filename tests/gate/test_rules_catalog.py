"""Every rule id a check can emit has a catalogue entry (title, help, help URI).

The rule ids are read from the checks' source (their ``ast``), not from a hand-kept list, so a
rule added to a check without a catalogue entry fails here. A check names a rule either as
``Finding(rule="links.cap-reached")`` or through a helper that adds the check's prefix
(``_finding("from-missing", ...)``); the argument is a literal, a conditional between
literals, or a variable assigned literals (``rule, title = "spf_permerror", ...``, a row of a
table such as hygiene's ``_MARKUP_RULES``). Rule ids built at run time from data are listed in
``DYNAMIC`` with every value they can take; anything the reader cannot resolve fails the test
so that it gets listed.
"""

from __future__ import annotations

import ast
import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
from tests.gate.conftest import SCHEMAS, Gate, write

from mailqa.checks import BUILTIN_CHECKS
from mailqa.cli.gate import GATE_RULE_HTML_SCORE, GATE_RULE_SPAM_SCORE
from mailqa.core.rules_catalog import (
    CHECK_PAGES,
    DEFAULT_DOCS_URL,
    DOCS_URL_ENV,
    FAMILIES,
    RULES,
    docs_base_url,
    rule_doc,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"

# check -> (prefix its helpers add, names of those helpers: first argument = rule suffix).
HELPERS: dict[str, tuple[str, frozenset[str]]] = {
    "headers": ("headers.", frozenset({"_finding"})),
    "hygiene": ("hygiene.", frozenset({"add", "add_each"})),
    "links": ("links.", frozenset({"_finding"})),
    "auth": ("auth.", frozenset({"_finding"})),
    "blacklist": ("blacklist.", frozenset()),
    "spam": ("spam.", frozenset({"_finding"})),
    "html": ("", frozenset()),
}
# Rule ids computed from data, by check and source text: every value they take.
DYNAMIC: dict[tuple[str, str], set[str]] = {
    ("auth", "f'dkim_{sig.result}'"): {"dkim_fail", "dkim_permerror"},  # fail/permerror only
}
# Checks whose rule ids come from external data (caniemail features, SpamAssassin rules):
# a rule id they compute belongs to the check's open family (literal ones are read as usual).
OPEN = frozenset({"html", "spam"})


class _Reader:
    """Rule ids one check module emits."""

    def __init__(self, check: str, source: str) -> None:
        self.check = check
        self.prefix, self.helpers = HELPERS[check]
        self.tree = ast.parse(source)
        self.module_tables = {
            t.id: node.value
            for node in self.tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name) and node.value is not None
        }
        self.ids: set[str] = set()
        self.families: set[str] = set()
        self.unresolved: list[str] = []

    def read(self) -> _Reader:
        for func in ast.walk(self.tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                self._function(func)
        return self

    def _function(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        params = {a.arg for a in [*func.args.args, *func.args.kwonlyargs]}
        assigns: dict[str, list[ast.expr]] = {}
        for node in ast.walk(func):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    for name, value in self._targets(target, node.value):
                        assigns.setdefault(name, []).append(value)
        for node in ast.walk(func):
            if not isinstance(node, ast.Call):
                continue
            callee = node.func
            called = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", None)
            for kw in node.keywords:
                if kw.arg == "rule" and called not in self.helpers:
                    self._add(kw.value, "", params, assigns)
            if called in self.helpers and node.args:
                self._add(node.args[0], self.prefix, params, assigns)

    def _targets(self, target: ast.expr, value: ast.expr) -> Iterator[tuple[str, ast.expr]]:
        if isinstance(target, ast.Name):
            yield target.id, value
        elif isinstance(target, ast.Tuple):
            for i, element in enumerate(target.elts):
                if not isinstance(element, ast.Name):
                    continue
                if isinstance(value, ast.Tuple) and i < len(value.elts):
                    yield element.id, value.elts[i]
                elif isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
                    # rule, title, ... = TABLE[key]: element i of every row
                    table = self.module_tables.get(value.value.id)
                    if isinstance(table, ast.Dict):
                        for row in table.values:
                            if isinstance(row, ast.Tuple) and i < len(row.elts):
                                yield element.id, row.elts[i]

    def _add(
        self, expr: ast.expr, prefix: str, params: set[str], assigns: dict[str, list[ast.expr]]
    ) -> None:
        text = ast.unparse(expr)
        literal = isinstance(expr, ast.Constant | ast.IfExp)
        if self.check in OPEN and not literal:
            self.families.add(self.check)
            return
        if (self.check, text) in DYNAMIC:
            self.ids.update(prefix + v for v in DYNAMIC[self.check, text])
            return
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            self.ids.add(prefix + expr.value)
        elif isinstance(expr, ast.IfExp):
            self._add(expr.body, prefix, params, assigns)
            self._add(expr.orelse, prefix, params, assigns)
        elif isinstance(expr, ast.Name) and expr.id in assigns:
            for value in assigns[expr.id]:
                self._add(value, prefix, params, assigns)
        elif isinstance(expr, ast.Name) and expr.id in params:
            pass  # a helper passing its own argument on: its callers are read
        elif (
            isinstance(expr, ast.JoinedStr)
            and len(expr.values) == 2
            and isinstance(expr.values[0], ast.Constant)
            and expr.values[0].value == self.prefix
            and isinstance(expr.values[1], ast.FormattedValue)
            and isinstance(expr.values[1].value, ast.Name)
            and expr.values[1].value.id in params
        ):
            pass  # the helper itself: f"headers.{rule}"
        else:
            self.unresolved.append(f"{self.check}: {text} (line {expr.lineno})")


def emitted_rules() -> tuple[set[str], set[str], list[str]]:
    ids: set[str] = {GATE_RULE_HTML_SCORE, GATE_RULE_SPAM_SCORE}
    families: set[str] = set()
    unresolved: list[str] = []
    for name, cls in BUILTIN_CHECKS.items():
        assert name in HELPERS, f"new check {name!r}: add it to HELPERS (and the catalogue)"
        module = inspect.getmodule(cls)
        assert module is not None
        reader = _Reader(name, inspect.getsource(module)).read()
        ids |= reader.ids
        families |= reader.families
        unresolved += reader.unresolved
    return ids, families, unresolved


def test_the_reader_finds_the_rules_of_every_kind_of_emitter() -> None:
    ids, families, _ = emitted_rules()
    assert {
        "headers.from-missing",  # helper with a literal
        "hygiene.markup-duplicate-id",  # a row of a table
        "hygiene.img-missing-alt",  # add_each
        "links.image-broken",  # a conditional
        "links.cap-reached",  # Finding(rule=...)
        "auth.spf_void_lookups",  # tuple assignment
        "auth.dkim_permerror",  # DYNAMIC
        "blacklist.zone_unusable",
    } <= ids
    assert families == {"html", "spam"}
    assert len(ids) > 100


def test_every_rule_a_check_emits_is_in_the_catalogue() -> None:
    ids, families, unresolved = emitted_rules()
    assert not unresolved, f"rule ids the test cannot read; list them in DYNAMIC: {unresolved}"
    missing = sorted(ids - set(RULES))
    assert not missing, f"add these rules to mailqa.core.rules_catalog: {missing}"
    stale = sorted(set(RULES) - ids)
    assert not stale, f"catalogue entries no check emits: {stale}"
    assert families <= set(FAMILIES)


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, spaces to '-', punctuation dropped."""
    out = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip().lower().replace(" ", "-")
            out.add("".join(c for c in heading if c.isalnum() or c in "-_"))
    return out


@pytest.mark.parametrize("rule", sorted(RULES))
def test_catalogue_entries_are_complete(rule: str) -> None:
    doc = RULES[rule]
    assert doc.title and doc.help and doc.help.endswith((".", ")"))
    uri = urlsplit(doc.help_uri())
    assert uri.scheme == "https" and uri.netloc and uri.fragment
    page, _, anchor = doc.page.partition("#")
    assert (DOCS / page).is_file(), f"{rule}: no docs/{page}"
    assert anchor in _anchors((DOCS / page).read_text()), f"{rule}: no #{anchor} in docs/{page}"


def test_catalogued_rules_are_listed_on_their_page() -> None:
    unlisted = sorted(
        rule
        for rule, doc in RULES.items()
        if f"`{rule}`" not in (DOCS / doc.page.partition("#")[0]).read_text()
    )
    assert not unlisted, f"document these rules: {unlisted}"


def test_open_families_and_unknown_rules() -> None:
    assert rule_doc("css-display-flex", "html") is FAMILIES["html"]
    assert rule_doc("spam.MISSING_DATE", "spam") is FAMILIES["spam"]
    assert rule_doc("headers.to-missing", "headers") is RULES["headers.to-missing"]
    assert rule_doc("acme.custom", "acme") is None
    assert set(CHECK_PAGES) >= set(BUILTIN_CHECKS)


def test_docs_base_url_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DOCS_URL_ENV, raising=False)
    assert docs_base_url() == DEFAULT_DOCS_URL
    monkeypatch.setenv(DOCS_URL_ENV, "https://git.internal/mail/mailqa/-/blob/v1/docs")
    assert RULES["links.shortener"].help_uri() == (
        "https://git.internal/mail/mailqa/-/blob/v1/docs/links.md#findings"
    )


def test_sarif_rules_come_from_the_catalogue(
    project: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule metadata is the catalogue's, not the first finding's instance-specific title."""
    monkeypatch.setenv(DOCS_URL_ENV, "https://docs.example.org/mailqa/")
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
