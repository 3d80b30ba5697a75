"""Gate configuration: ``[tool.mailqa]`` in ``pyproject.toml`` or a ``mailqa.toml``.

Discovery walks up from the working directory; in each folder a ``mailqa.toml`` wins over a
``pyproject.toml``, and a ``pyproject.toml`` without a ``[tool.mailqa]`` table is passed
over. Keys are kebab-case (``fail-on``); snake_case spellings are accepted too. Unknown keys
and bad values raise ``ConfigError`` naming the file and the key.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mailqa.core.errors import ConfigError

CONFIG_NAMES = ("mailqa.toml", "pyproject.toml")
FailOn = Literal["error", "warning", "info", "never"]


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class GateConfig(BaseModel):
    """What a project sets for ``mailqa check``. Every key is optional."""

    model_config = ConfigDict(extra="forbid", alias_generator=_kebab, populate_by_name=True)

    paths: list[str] = Field(
        default_factory=list,
        description="What to check when no path is given (relative to the config file).",
    )
    checks: list[str] | None = Field(
        None, description="Checks to run; default every offline check (plus spam when online)."
    )
    clients: list[str] | None = Field(
        None, description="Target email clients for the HTML check (globs like 'gmail.*')."
    )
    online: bool = Field(False, description="Run HTTP link checks, DNS checks and spam.")
    fail_on: FailOn = Field(
        "error",
        description="Lowest finding severity that fails the gate ('never': only "
        "thresholds and errored checks fail it).",
    )
    strict: bool = Field(
        False,
        description="Judge HTML features by support alone: any feature a target client lacks "
        "is an error, whatever its impact or the fallbacks present.",
    )
    impact: dict[str, str] = Field(
        default_factory=dict,
        description="Impact class per caniemail slug over the bundled judgement, e.g. "
        "{ css-position = 'harmless' } (harmless, enhancement, layout, content, interactive).",
    )
    min_html_score: float | None = Field(
        None, ge=0, le=100, description="Fail when the HTML support score is below this."
    )
    max_spam_score: float | None = Field(
        None, description="Fail when the spam score is above this (default: spamd's threshold)."
    )
    require: list[str] = Field(
        default_factory=list,
        description="Bulk-sender profiles each message must meet: gmail-bulk, yahoo-bulk, "
        "outlook-high-volume (most items need the online checks).",
    )
    ignore: list[str] = Field(
        default_factory=list,
        description="Rule ids to ignore everywhere: 'headers.to-missing', globs 'links.*', "
        "or a whole check 'html:*'.",
    )
    per_path_ignores: dict[str, list[str]] = Field(
        default_factory=dict, description="Path glob -> rule ids ignored in matching files."
    )
    exclude: list[str] = Field(
        default_factory=list, description="Path globs never checked (relative to the config)."
    )
    link_allow: list[str] | None = Field(
        None, description="Hosts and CIDRs the link checker may reach although not public."
    )
    dns_servers: list[str] | None = Field(
        None,
        description="DNS servers (host:port) of the auth and blacklist checks and of link "
        "hosts; default MAILQA_DNS_SERVERS, else the system resolver.",
    )
    spamd_url: str | None = Field(
        None, description="spamd of the spam check: tcp://host:port, unix:///path or /path."
    )
    baseline: str | None = Field(None, description="Baseline file (relative to the config).")
    check_timeout: float | None = Field(None, gt=0, description="Seconds each check may take.")
    jobs: int | None = Field(None, ge=1, description="Processes checking files at once.")

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        from mailqa.checks import BUILTIN_CHECKS

        unknown = [c for c in value if c not in BUILTIN_CHECKS]
        if unknown:
            raise ValueError(
                f"unknown check(s) {', '.join(unknown)}; available: {', '.join(BUILTIN_CHECKS)}"
            )
        return value

    @field_validator("require")
    @classmethod
    def _known_profiles(cls, value: list[str]) -> list[str]:
        from mailqa.core.compliance import PROFILES

        unknown = [p for p in value if p not in PROFILES]
        if unknown:
            raise ValueError(
                f"unknown profile(s) {', '.join(unknown)}; available: {', '.join(PROFILES)}"
            )
        return value

    @field_validator("link_allow")
    @classmethod
    def _link_allow(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            from mailqa.net.http.policy import AddressPolicy

            try:
                AddressPolicy.from_entries(value)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("dns_servers")
    @classmethod
    def _dns_servers(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        from mailqa.net.dns import parse_server

        servers = [v.strip() for v in value if v.strip()]
        for server in servers:
            try:
                parse_server(server)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return servers

    @field_validator("spamd_url")
    @classmethod
    def _spamd_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from mailqa.net.spamd.client import SpamdAddress

        url = value.strip()
        if url.startswith("/"):  # a socket path
            url = "unix://" + url
        try:
            SpamdAddress.parse(url)
        except ConfigError as exc:
            raise ValueError(str(exc).replace("unix:///path", "unix:///path or /path")) from None
        return url


# Command-line options whose name is not the key's.
OPTION_NAMES = {"dns-servers": "dns-server"}


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration and where it came from (relative paths resolve from
    ``root``)."""

    config: GateConfig = field(default_factory=GateConfig)
    path: Path | None = None
    root: Path = field(default_factory=Path.cwd)

    @property
    def source(self) -> str:
        if self.path is None:
            return "defaults"
        return (
            f"{self.path} [tool.mailqa]" if self.path.name == "pyproject.toml" else str(self.path)
        )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _table(path: Path, data: dict[str, Any]) -> dict[str, Any] | None:
    """The mailqa table of a parsed file: ``[tool.mailqa]`` in pyproject.toml, else the top."""
    if path.name != "pyproject.toml":
        return data
    tool = data.get("tool")
    if not isinstance(tool, dict):
        return None
    table = tool.get("mailqa")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.mailqa] must be a table")
    return table


