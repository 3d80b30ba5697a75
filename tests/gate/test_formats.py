"""Every output format from one run: golden files, plus structural checks per format.

Goldens use the headers check only (its findings are fixed by the sample messages); the
volatile parts (durations, timestamps, versions, the temporary folder) are normalised.
Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/gate``.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from tests.gate.conftest import BROKEN_EML, CLEAN_EML, GOLDEN, SCHEMAS, WARNING_EML, Gate, write

from mailqa.checks.links.rules import PRIVATE_HOST
from mailqa.cli.gate import GateFinding
from mailqa.cli.output.clients import lacking_support
from mailqa.cli.output.github import escape_data, escape_property
from mailqa.cli.output.json import expand_html
from mailqa.cli.paths import ci_path
from mailqa.core.report import Finding, Severity
from mailqa.core.rules import DEFAULT_DOCS_URL

FORMATS = {
    "text": "report.txt",
    "json": "report.json",
    "junit": "junit.xml",
    "sarif": "report.sarif",
    "github": "annotations.txt",
    "markdown": "summary.md",
}


def _normalise_json(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in ("duration_s", "duration_ms"):
                out[key] = 0
            elif key == "created_at":
                out[key] = "<time>"
            elif key == "rules_version" and isinstance(item, str):
                out[key] = "<rules version>"
            elif key in ("version", "semanticVersion", "tool_version") and isinstance(item, str):
                out[key] = item if item == "2.1.0" else "<version>"
            else:
                out[key] = _normalise_json(item)
        return out
    if isinstance(value, list):
        return [_normalise_json(v) for v in value]
    return value


def normalise(fmt: str, text: str, project: Path) -> str:
    text = text.replace(str(project), "<project>")
    if fmt in ("json", "sarif"):
        return json.dumps(_normalise_json(json.loads(text)), indent=2, ensure_ascii=False) + "\n"
    if fmt == "junit":
        return re.sub(r'time="[0-9.]+"', 'time="0"', text)
    if fmt == "text":
        return re.sub(r"checked in [0-9.]+ s", "checked in 0 s", text)
    return text


@pytest.fixture
def outputs(project: Path, gate: Gate) -> dict[str, str]:
    """One run writing every format (paired --format/--output), with a baseline and ignores."""
    write(project, "mailqa.toml", "checks = ['headers']\nignore = ['headers.subject-all-caps']\n")
    write(project, "mail/ok.eml", CLEAN_EML)
    write(project, "mail/bad.eml", BROKEN_EML)
    write(project, "mail/warn.eml", WARNING_EML)
    recorded = gate("mail/warn.eml", "--baseline", "baseline.json", "--write-baseline")
    assert recorded.exit_code == 0
    args = ["mail", "--baseline", "baseline.json", "--fail-on", "warning"]
    for fmt, name in FORMATS.items():
        if fmt != "text":
            args += ["--format", fmt, "--output", f"out/{name}"]
    args += ["--format", "text"]  # the last one goes to standard output
    out = gate(*args)
    assert out.exit_code == 1, out.stderr
    texts = {
        fmt: (project / "out" / name).read_text() for fmt, name in FORMATS.items() if fmt != "text"
    }
    texts["text"] = out.stdout
    return texts


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_golden(outputs: dict[str, str], project: Path, fmt: str) -> None:
    actual = normalise(fmt, outputs[fmt], project)
    golden = GOLDEN / FORMATS[fmt]
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(actual)
    assert golden.is_file(), f"missing golden {golden}: run with UPDATE_GOLDEN=1"
    assert actual == golden.read_text()


def test_json_reports_name_the_rules_version(outputs: dict[str, str]) -> None:
    """Every report says which client-support data judged it, as the server's reports do."""
    doc = json.loads(outputs["json"])
    versions = {f["report"]["rules_version"] for f in doc["files"]}
    assert None not in versions and len(versions) == 1


