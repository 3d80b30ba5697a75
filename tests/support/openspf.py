"""The OpenSPF conformance suites (RFC 7208 and RFC 4408) as cases to run on a ``ZoneServer``.

Each YAML document of a suite is a scenario: ``zonedata`` and tests giving ``host`` (the
client IP), ``mailfrom``, ``helo``, the acceptable ``result`` (one or a list) and sometimes
the expected ``explanation``. ``scripts/setup.sh --dev`` fetches the suites from the pyspf
sdist on PyPI into the venv (``suites_dir()``); the conformance test and
``scripts/spf_conformance.py`` read them through this module.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mailqa.net.dns import DnsResolver
from mailqa.net.spf import check_spf

from .zone_dns import ZoneData, ZoneServer, openspf_zone

SUITE_FILES = ("rfc7208-tests.yml", "rfc4408-tests.yml")
# The suites' drivers set the receiver's default explanation (given when a fail has no
# usable exp=) to this word; mailqa gives no explanation then.
DEFAULT_EXPLANATION = "DEFAULT"
# Short, so that the suites' TIMEOUT names give temperror quickly.
LOOKUP_TIMEOUT = 1.5  # answered names come back in ms; a loaded machine needs slack


def suites_dir() -> Path:
    """Where ``scripts/setup.sh --dev`` puts the suites: ``conformance/spf`` in the venv that
    runs the tests."""
    return Path(sys.prefix) / "conformance" / "spf"


def suite_paths() -> list[Path]:
    """The installed suites; raises ``FileNotFoundError`` saying how to fetch them."""
    folder = suites_dir()
    paths = [folder / name for name in SUITE_FILES]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"OpenSPF suites {', '.join(missing)} missing from {folder}: run "
            "scripts/setup.sh --dev (or scripts/fetch_spf_suites.sh) to fetch them"
        )
    return paths


@dataclass(frozen=True)
class SpfCase:
    """One test of a suite."""

    suite: str  # "rfc7208"
    scenario: int  # the index of its YAML document
    name: str
    zone: ZoneData
    host: str
    mailfrom: str | None
    helo: str | None
    results: tuple[str, ...]
    explanation: str | None  # as the suite gives it (DEFAULT_EXPLANATION included)

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.scenario}/{self.name}"

    def result_ok(self, result: str) -> bool:
        return result in self.results

    def explanation_ok(self, explanation: str | None) -> bool:
        """``explanation``: what the implementation gave, None for none (or its default)."""
        if self.explanation is None:
            return True
        if self.explanation == DEFAULT_EXPLANATION:
            return explanation is None
        return explanation == self.explanation


def load_suite(path: Path) -> list[SpfCase]:
    suite = path.name.removesuffix(".yml").removesuffix("-tests")
    cases: list[SpfCase] = []
    with path.open(encoding="utf-8") as stream:
        for index, doc in enumerate(yaml.safe_load_all(stream)):
            zone = openspf_zone(doc.get("zonedata") or {})
            tests: dict[str, dict[str, Any]] = doc["tests"]
            for name, test in tests.items():
                result = test["result"]
                cases.append(
                    SpfCase(
                        suite=suite,
                        scenario=index,
                        name=name,
                        zone=zone,
                        host=str(test["host"]),
                        mailfrom=test.get("mailfrom"),
                        helo=test.get("helo"),
                        results=(result,) if isinstance(result, str) else tuple(result),
                        explanation=test.get("explanation"),
                    )
                )
    return cases


class ScenarioServer:
    """A ``ZoneServer`` serving the scenario of the case at hand, loaded when it changes."""

    def __init__(self, server: ZoneServer) -> None:
        self.server = server
        self._loaded: tuple[str, int] | None = None

    def serve(self, case: SpfCase) -> None:
        if self._loaded != (case.suite, case.scenario):
            self.server.load(case.zone)
            self._loaded = (case.suite, case.scenario)


@dataclass(frozen=True)
class Verdict:
    result: str
    explanation: str | None
    reason: str = ""


async def run_mailqa(server: ScenarioServer, case: SpfCase) -> Verdict:
    """mailqa's SPF for ``case``, on a fresh resolver (no answers cached across cases)."""
    server.serve(case)
    resolver = DnsResolver([server.server.address], timeout=LOOKUP_TIMEOUT)
    outcome = await check_spf(resolver, case.host, case.mailfrom, case.helo)
    return Verdict(outcome.result, outcome.explanation, outcome.reason)


@dataclass
class Score:
    """How many cases of a suite an implementation passed."""

    suite: str
    total: int = 0
    results: int = 0  # the result acceptable
    with_explanations: int = 0  # and the explanation as expected, when one is

    def add(self, case: SpfCase, verdict: Verdict) -> bool:
        self.total += 1
        if not case.result_ok(verdict.result):
            return False
        self.results += 1
        if not case.explanation_ok(verdict.explanation):
            return False
        self.with_explanations += 1
        return True


def describe_miss(case: SpfCase, verdict: Verdict) -> str:
    want = "/".join(case.results)
    text = f"{case.id}: {verdict.result} (want {want})"
    if case.explanation is not None:
        text += f", explanation {verdict.explanation!r} (want {case.explanation!r})"
    return text + (f": {verdict.reason}" if verdict.reason else "")


def all_cases(paths: Sequence[Path]) -> list[SpfCase]:
    return [case for path in paths for case in load_suite(path)]
