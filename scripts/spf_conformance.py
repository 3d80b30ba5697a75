"""Score SPF evaluators on OpenSPF conformance suites: N/N per suite, for results alone and
for results with explanations (where a test gives one).

    scripts/spf_conformance.py PATH [PATH...] [--peer pyspf] [--verbose]

PATH: a suite (``rfc7208-tests.yml``, ``rfc4408-tests.yml``; ``scripts/setup.sh --dev`` puts
them in ``.venv/conformance/spf``). mailqa is always scored; ``--peer pyspf`` scores pyspf
(a dev dependency) too, through the same loopback DNS server, as its own test driver runs it
(default explanation ``DEFAULT``). ``--verbose`` lists the tests each one misses.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import dns.resolver  # noqa: E402
from tests.support.openspf import (  # noqa: E402
    DEFAULT_EXPLANATION,
    LOOKUP_TIMEOUT,
    ScenarioServer,
    Score,
    SpfCase,
    Verdict,
    describe_miss,
    load_suite,
    run_mailqa,
)
from tests.support.zone_dns import ZoneServer  # noqa: E402

Runner = Callable[[ScenarioServer, SpfCase], Awaitable[Verdict]]
# pyspf's names of two results, from before RFC 4408 settled them (as its driver maps them).
PYSPF_OLD_RESULTS = {"unknown": "permerror", "error": "temperror"}


def pyspf_runner(server: ScenarioServer) -> Runner:
    """pyspf 2.0.14 on the server: it looks names up with dnspython's module-level resolver."""
    try:
        import spf  # type: ignore[import-untyped]
    except ImportError:
        raise SystemExit("--peer pyspf: pyspf is not installed (scripts/setup.sh --dev)") from None

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = server.server.port
    resolver.timeout = resolver.lifetime = LOOKUP_TIMEOUT
    dns.resolver.default_resolver = resolver

    async def run(server: ScenarioServer, case: SpfCase) -> Verdict:
        server.serve(case)
        query = spf.query(
            i=case.host, s=case.mailfrom or "", h=case.helo or "", timeout=LOOKUP_TIMEOUT
        )
        query.set_default_explanation(DEFAULT_EXPLANATION)
        result, _code, explanation = await asyncio.to_thread(query.check)
        result = PYSPF_OLD_RESULTS.get(result, result)
        return Verdict(result, None if explanation == DEFAULT_EXPLANATION else explanation)

    return run


async def score(server: ScenarioServer, run: Runner, path: Path, verbose: bool) -> Score:
    cases = load_suite(path)
    tally = Score(cases[0].suite if cases else path.name)
    for case in cases:
        verdict = await run(server, case)
        if not tally.add(case, verdict) and verbose:
            print("  miss", describe_miss(case, verdict))
    return tally


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument("--peer", choices=["pyspf"], action="append", default=[])
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args()
    perfect = True
    with ZoneServer() as zone_server:
        server = ScenarioServer(zone_server)
        runners: dict[str, Runner] = {"mailqa": run_mailqa}
        if "pyspf" in args.peer:
            runners["pyspf"] = pyspf_runner(server)
        for name, run in runners.items():
            for path in args.paths:
                tally = await score(server, run, path, args.verbose)
                print(
                    f"{name} {tally.suite}: results {tally.results}/{tally.total}, "
                    f"results and explanations {tally.with_explanations}/{tally.total}"
                )
                perfect &= name != "mailqa" or tally.with_explanations == tally.total
    return 0 if perfect else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
