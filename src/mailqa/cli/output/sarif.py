"""``--format sarif``: SARIF 2.1.0 for code-scanning uploads (GitHub, Azure DevOps...).

Every rule seen in the run is described once in ``tool.driver.rules`` from the rule catalogue
(the rules the checks declare, ``mailqa.core.rules``: a title that fits every finding, help
text, a help URI into the documentation); each finding is a result with a physical location
in the checked file.
Ignored findings are left out; baselined ones are kept as ``unchanged`` and suppressed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mailqa import __version__
from mailqa.cli.gate import (
    FileResult,
    FindingState,
    GateFinding,
    GateRun,
    rule_catalog,
    sorted_findings,
)
from mailqa.cli.paths import ci_path
from mailqa.core.report import Severity, Status
from mailqa.core.rules import Rule, RuleCatalog, docs_url

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
FINGERPRINT_KEY = "mailqa/v1"


def _uri(path: str) -> tuple[str, bool]:
    """The artifact URI of a checked file, and whether it is relative to %SRCROOT%."""
    if path == "<stdin>":
        return "stdin", True
    path = ci_path(path)
    if path.startswith("/") or path == ".." or path.startswith("../"):
        # Outside the source root: a relative reference would climb out of it.
        return Path(os.path.abspath(path)).as_uri(), False
    return quote(path), True


def _location(file: FileResult, f: GateFinding | None = None) -> dict[str, Any]:
    uri, relative = _uri(file.path)
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
    if relative and file.path != "<stdin>":
        physical["artifactLocation"]["uriBaseId"] = "%SRCROOT%"
    if f is not None:
        region: dict[str, Any] = {"startLine": f.line or 1}
        if f.line is not None and f.column is not None:
            region["startColumn"] = f.column
        snippet = f.finding.locations[0].snippet if f.finding.locations else None
        if snippet and f.line is not None:
            region["snippet"] = {"text": snippet}
        physical["region"] = region
    return {"physicalLocation": physical}


def _rule(f: GateFinding, catalog: RuleCatalog, docs_base: str) -> dict[str, Any]:
    """The rule's description from the catalogue, not from this one finding: a finding's
    title can be about its instance ("Subject is 97 characters"). A rule of an open family
    has no title of its own: the finding's is used."""
    doc = catalog.describe(f.rule, f.check)
    title = doc.title if isinstance(doc, Rule) else f.finding.title
    if isinstance(doc, Rule):
        help_uri = doc.help_uri(docs_base)
    elif f.finding.url:  # an html rule: the feature's caniemail page
        help_uri = f.finding.url
    else:
        page = doc.page if doc is not None else catalog.page(f.check) or "ci-gate.md"
        help_uri = docs_url(page, docs_base)
    help_text = doc.help if doc is not None else f.finding.message or title
    rule: dict[str, Any] = {
        "id": f.rule,
        "shortDescription": {"text": title},
        "fullDescription": {"text": help_text},
        "helpUri": help_uri,
        "help": {"text": f"{help_text} More: {help_uri}"},
        "defaultConfiguration": {"level": LEVELS[f.severity]},
        "properties": {"check": f.check, "tags": [f.check]},
    }
    if f.finding.category:
        rule["properties"]["category"] = f.finding.category
    return rule


def sarif_document(run: GateRun) -> dict[str, Any]:
    docs_base = run.docs_url
    catalog = rule_catalog()
    rules: dict[str, dict[str, Any]] = {}
    rule_index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for file in run.files:
        if file.error:
            notifications.append(
                {"level": "error", "message": {"text": file.error}, "locations": [_location(file)]}
            )
        for check in file.checks:
            if check.status == Status.ERRORED:
                notifications.append(
                    {
                        "level": "error",
                        "message": {
                            "text": f"{check.name} errored: {check.error or check.summary}"
                        },
                        "locations": [_location(file)],
                        "descriptor": {"id": check.name},
                    }
                )
        for f in sorted_findings([f for f in file.findings if f.state != FindingState.IGNORED]):
            if f.rule not in rules:
                rule_index[f.rule] = len(rules)
                rules[f.rule] = _rule(f, catalog, docs_base)
            text = f.finding.title
            if f.finding.message:
                text += (
                    f". {f.finding.message}" if not text.endswith(".") else f" {f.finding.message}"
                )
            if f.finding.url and f.finding.url != rules[f.rule]["helpUri"]:
                text += f" More: {f.finding.url}"  # e.g. a block list's delisting page
            result: dict[str, Any] = {
                "ruleId": f.rule,
                "ruleIndex": rule_index[f.rule],
                "level": LEVELS[f.severity],
                "message": {"text": text},
                "locations": [_location(file, f)],
                "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
                "properties": {"check": f.check, "blocking": f.blocking},
            }
            if run.baseline is not None:
                result["baselineState"] = (
                    "unchanged" if f.state == FindingState.BASELINED else "new"
                )
            if f.state == FindingState.BASELINED:
                result["suppressions"] = [
                    {"kind": "external", "justification": "listed in the mailqa baseline"}
                ]
            results.append(result)
    invocation: dict[str, Any] = {
        "executionSuccessful": not notifications,
        "exitCode": 1 if run.failed else 0,
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mailqa",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": list(rules.values()),
                    }
                },
                "invocations": [invocation],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render_sarif(run: GateRun) -> str:
    return json.dumps(sarif_document(run), indent=2, ensure_ascii=False) + "\n"
