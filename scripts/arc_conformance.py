"""Run the ValiMail ARC validation suite through mailqa's ARC verification.

    python scripts/arc_conformance.py PATH/arc-draft-validation-tests.yml [-v]

Each scenario's ``txt-records`` are served by the loopback DNS server of the tests
(``tests.support.zone_dns``); each message goes through ``read_arc_chain`` and
``verify_arc``, the functions the auth check uses, and its result is compared with the
expected ``cv``. Prints ``passed/total`` and every test that differs; exit status 1 when any
does. An expected ``cv`` that is not an RFC 8617 result (none, pass, fail) is marked as such.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import yaml  # noqa: E402
from tests.support.zone_dns import Record, ZoneServer  # noqa: E402

from mailqa.checks.auth.arc import read_arc_chain, verify_arc  # noqa: E402
from mailqa.checks.auth.details import ArcDetails  # noqa: E402
from mailqa.core.message import ParsedMessage  # noqa: E402
from mailqa.net.dns import DnsResolver  # noqa: E402

ARC_RESULTS = ("none", "pass", "fail")


def zone(txt_records: dict[str, Any] | None) -> dict[str, list[Record]]:
    """The scenario's TXT records; a list is one record of several character-strings."""
    out: dict[str, list[Record]] = {}
    for name, value in (txt_records or {}).items():
        strings = tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)
        out[name] = [Record("TXT", strings)]
    return out


def wire_format(text: str) -> bytes:
    """The suite's message as it would arrive: CRLF line ends."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


async def evaluate(resolver: DnsResolver, raw: bytes) -> ArcDetails:
    chain = read_arc_chain(ParsedMessage(raw).headers)
    keys = await resolver.prefetch_txt(chain.key_names)
    return verify_arc(raw, chain, keys)


async def run(scenarios: list[dict[str, Any]], verbose: bool) -> int:
    total, differing = 0, []
    with ZoneServer() as server:
        resolver = DnsResolver([server.address])
        for scenario in scenarios:
            server.load(zone(scenario.get("txt-records")))
            for name, test in (scenario.get("tests") or {}).items():
                total += 1
                expected = str(test.get("cv") or "").strip().lower()
                details = await evaluate(resolver, wire_format(str(test.get("message") or "")))
                line = f"{name}: expected {expected or '(empty)'}, got {details.result}"
                line += f" ({details.reason})" if details.reason else ""
                if details.result != expected:
                    if expected not in ARC_RESULTS:
                        line += " [the suite expects no RFC 8617 result: none, pass or fail]"
                    differing.append(line)
                elif verbose:
                    print("ok   " + line)
    print(f"{total - len(differing)}/{total}")
    for line in differing:
        print("FAIL " + line)
    return 1 if differing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="arc-draft-validation-tests.yml")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list passing tests")
    args = parser.parse_args()
    text = args.path.read_text(encoding="utf-8")
    scenarios = [s for s in yaml.safe_load_all(text) if s]
    return asyncio.run(run(scenarios, args.verbose))


if __name__ == "__main__":
    sys.exit(main())
