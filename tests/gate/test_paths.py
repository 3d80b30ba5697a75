"""Path arguments: folders, globs, stdin, excludes, duplicates; positions in .eml files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.gate.conftest import BROKEN_EML, CLEAN_EML, TEMPLATE_WITH_PRIVATE_LINK, Gate, write

from mailqa.cli.inputs import is_message
from mailqa.cli.paths import expand_paths, path_matches


def test_folders_are_walked_for_templates_and_messages(project: Path) -> None:
    write(project, "t/a.html", "<p>a</p>")
    write(project, "t/deep/b.htm", "<p>b</p>")
    write(project, "t/deep/c.eml", CLEAN_EML)
    write(project, "t/notes.txt", "not mail")
    write(project, "t/.cache/d.html", "<p>hidden</p>")
    assert expand_paths(["t"]) == ["t/a.html", "t/deep/b.htm", "t/deep/c.eml"]


def test_globs_duplicates_and_excludes(project: Path) -> None:
    write(project, "t/a.html", "<p>a</p>")
    write(project, "t/x/b.html", "<p>b</p>")
    write(project, "t/vendor/c.html", "<p>c</p>")
    assert expand_paths(["t/*.html"]) == ["t/a.html"]
    assert expand_paths(["t/**/*.html", "t/a.html"]) == [
        "t/a.html",
        "t/vendor/c.html",
        "t/x/b.html",
    ]
    assert expand_paths(["t"], exclude=["vendor/"], root=project) == ["t/a.html", "t/x/b.html"]


def test_path_globs_follow_gitignore_habits() -> None:
    assert path_matches("a/b/c.html", "a/**/*.html")
    assert path_matches("a/c.html", "a/**/*.html")
    assert not path_matches("a/b/c.html", "a/*.html")
    assert path_matches("deep/x/y.draft.eml", "*.draft.eml")  # no slash: any folder
    assert path_matches("legacy/x.html", "legacy/")
    assert path_matches("src/legacy/x.html", "legacy/")
    assert not path_matches("legacyx/x.html", "legacy/")
    assert not path_matches("src/legacy/x.html", "/legacy/x.html")
    assert path_matches("a/b.html", "./a/[ab].html")


def test_stdin_template_and_message(project: Path, gate: Gate) -> None:
    out = gate("-", "--checks", "links", stdin=TEMPLATE_WITH_PRIVATE_LINK)
    assert out.exit_code == 1
    assert "<stdin>:4:" in out.stdout and "links.private-host" in out.stdout
    out = gate("-", "--checks", "headers", stdin=BROKEN_EML)
    assert out.exit_code == 1 and "headers.date-missing" in out.stdout
    out = gate("-", "-", stdin=CLEAN_EML)
    assert out.exit_code == 2 and "only once" in out.stderr


HTML_BODY_EML = (
    "From: Shop <news@shop.example.com>\r\nTo: ann@example.org\r\nSubject: Hi\r\n"
    "X-Long: folded\r\n  onto a second line\r\nContent-Type: text/html\r\n\r\n"
    "<!doctype html><p>Hi</p>\r\n"
)


@pytest.mark.parametrize(
    "text",
    [
        "<p>Hi</p>\n",
        "Hi there,\n<p>welcome</p>\n",
        "<!-- preheader: hidden -->\n<table><tr><td>Hi</td></tr></table>\n",
        "\ufeff<!doctype html>\n<p>Hi</p>\n",
        "\n\nSubject: a blank line first\n\nbody\n",
        "<p>Note: this looks a bit like a header</p>\n",
        "Dear Ann: welcome\n<p>Hi</p>\n",  # a name with a space is no field name
        "",
    ],
)
def test_stdin_without_a_header_is_a_template(text: str) -> None:
    assert not is_message(text.encode())


@pytest.mark.parametrize(
    "text",
    [
        HTML_BODY_EML,
        CLEAN_EML,
        "From sender@example.org Mon Nov 23 10:00:00 2026\n" + CLEAN_EML,  # mbox separator
        "Subject: only a header\n",
    ],
)
def test_stdin_with_a_header_is_a_message(text: str) -> None:
    assert is_message(text.encode())


def test_stdin_kind_decides_the_checks_run(project: Path, gate: Gate) -> None:
    """A template skips the headers check (its headers would be the wrapper's)."""
    for text, template in [
        ("<p>Hi</p>\n", True),
        ("<!-- hi -->\n<p>Hi</p>\n", True),
        ("Hello,\n<p>Hi</p>\n", True),
        (HTML_BODY_EML, False),
    ]:
        out = gate("-", "--format", "json", "--fail-on", "never", stdin=text)
        (result,) = json.loads(out.stdout)["files"]
        assert result["template"] is template, text
        checks = {f["check"] for f in result["findings"]}
        assert ("headers" in checks) is not template, text


def test_empty_folder_is_a_usage_error(project: Path, gate: Gate) -> None:
    (project / "empty").mkdir()
    out = gate("empty")
    assert out.exit_code == 2 and "no .html, .htm or .eml files" in out.stderr


def test_eml_findings_point_at_lines_of_the_file(project: Path, gate: Gate) -> None:
    """An unencoded HTML part maps line for line; header findings point at the header."""
    html = TEMPLATE_WITH_PRIVATE_LINK
    eml = (
        "From: Shop <news@shop.example.com>\nTo: ann@example.org\n"
        "Subject: ALL CAPS SUBJECT LINE HERE\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n"
        "Message-ID: <a@shop.example.com>\nMIME-Version: 1.0\n"
        "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + html
    )
    path = write(project, "m.eml", eml)
    out = gate("m.eml", "--checks", "headers,links", "--fail-on", "info")
    lines = path.read_text().splitlines()
    link = next(x for x in out.stdout.splitlines() if "links.private-host" in x)
    number = int(link.split(":")[1])
    assert "yourapp.example" in lines[number - 1]
    caps = next(x for x in out.stdout.splitlines() if "headers.subject-all-caps" in x)
    assert lines[int(caps.split(":")[1]) - 1].startswith("Subject:")


def test_template_findings_use_the_template_lines(project: Path, gate: Gate) -> None:
    write(project, "welcome.html", TEMPLATE_WITH_PRIVATE_LINK)
    out = gate("welcome.html", "--checks", "headers,links")
    assert out.exit_code == 1
    column = TEMPLATE_WITH_PRIVATE_LINK.splitlines()[3].index("<a ") + 1  # 1-based
    assert f"welcome.html:4:{column}: error links.private-host" in out.stdout
    assert "[headers]" not in out.stdout  # the wrapper's headers are not the template's
