"""Every test of the OpenSPF suites for RFC 7208 and RFC 4408: result and explanation.

The suites come from the pyspf sdist, fetched by ``scripts/setup.sh --dev`` into the venv
(``tests.support.openspf``); without them collection fails, saying how to get them. Each
scenario's DNS is served by one loopback ``ZoneServer`` for the module, its ``TIMEOUT``
names left unanswered (a short lookup timeout makes them temperror quickly).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.openspf import (
    ScenarioServer,
    SpfCase,
    all_cases,
    describe_miss,
    run_mailqa,
    suite_paths,
)
from tests.support.zone_dns import ZoneServer

CASES = all_cases(suite_paths())


@pytest.fixture(scope="module")
def scenario_server() -> Iterator[ScenarioServer]:
    with ZoneServer() as server:
        yield ScenarioServer(server)


def test_both_suites_are_complete() -> None:
    """The 2014.04 suites: 203 tests for RFC 7208, 191 for RFC 4408."""
    counts = {suite: sum(c.suite == suite for c in CASES) for suite in ("rfc7208", "rfc4408")}
    assert counts == {"rfc7208": 203, "rfc4408": 191}
    assert sum(c.explanation is not None for c in CASES) == 44


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_openspf(scenario_server: ScenarioServer, case: SpfCase) -> None:
    verdict = await run_mailqa(scenario_server, case)
    assert case.result_ok(verdict.result), describe_miss(case, verdict)
    assert case.explanation_ok(verdict.explanation), describe_miss(case, verdict)