def test_sarif_is_valid_against_the_official_schema(outputs: dict[str, str]) -> None:
    schema = json.loads((SCHEMAS / "sarif-2.1.0-rtm.5.json").read_text())
    doc = json.loads(outputs["sarif"])
    jsonschema.validate(doc, schema)
    run = doc["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    results = run["results"]
    # Ignored findings are left out; the baselined one is kept, suppressed, "unchanged".
    assert "headers.subject-all-caps" not in rules
    states = {(r["ruleId"], r["baselineState"]) for r in results}
    assert ("headers.message-id-missing", "unchanged") in states
    assert ("headers.date-missing", "new") in states
    for r in results:
        assert run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
        physical = r["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"].startswith("mail/")
        assert physical["region"]["startLine"] >= 1
    unchanged = [r for r in results if r["baselineState"] == "unchanged"]
    assert all(r["suppressions"][0]["kind"] == "external" for r in unchanged)


def test_sarif_with_errored_checks_and_rule_urls_is_valid(project: Path, gate: Gate) -> None:
    """Links findings carry help URIs; an errored check becomes a tool notification."""
    write(project, "t.html", '<a href="https://yourapp.example/x">x</a>\n')
    socket = project / "no-spamd.sock"  # spam named with a spamd that is not there: errored
    out = gate("t.html", "--checks", "links,spam", "--spamd-url", str(socket), "-f", "sarif")
    assert out.exit_code == 1
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, json.loads((SCHEMAS / "sarif-2.1.0-rtm.5.json").read_text()))
    run = doc["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    private = rules["links.private-host"]
    assert private["helpUri"] == DEFAULT_DOCS_URL + "links.md#findings"
    assert private["shortDescription"]["text"] == PRIVATE_HOST.title
    assert private["fullDescription"]["text"] == PRIVATE_HOST.help
    assert private["help"]["text"].endswith(f"More: {private['helpUri']}")
    for rule in rules.values():
        uri = urlsplit(rule["helpUri"])
        assert uri.scheme == "https" and uri.netloc, rule
    result = next(r for r in run["results"] if r["ruleId"] == "links.private-host")
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 1
    [note] = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and note["descriptor"]["id"] == "spam"
    assert note["message"]["text"].startswith(f"spam errored: spamd at unix://{socket}")
    artifact = note["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "t.html", "uriBaseId": "%SRCROOT%"}


def test_sarif_and_github_paths_are_relative_to_the_repository(
    project: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from a sub-folder of the repository, files are named from its root
    ($GITHUB_WORKSPACE); a file outside it gets an absolute file: URI."""
    write(project, "emails/mail/bad.eml", BROKEN_EML)
    outside = write(project.parent / f"{project.name}-outside", "bad.eml", BROKEN_EML)
    monkeypatch.chdir(project / "emails")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(project))
    args = ["mail/bad.eml", str(outside), "--checks", "headers"]
    out = gate(*args, "-f", "sarif", "-o", "r.sarif", "-f", "github")
    assert "::error file=emails/mail/bad.eml,line=1,title=mailqa headers.date-missing::" in (
        out.stdout
    )
    doc = json.loads((project / "emails" / "r.sarif").read_text())
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in doc["runs"][0]["results"]
    }
    assert uris == {"emails/mail/bad.eml", outside.resolve().as_uri()}
    jsonschema.validate(doc, json.loads((SCHEMAS / "sarif-2.1.0-rtm.5.json").read_text()))


def test_ci_path() -> None:
    assert ci_path("mail/a.eml", "") == "mail/a.eml"
    assert ci_path("<stdin>", "/repo") == "<stdin>"
    here = Path.cwd()
    assert ci_path("a.eml", str(here.parent)) == f"{here.name}/a.eml"
    assert ci_path("../a.eml", str(here)) == "../a.eml"  # outside the workspace: as given


def test_junit_has_one_testcase_per_file_and_check(outputs: dict[str, str]) -> None:
    root = ET.fromstring(outputs["junit"])
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"mail/bad.eml", "mail/ok.eml", "mail/warn.eml"}
    assert root.get("tests") == "3" and root.get("failures") == "1"
    bad = suites["mail/bad.eml"].find("testcase")
    assert bad is not None and bad.get("name") == "headers"
    failure = bad.find("failure")
    assert failure is not None and failure.text is not None
    assert "headers.date-missing" in failure.text and "headers.to-missing" in failure.text
    assert "headers.subject-all-caps" not in failure.text  # ignored
    warn = suites["mail/warn.eml"].find("testcase")
    assert warn is not None and warn.find("failure") is None  # its warning is baselined


def test_github_annotations_point_at_file_and_line(outputs: dict[str, str]) -> None:
    lines = outputs["github"].splitlines()
    date = next(x for x in lines if "headers.date-missing" in x)
    # A missing header has no line of its own: line 1, where the headers are.
    assert date.startswith("::error file=mail/bad.eml,line=1,title=mailqa headers.date-missing::")
    to = next(x for x in lines if "headers.to-missing" in x)
    assert to.startswith("::warning file=mail/bad.eml,line=1,")
    assert not any("mail/warn.eml" in x for x in lines)  # its warning is baselined
    assert lines[-1].startswith("::error title=mailqa check::")


def test_github_escaping() -> None:
    assert escape_data("50% off\nnow") == "50%25 off%0Anow"
    assert escape_property("a:b,c") == "a%3Ab%2Cc"


def test_markdown_table_has_a_row_per_file(outputs: dict[str, str]) -> None:
    md = outputs["markdown"]
    assert md.startswith("## mailqa check: ❌ failed")
    rows = [x for x in md.splitlines() if x.startswith("| `mail/")]
    assert any(r.startswith("| `mail/bad.eml` | ❌ failed | 1 | 2 | 0 |") for r in rows)
    assert any(r.startswith("| `mail/ok.eml` | ✅ passed | 0 | 0 | 0 |") for r in rows)


def test_json_document_carries_each_report(outputs: dict[str, str]) -> None:
    doc = json.loads(outputs["json"])
    assert doc["passed"] is False and doc["summary"]["files"] == 3
    assert doc["summary"]["baselined"] == 1 and doc["summary"]["ignored"] == 1
    bad = next(f for f in doc["files"] if f["path"] == "mail/bad.eml")
    assert bad["report"]["checks"]["headers"]["status"] == "failed"
    assert {f["state"] for f in bad["findings"]} == {"new", "ignored"}


def test_json_document_follows_its_schema(outputs: dict[str, str]) -> None:
    """The wrapper validates against ``mailqa schema --gate``; each nested report against the
    report schema (``mailqa schema``)."""
    from typer.testing import CliRunner

    from mailqa.cli.main import app
    from mailqa.core.report import report_json_schema

    doc = json.loads(outputs["json"])
    schema = CliRunner().invoke(app, ["schema", "--gate"])
    assert schema.exit_code == 0, schema.output
    jsonschema.validate(doc, json.loads(schema.stdout))
    for file in doc["files"]:
        jsonschema.validate(file["report"], report_json_schema())


def test_colours_follow_the_option(project: Path, gate: Gate) -> None:
    write(project, "bad.eml", BROKEN_EML)
    coloured = gate("bad.eml", "--checks", "headers", "--color", "always").stdout
    assert "\033[31merror\033[0m" in coloured
    plain = gate("bad.eml", "--checks", "headers", "--color", "never").stdout
    assert "\033[" not in plain


def test_output_format_is_inferred_from_the_file_name(project: Path, gate: Gate) -> None:
    write(project, "bad.eml", BROKEN_EML)
    out = gate("bad.eml", "--checks", "headers", "-o", "r.sarif", "-o", "j.xml")
    assert out.exit_code == 1
    assert json.loads((project / "r.sarif").read_text())["version"] == "2.1.0"
    assert ET.parse(project / "j.xml").getroot().tag == "testsuites"
    assert "FAIL bad.eml" in out.stdout  # nothing else on standard output: text is


def test_errored_check_in_every_format(project: Path, gate: Gate) -> None:
    """A check that times out fails the gate and shows as an error in each format."""
    from mailqa.checks import BUILTIN_CHECKS

    if "html" not in BUILTIN_CHECKS:
        pytest.skip("the html check is not registered in this build")
    write(project, "mailqa.toml", "checks = ['html']\ncheck-timeout = 0.001\n")
    write(project, "big.html", "<table>" + '<tr><td style="color:red">x</td></tr>' * 20000)
    args = ["big.html", "-f", "junit", "-o", "j.xml", "-f", "sarif", "-o", "r.sarif"]
    args += ["-f", "markdown", "-o", "s.md", "-f", "github"]
    out = gate(*args)
    assert out.exit_code == 1
    errored = "::error file=big.html,line=1,title=mailqa html%3A check errored::timed out"
    assert errored in out.stdout
    case = ET.parse(project / "j.xml").getroot().find("testsuite/testcase")
    assert case is not None and case.find("error") is not None
    doc = json.loads((project / "r.sarif").read_text())
    jsonschema.validate(doc, json.loads((SCHEMAS / "sarif-2.1.0-rtm.5.json").read_text()))
    invocation = doc["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "timed out" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    assert "❌ errored (html)" in (project / "s.md").read_text()


CLIENT_SUPPORT_TEMPLATE = """\
<!doctype html>
<html lang="en"><head><title>Sale</title></head>
<body>
<div style="background-image:url(https://cdn.shop.example/hero.png)">Spring sale</div>
<p style="display:flex">Everything half price until Sunday.</p>
<div style="position:absolute;top:0">SALE</div>
</body></html>
"""


def _expected_clients(clients: list[dict[str, Any]], shown: int = 4) -> str:
    """The clients the text names, from the report's data: unsupported, then partial."""
    unsupported = [c["name"] for c in clients if c["support"] == "n"]
    partial = [c["name"] for c in clients if c["support"] == "a"]
    groups = [
        ("not supported in", unsupported[:shown]),
        ("partial in", partial[: max(0, shown - len(unsupported))]),
    ]
    text = "; ".join(f"{words} {', '.join(names)}" for words, names in groups if names)
    more = len(unsupported) + len(partial) - shown
    return text + (f" +{more} more" if more > 0 else "")


def test_text_and_markdown_name_the_clients_lacking_support(project: Path, gate: Gate) -> None:
    write(project, "sale.html", CLIENT_SUPPORT_TEMPLATE)
    args = ["sale.html", "--checks", "html,hygiene", "-f", "json", "-o", "r.json"]
    out = gate(*args, "-f", "markdown", "-o", "s.md", "-f", "text")
    assert out.exit_code == 1, out.stderr
    document = json.loads((project / "r.json").read_text())
    report = expand_html(document["files"][0], document)
    findings = report["checks"]["html"]["findings"]
    lines = out.stdout.splitlines()
    markdown = (project / "s.md").read_text()
    both_groups = capped = False
    for finding in findings:
        clients = finding["data"]["clients"]
        supports = {c["support"] for c in clients}
        both_groups |= {"n", "a"} <= supports
        capped |= sum(s in "na" for s in (c["support"] for c in clients)) > 4
        expected = _expected_clients(clients)
        if not expected:  # covered everywhere: nothing to name
            continue
        assert f") — {expected} |" in markdown
        listed = [i for i, x in enumerate(lines) if f" {finding['rule']}: " in x]
        if finding["severity"] == "info":  # not blocking: counted, not listed
            assert not listed
            continue
        (at,) = listed
        assert lines[at].endswith(f"{finding['title']} [html] — {expected}")
        if finding["severity"] == "error":  # blocking: what recipients get, on the next line
            data = finding["data"]
            assert lines[at + 1].strip() == f"{data['impact_reason']} Fix: {data['fix']}"
    infos = sum(f["severity"] == "info" for c in report["checks"].values() for f in c["findings"])
    if infos:
        assert f"({infos} info finding{'s' if infos > 1 else ''}: enhancements" in out.stdout
    else:
        assert "info finding" not in out.stdout
    assert both_groups and capped  # the sample exercises ordering and the cap
    hygiene = [x for x in lines if "[hygiene]" in x]
    assert not any("—" in x for x in hygiene)
    hygiene_md = [x for x in markdown.splitlines() if "`hygiene." in x]
    assert hygiene_md and not any(") — " in x for x in hygiene_md)


def test_only_html_findings_with_client_data_name_clients() -> None:
    clients = [
        {"name": "Partial A", "support": "a"},
        {"name": "Unknown", "support": "u"},
        {"name": "None B", "support": "n"},
        {"name": 3, "support": "n"},
        "not a client",
    ]

    def finding(check: str, data: dict[str, Any]) -> GateFinding:
        raw = Finding(rule="x", title="X", severity=Severity.ERROR, data=data)
        return GateFinding(check=check, finding=raw, fingerprint="f")

    assert lacking_support(finding("html", {"clients": clients})) == (
        "not supported in None B; partial in Partial A"
    )
    assert lacking_support(finding("html", {"clients": clients}), shown=1) == (
        "not supported in None B +1 more"
    )
    assert lacking_support(finding("links", {"clients": clients})) == ""
    assert lacking_support(finding("html", {"clients": "Gmail"})) == ""
    assert lacking_support(finding("html", {})) == ""


def test_one_column_convention_in_the_report_and_every_format(project: Path, gate: Gate) -> None:
    """Columns count from 1 in the stored report as in the text, JSON, SARIF, GitHub and
    JUnit outputs: the first character of a line is column 1, as editors show it."""
    html = (
        '<html lang="en"><body>\n<div style="display:flex"><p>a</p><p>b</p></div>\n</body></html>\n'
    )
    write(project, "t.html", html)
    column = html.split("\n")[1].index("flex") + 1
    args = ["t.html", "--checks", "html"]
    for fmt in ("json", "sarif", "github", "junit"):
        args += ["--format", fmt, "--output", f"out.{fmt}"]
    out = gate(*args, "--format", "text")
    assert f"t.html:2:{column}: error css-display-flex" in out.stdout
    doc = json.loads((project / "out.json").read_text())
    report = expand_html(doc["files"][0], doc)
    [flex] = [f for f in report["checks"]["html"]["findings"] if f["rule"] == "css-display-flex"]
    assert [(loc["line"], loc["column"]) for loc in flex["locations"]] == [(2, column)]
    [gate_finding] = [f for f in doc["files"][0]["findings"] if f["rule"] == "css-display-flex"]
    assert (gate_finding["line"], gate_finding["column"]) == (2, column)
    sarif = json.loads((project / "out.sarif").read_text())
    [result] = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "css-display-flex"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (2, column)
    assert f"line=2,col={column}," in (project / "out.github").read_text()
    assert f"t.html:2:{column}" in (project / "out.junit").read_text()
