"""Baselines (fail only on new findings) and ignore rules (global, per path glob, per check)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from tests.gate.conftest import BROKEN_EML, CLEAN_EML, Gate, write

from mailqa.cli.config import GateConfig
from mailqa.cli.gate import FindingState, evaluate
from mailqa.cli.inputs import wrap_html
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import summarize
from mailqa.core.report import CheckResult, Finding, Location, Report, Severity, Status


def test_baseline_records_today_and_fails_only_on_new_findings(project: Path, gate: Gate) -> None:
    write(project, "mail/bad.eml", BROKEN_EML)
    out = gate(
        "mail", "--checks", "headers", "--baseline", "mailqa-baseline.json", "--write-baseline"
    )
    assert out.exit_code == 0
    assert "recorded 4 finding(s) in 1 file(s)" in out.stderr
    data = json.loads((project / "mailqa-baseline.json").read_text())
    assert data["version"] == 2
    rules = sorted(e["rule"] for e in data["files"]["mail/bad.eml"])
    assert rules == [
        "headers.date-missing",
        "headers.message-id-missing",
        "headers.subject-all-caps",
        "headers.to-missing",
    ]

    # The same findings: the gate passes and says they are baselined.
    out = gate("mail", "--checks", "headers", "--baseline", "mailqa-baseline.json")
    assert out.exit_code == 0, out.stdout
    assert "(4 baselined, 0 ignored)" in out.stdout

    # Lines move (a header added on top): still the same findings.
    write(project, "mail/bad.eml", "X-Campaign: spring\n" + BROKEN_EML)
    assert gate("mail", "--checks", "headers", "--baseline", "mailqa-baseline.json").exit_code == 0

    # A new problem (a second From) fails, and only it is reported.
    write(project, "mail/bad.eml", "From: other@shop.example.com\n" + BROKEN_EML)
    out = gate("mail", "--checks", "headers", "--baseline", "mailqa-baseline.json")
    assert out.exit_code == 1
    reported = [line for line in out.stdout.splitlines() if "headers." in line]
    assert len(reported) == 1 and "headers.duplicate-header" in reported[0]

    # A new file with old kinds of problems is new too.
    write(project, "mail/copy.eml", BROKEN_EML)
    out = gate("mail", "--checks", "headers", "--baseline", "mailqa-baseline.json")
    assert "FAIL mail/copy.eml" in out.stdout


# links.private-host, once per link; the line is longer than a snippet.
LINK = (
    '<p>Please <a href="https://yourapp.example/confirm">confirm your address</a> to start '
    "getting the newsletter every week.</p>"
)
TEMPLATE_WITH_A_LINK = f"""<!doctype html>
<html lang="en"><head><title>Hi</title></head>
<body>
<table><tr><td>
{LINK}
</td></tr></table>
</body>
</html>
"""


def _private_links(out_stdout: str) -> list[dict[str, object]]:
    (file,) = json.loads(out_stdout)["files"]
    return [f for f in file["findings"] if f["rule"] == "links.private-host"]


def test_a_baselined_finding_stays_baselined_when_lines_move(project: Path, gate: Gate) -> None:
    """Lines inserted above, the block re-indented into a wrapper: still the same finding.
    A second copy of it elsewhere is new: counts are kept."""
    write(project, "t.html", TEMPLATE_WITH_A_LINK)
    args = ["t.html", "--checks", "links", "--baseline", "b.json", "--fail-on", "info"]
    assert gate(*args, "--write-baseline").exit_code == 0
    body = TEMPLATE_WITH_A_LINK.split("<body>\n")[1].split("</body>")[0]
    moved = TEMPLATE_WITH_A_LINK.replace(
        body,
        "<!-- a new section -->\n\n\n<div>\n"
        + "".join(f"    {line}\n" for line in body.splitlines())
        + "</div>\n",
    )
    write(project, "t.html", moved)
    out = gate(*args, "--format", "json")
    assert out.exit_code == 0, out.stdout
    (finding,) = _private_links(out.stdout)
    assert finding["state"] == "baselined" and finding["line"] == 9


def test_a_second_identical_finding_elsewhere_is_new() -> None:
    """Fingerprints leave the line out, so two copies of one problem share one: the
    baseline's count says how many of them are old."""
    html = f"<!doctype html>\n<body>\n{LINK}\n<p>between</p>\n    {LINK}\n</body>\n"
    message = ParsedMessage(wrap_html(html, "t"))
    finding = Finding(
        rule="links.private-host", title="Link to yourapp.example", severity=Severity.ERROR
    )
    column = LINK.index("<a")
    copies = [
        finding.model_copy(update={"locations": [Location(line=line, column=column + indent)]})
        for line, indent in ((3, 0), (5, 4))
    ]
    result = CheckResult(name="links", status=Status.FAILED, findings=copies)
    report = Report.from_results(summarize(message), [result])
    once = evaluate("t.html", "t.html", report, GateConfig(), is_template=True, message=message)
    first, second = once.findings
    assert first.fingerprint == second.fingerprint
    judged = evaluate(
        "t.html",
        "t.html",
        report,
        GateConfig(),
        is_template=True,
        baseline_counts={first.fingerprint: 1},
        message=message,
    )
    assert [f.state for f in judged.findings] == [FindingState.BASELINED, FindingState.NEW]