def find_config(start: Path) -> Path | None:
    """The nearest mailqa.toml, or pyproject.toml holding [tool.mailqa], from ``start`` up."""
    for folder in (start, *start.parents):
        candidate = folder / "mailqa.toml"
        if candidate.is_file():
            return candidate
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = _read_toml(candidate)
            except ConfigError:
                return candidate  # a broken pyproject is reported, not skipped
            if _table(candidate, data) is not None:
                return candidate
    return None


def parse_config(table: dict[str, Any], source: str, *, options: bool = False) -> GateConfig:
    """Validate a mailqa table; errors name ``source`` and the offending key (``options``:
    the values came from command-line options, named ``--key``)."""
    spelled = {_kebab(k): k for k in table}
    normalized = {_kebab(k): v for k, v in table.items()}
    known = {f.alias or name for name, f in GateConfig.model_fields.items()}
    for key in normalized:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(
                f"{source}: unknown key '{spelled[key]}'{hint}; "
                f"known keys: {', '.join(sorted(known))}"
            )
    try:
        return GateConfig.model_validate(normalized)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            if loc:
                loc[0] = spelled.get(loc[0], loc[0])
            key = ".".join(loc) or "(top level)"
            message = err["msg"].removeprefix("Value error, ")
            if options:
                option = OPTION_NAMES.get(loc[0], loc[0]) if loc else key
                problems.append(f"option --{option}: {message}")
            else:
                problems.append(f"key '{key}': {message}")
        prefix = "" if options else f"{source}: "
        raise ConfigError(prefix + "; ".join(problems)) from exc


def load_config(explicit: Path | None = None, start: Path | None = None) -> LoadedConfig:
    """The configuration in force: ``explicit`` (``--config``) or the discovered file."""
    if explicit is not None:
        path = explicit
        if not path.is_file():
            raise ConfigError(f"configuration file not found: {path}")
    else:
        found = find_config(Path(os.path.abspath(start or Path.cwd())))
        if found is None:
            return LoadedConfig(root=Path(os.path.abspath(start or Path.cwd())))
        path = found
    data = _read_toml(path)
    table = _table(path, data)
    if table is None:
        raise ConfigError(f"{path}: no [tool.mailqa] table")
    loaded = LoadedConfig(path=path, root=Path(os.path.abspath(path)).parent)
    return LoadedConfig(
        config=parse_config(table, loaded.source), path=loaded.path, root=loaded.root
    )


__all__ = ["CONFIG_NAMES", "FailOn", "GateConfig", "LoadedConfig", "find_config", "load_config"]
