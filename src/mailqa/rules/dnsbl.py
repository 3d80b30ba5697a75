"""Load and validate ``rules/dnsbl.yaml``: the DNS block and allow lists the checks query."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mailqa.core.errors import RulesError
from mailqa.rules import rules_file

_ZONE = re.compile(r"^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
ERROR_NET = ipaddress.ip_network("127.255.255.0/24")


class DnsList(BaseModel):
    """One DNS list (RFC 5782)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Z0-9][A-Z0-9_.-]*$")
    zone: str
    kind: Literal["ip", "domain"]
    purpose: Literal["block", "allow"] = "block"
    ipv6: bool = False
    codes: dict[str, str] = Field(default_factory=dict)
    bitmask: dict[int, str] = Field(default_factory=dict)
    error_codes: list[str] = Field(default_factory=list)
    test_listed: str | None = None
    delist_url: str | None = None
    enabled: bool = True
    note: str | None = None

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone = value.strip().rstrip(".").lower()
        if not _ZONE.match(zone):
            raise ValueError(f"not a DNS zone: {value!r}")
        return zone

    @field_validator("codes", mode="before")
    @classmethod
    def _codes(cls, value: object) -> object:
        if isinstance(value, dict):
            for code in value:
                _loopback(str(code))
            return {str(k): str(v) for k, v in value.items()}
        return value

    @field_validator("error_codes")
    @classmethod
    def _errors(cls, value: list[str]) -> list[str]:
        for code in value:
            _loopback(code)
        return value

    @field_validator("bitmask")
    @classmethod
    def _bits(cls, value: dict[int, str]) -> dict[int, str]:
        for bit in value:
            if bit <= 0 or bit > 255 or bit & (bit - 1):
                raise ValueError(f"bitmask key {bit} is not a power of two up to 128")
        return value

    @model_validator(mode="after")
    def _one_scheme(self) -> DnsList:
        if self.codes and self.bitmask:
            raise ValueError(f"{self.name}: give codes or bitmask, not both")
        return self

    @property
    def listed_test_point(self) -> str:
        return self.test_listed or ("127.0.0.2" if self.kind == "ip" else "test")

    @property
    def clean_test_point(self) -> str:
        return "127.0.0.1" if self.kind == "ip" else "invalid"

    def is_error_code(self, code: str) -> bool:
        """An answer that says "refused" or "error" instead of a listing."""
        try:
            addr = ipaddress.ip_address(code)
        except ValueError:
            return True
        return addr not in LOOPBACK or addr in ERROR_NET or code in self.error_codes

    def meanings(self, code: str) -> list[str]:
        """What a (non-error) answer means for this list."""
        if code in self.codes:
            return [self.codes[code]]
        if self.bitmask:
            last = int(code.rsplit(".", 1)[1])
            found = [text for bit, text in sorted(self.bitmask.items()) if last & bit]
            if found:
                return found
        return [f"listed ({code})"]


class DnsListFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    lists: list[DnsList]

    @model_validator(mode="after")
    def _unique(self) -> DnsListFile:
        names = [entry.name for entry in self.lists]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate list names: {', '.join(duplicates)}")
        return self


def _loopback(code: str) -> None:
    try:
        addr = ipaddress.ip_address(code)
    except ValueError:
        raise ValueError(f"answer code {code!r} is not an IPv4 address") from None
    if addr not in LOOPBACK:
        raise ValueError(f"answer code {code} is not in 127.0.0.0/8")


def load_dnsbl(path: Path | None = None) -> DnsListFile:
    """The lists in ``path`` (default the bundled ``rules/dnsbl.yaml``), validated."""
    source = path or rules_file("dnsbl.yaml")
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"cannot read DNS lists {source}: {exc}") from exc
    try:
        return DnsListFile.model_validate(data)
    except ValidationError as exc:
        raise RulesError(f"invalid DNS lists {source}: {exc}") from exc