def test_a_version_1_baseline_still_matches_and_is_rewritten(project: Path, gate: Gate) -> None:
    """Version 1 fingerprints hashed the snippet around the finding: such a baseline keeps
    its findings baselined; --write-baseline rewrites it as version 2."""
    write(project, "t.html", TEMPLATE_WITH_A_LINK)
    args = ["t.html", "--checks", "links", "--baseline", "b.json", "--fail-on", "info"]
    report = json.loads(gate(*args[:3], "--format", "json").stdout)["files"][0]["report"]
    entries = []
    for finding in report["checks"]["links"]["findings"]:
        loc = finding["locations"][0] if finding["locations"] else None
        anchor = (loc or {}).get("snippet") or finding["message"] or finding["title"]
        part = loc["part"] if loc else ""
        text = "\0".join(("links", finding["rule"], part, " ".join(anchor.split())))
        digest = hashlib.sha256(text.encode()).hexdigest()[:20]
        entries.append({"fingerprint": digest, "rule": finding["rule"], "check": "links"})
    old = {"version": 1, "tool": "mailqa", "files": {"t.html": entries}}
    write(project, "b.json", json.dumps(old))
    write(project, "t.html", "<!-- moved -->\n\n" + TEMPLATE_WITH_A_LINK)
    out = gate(*args, "--format", "json")
    assert out.exit_code == 0, out.stdout
    assert _private_links(out.stdout)[0]["state"] == "baselined"

    assert gate(*args, "--write-baseline").exit_code == 0
    rewritten = json.loads((project / "b.json").read_text())
    assert rewritten["version"] == 2
    assert {e["fingerprint"] for e in rewritten["files"]["t.html"]} != {
        e["fingerprint"] for e in entries
    }
    assert gate(*args).exit_code == 0


def test_baseline_from_the_configuration_resolves_from_its_folder(
    project: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project, "mailqa.toml", "checks = ['headers']\nbaseline = 'ci/baseline.json'\n")
    write(project, "bad.eml", BROKEN_EML)
    out = gate("bad.eml")
    assert out.exit_code == 2 and "create it with --write-baseline" in out.stderr
    assert gate("bad.eml", "--write-baseline").exit_code == 0
    assert (project / "ci/baseline.json").is_file()
    monkeypatch.chdir(write(project, "sub/x.txt", "").parent)
    out = gate("../bad.eml")
    assert out.exit_code == 0, out.stdout


def test_broken_baseline_is_a_usage_error(project: Path, gate: Gate) -> None:
    write(project, "ok.eml", CLEAN_EML)
    write(project, "b.json", "{not json")
    out = gate("ok.eml", "--baseline", "b.json")
    assert out.exit_code == 2 and "not readable JSON" in out.stderr
    write(project, "b.json", json.dumps({"version": 1, "files": {"x": [{"rule": "r"}]}}))
    out = gate("ok.eml", "--baseline", "b.json")
    assert out.exit_code == 2 and "invalid at 'files.x.0.fingerprint'" in out.stderr
    write(project, "b.json", json.dumps({"version": 9}))
    out = gate("ok.eml", "--baseline", "b.json")
    assert out.exit_code == 2 and "version 9" in out.stderr


