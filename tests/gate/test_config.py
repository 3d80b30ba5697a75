"""Configuration: discovery upwards, [tool.mailqa] vs mailqa.toml, --config, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.gate.conftest import BROKEN_EML, CLEAN_EML, WARNING_EML, Gate, write

from mailqa.cli.config import find_config, load_config
from mailqa.core.errors import ConfigError


def test_mailqa_toml_is_found_from_a_subfolder(
    project: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project, "mailqa.toml", 'checks = ["headers"]\nfail-on = "warning"\n')
    sub = project / "mail" / "receipts"
    write(sub, "warn.eml", WARNING_EML)
    monkeypatch.chdir(sub)
    assert find_config(sub) == project / "mailqa.toml"
    out = gate("warn.eml")
    assert out.exit_code == 1  # fail-on = warning came from the file
    assert "[headers]" in out.stdout and "[links]" not in out.stdout


def test_pyproject_tool_table_is_read(project: Path, gate: Gate) -> None:
    write(project, "pyproject.toml", '[project]\nname = "x"\n\n[tool.mailqa]\nfail_on = "never"\n')
    write(project, "bad.eml", BROKEN_EML)
    loaded = load_config()
    assert loaded.path == project / "pyproject.toml"
    assert loaded.config.fail_on == "never"  # snake_case accepted
    assert gate("bad.eml", "--checks", "headers").exit_code == 0


def test_pyproject_without_the_table_is_passed_over(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project, "mailqa.toml", "fail-on = 'info'\n")
    inner = project / "pkg"
    write(inner, "pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    monkeypatch.chdir(inner)
    assert load_config().path == project / "mailqa.toml"


def test_mailqa_toml_wins_over_pyproject_in_the_same_folder(project: Path) -> None:
    write(project, "pyproject.toml", "[tool.mailqa]\nfail-on = 'never'\n")
    write(project, "mailqa.toml", "fail-on = 'info'\n")
    assert load_config().config.fail_on == "info"


def test_explicit_config_overrides_discovery(project: Path, gate: Gate) -> None:
    write(project, "mailqa.toml", "fail-on = 'never'\n")
    write(project, "ci/strict.toml", "fail-on = 'warning'\nchecks = ['headers']\n")
    write(project, "warn.eml", WARNING_EML)
    assert gate("warn.eml", "--checks", "headers").exit_code == 0
    assert gate("warn.eml", "--config", "ci/strict.toml").exit_code == 1


def test_command_line_overrides_the_file(project: Path, gate: Gate) -> None:
    write(project, "mailqa.toml", "fail-on = 'warning'\nchecks = ['headers']\n")
    write(project, "warn.eml", WARNING_EML)
    assert gate("warn.eml").exit_code == 1
    assert gate("warn.eml", "--fail-on", "error").exit_code == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fail-onn = 'error'\n", "unknown key 'fail-onn' (did you mean 'fail-on'?)"),
        ("fail-on = 'sometimes'\n", "key 'fail-on': Input should be 'error', 'warning'"),
        ("min-html-score = 120\n", "key 'min-html-score': Input should be less than or equal"),
        ("checks = ['headers', 'nope']\n", "key 'checks': unknown check(s) nope"),
        ("ignore = 'headers.to-missing'\n", "key 'ignore': Input should be a valid list"),
        ("[per-path-ignores]\n'a/*.html' = 3\n", "key 'per-path-ignores.a/*.html'"),
        ("jobs = 0\n", "key 'jobs'"),
        ("fail-on = \n", "not valid TOML"),
    ],
)
def test_bad_configuration_exits_2_naming_the_key(
    project: Path, gate: Gate, text: str, message: str
) -> None:
    write(project, "mailqa.toml", text)
    write(project, "ok.eml", CLEAN_EML)
    out = gate("ok.eml")
    assert out.exit_code == 2, out.stdout
    assert message in out.stderr
    assert "mailqa.toml" in out.stderr


def test_missing_explicit_config_and_missing_table_are_errors(project: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(project / "nope.toml")
    write(project, "pyproject.toml", "[project]\nname = 'x'\n")
    with pytest.raises(ConfigError, match=r"no \[tool.mailqa\] table"):
        load_config(project / "pyproject.toml")


def test_paths_from_the_configuration_resolve_from_its_folder(
    project: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project, "mailqa.toml", "paths = ['mail']\nchecks = ['headers']\n")
    write(project, "mail/bad.eml", BROKEN_EML)
    monkeypatch.chdir(write(project, "docs/readme.txt", "").parent)
    out = gate()
    assert out.exit_code == 1
    assert "FAIL ../mail/bad.eml" in out.stdout  # named relative to the working directory


def test_configuration_reaches_the_service_settings(project: Path) -> None:
    from mailqa.cli.check_cmd import _settings
    from mailqa.cli.config import parse_config

    config = parse_config(
        {
            "online": True,
            "link-allow": ["staging.internal", "10.0.0.0/8"],
            "spamd-url": "tcp://127.0.0.1:7830",
            "check-timeout": 12,
        },
        "mailqa.toml",
    )
    settings = _settings(config)
    assert settings.offline is False
    assert settings.link_allow == ["staging.internal", "10.0.0.0/8"]
    assert settings.spamd_url == "tcp://127.0.0.1:7830"
    assert settings.check_timeout == 12
    assert _settings(parse_config({}, "mailqa.toml")).offline is True
