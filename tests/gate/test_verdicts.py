"""The gate's verdicts on templates and messages: merge tags, sample links, --strict, impact."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gate.conftest import Gate, write

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><title>Welcome</title></head>
<body style="margin:0">
<table role="presentation" width="600"><tr><td style="padding:20px;cursor:pointer">
<p>Hello {{name}},</p>
<p><a href="{{action_url}}">Confirm your account</a></p>
<p><a href="https://example.com/help">Help</a> &middot;
<a href="mailto:?subject=Have%20a%20look">Tell a friend</a></p>
</td></tr></table>
</body></html>
"""


def as_message(html: str) -> str:
    return (
        "From: App <app@shop.test>\r\nTo: you@shop.test\r\nSubject: Welcome\r\n"
        "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@shop.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html
    )


def findings(project: Path, gate: Gate, *args: str) -> tuple[int, dict[str, dict[str, object]]]:
    out = gate(*args, "--checks", "html,links", "--format", "json", "--output", "report.json")
    report = json.loads((project / "report.json").read_text("utf-8"))
    [item] = report["files"]
    return out.exit_code, {f["rule"]: f for f in item["findings"]}


def test_merge_tags_and_sample_links_are_expected_in_a_template(project: Path, gate: Gate) -> None:
    write(project, "welcome.html", TEMPLATE)
    code, by_rule = findings(project, gate, "welcome.html")
    assert code == 0
    assert by_rule["links.template-placeholder"]["severity"] == "info"
    assert by_rule["links.example-host"]["severity"] == "warning"
    assert "expected until it is sent" in str(by_rule["links.example-host"]["message"])
    assert "links.invalid-mailto" not in by_rule  # mailto:?subject=... is a share link


def test_the_same_leftovers_fail_a_sent_message(project: Path, gate: Gate) -> None:
    write(project, "welcome.eml", as_message(TEMPLATE))
    code, by_rule = findings(project, gate, "welcome.eml")
    assert code == 1
    assert by_rule["links.template-placeholder"]["severity"] == "error"
    assert by_rule["links.example-host"]["severity"] == "error"


def test_a_scheme_alone_is_an_empty_link_and_a_bare_mailto_a_warning(
    project: Path, gate: Gate
) -> None:
    html = '<p><a href="https://">Shop</a> <a href="mailto:">Write</a></p>'
    write(project, "links.html", html)
    code, by_rule = findings(project, gate, "links.html")
    assert code == 0
    assert by_rule["links.empty-href"]["severity"] == "warning"
    assert "links.invalid-url" not in by_rule
    assert by_rule["links.invalid-mailto"]["severity"] == "warning"


def test_strict_fails_on_any_unsupported_feature(project: Path, gate: Gate) -> None:
    write(project, "t.html", TEMPLATE)
    assert gate("t.html", "--checks", "html").exit_code == 0
    out = gate("t.html", "--checks", "html", "--strict")
    assert out.exit_code == 1
    assert "error css-cursor" in out.stdout


def test_impact_per_project_from_the_configuration(project: Path, gate: Gate) -> None:
    write(project, "grid.html", '<div style="display:flex"><p>a</p><p>b</p></div>')
    failed = gate("grid.html", "--checks", "html")
    assert failed.exit_code == 1
    assert "error css-display-flex" in failed.stdout
    assert "Outlook (Windows)" in failed.stdout
    write(project, "mailqa.toml", '[impact]\n"css-display-flex" = "enhancement"\n')
    assert gate("grid.html", "--checks", "html").exit_code == 0
    write(project, "mailqa.toml", '[impact]\n"css-display-flex" = "fatal"\n')
    bad = gate("grid.html", "--checks", "html")
    assert bad.exit_code == 2
    assert "html_impact" in bad.stderr and "not one of" in bad.stderr


def test_relative_assets_are_a_template_warning_but_a_missing_scheme_is_an_error(
    project: Path, gate: Gate
) -> None:
    html = (
        '<p><img src="images/logo.png" alt="Shop"> <a href="/account">Account</a> '
        '<a href="facebook.com/shop">Facebook</a></p>'
    )
    write(project, "assets.html", html)
    code, by_rule = findings(project, gate, "assets.html")
    assert code == 1  # facebook.com without https:// goes nowhere, in a template too
    assert by_rule["links.relative-url"]["severity"] == "warning"
    assert by_rule["links.missing-scheme"]["severity"] == "error"
    write(project, "assets.eml", as_message(html))
    _, sent = findings(project, gate, "assets.eml")
    assert sent["links.relative-url"]["severity"] == "error"


def test_a_cid_image_is_for_the_sender_to_attach_in_a_template(project: Path, gate: Gate) -> None:
    html = '<p><img src="cid:logo" alt="Shop"> Welcome</p>'
    write(project, "cid.html", html)
    code, by_rule = findings(project, gate, "cid.html")
    assert code == 0
    assert by_rule["links.cid-missing"]["severity"] == "warning"
    write(project, "cid.eml", as_message(html))
    code, sent = findings(project, gate, "cid.eml")
    assert code == 1  # a message without the part shows a broken image
    assert sent["links.cid-missing"]["severity"] == "error"