def test_global_ignore_by_id_and_glob(project: Path, gate: Gate) -> None:
    write(project, "bad.eml", BROKEN_EML)
    out = gate("bad.eml", "--checks", "headers", "--ignore", "headers.date-missing")
    assert out.exit_code == 0  # the only error is ignored; warnings don't fail
    assert "date-missing" not in out.stdout and "(0 baselined, 1 ignored)" in out.stdout
    out = gate("bad.eml", "--checks", "headers", "--ignore", "headers.*", "--fail-on", "info")
    assert out.exit_code == 0 and "(0 baselined, 4 ignored)" in out.stdout
    out = gate("bad.eml", "--checks", "headers", "--ignore", "headers:*", "--fail-on", "info")
    assert out.exit_code == 0


def test_per_path_ignores_apply_only_to_matching_files(project: Path, gate: Gate) -> None:
    write(
        project,
        "mailqa.toml",
        "checks = ['headers']\n"
        "[per-path-ignores]\n"
        "'legacy/**/*.eml' = ['headers.date-missing']\n"
        "'*.draft.eml' = ['headers:*']\n",
    )
    write(project, "legacy/2019/old.eml", BROKEN_EML)
    write(project, "new/fresh.eml", BROKEN_EML)
    write(project, "new/idea.draft.eml", BROKEN_EML)
    out = gate(".")
    assert out.exit_code == 1
    assert "PASS legacy/2019/old.eml" in out.stdout
    assert "PASS new/idea.draft.eml" in out.stdout
    assert "FAIL new/fresh.eml" in out.stdout


def test_ignore_in_configuration_and_on_the_command_line_add_up(project: Path, gate: Gate) -> None:
    write(project, "mailqa.toml", "checks = ['headers']\nignore = ['headers.to-missing']\n")
    write(project, "bad.eml", BROKEN_EML)
    out = gate("bad.eml", "--ignore", "headers.date-missing")
    assert out.exit_code == 0
    assert "(0 baselined, 2 ignored)" in out.stdout


def _judged(
    check: str, rule: str, *, baseline: dict[str, int] | None = None, ignore: str = ""
) -> tuple[str, FindingState]:
    """One finding of ``check`` at the <html> tag of a template without lang: its
    fingerprint and state."""
    html = "<!doctype html>\n<html>\n<body><p>Hi</p></body>\n</html>\n"
    message = ParsedMessage(wrap_html(html, "t"))
    finding = Finding(
        rule=rule,
        title="No lang",
        severity=Severity.WARNING,
        locations=[Location(line=2, column=0, snippet="<html>")],
    )
    result = CheckResult(name=check, status=Status.WARNING, findings=[finding])
    report = Report.from_results(summarize(message), [result])
    config = GateConfig(ignore=[ignore] if ignore else [])
    (judged,) = evaluate(
        "t.html",
        "t.html",
        report,
        config,
        is_template=True,
        baseline_counts=baseline,
        message=message,
    ).findings
    return judged.fingerprint, judged.state


def test_rules_that_moved_to_another_check_keep_their_ignores_and_baselines() -> None:
    """lang, <title> and alt text were hygiene's rules before the accessibility check took
    them: an ignore or a baseline written for the hygiene id still applies."""
    old, _ = _judged("hygiene", "hygiene.missing-lang")
    new = ("accessibility", "accessibility.html-lang-missing")
    assert _judged(*new)[1] == FindingState.NEW
    assert _judged(*new, baseline={old: 1})[1] == FindingState.BASELINED
    assert _judged(*new, ignore="hygiene.missing-lang")[1] == FindingState.IGNORED
    assert _judged(*new, ignore="hygiene.missing-*")[1] == FindingState.IGNORED
