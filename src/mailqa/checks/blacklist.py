"""DNS block lists (RFC 5782): is the sending IP, the sender domain or a linked domain listed?

Every enabled list of ``rules/dnsbl.yaml`` is self-tested (its listed test point must answer,
its clean test point must not) in the same round of lookups as the real targets, so a zone
that is dead, refuses our resolver or lists everything is reported ``unusable`` instead of
silently "clean". Error answers (127.255.255.0/24, Spamhaus DBL 127.0.1.255, URIBL 127.0.0.1)
are errors, never listings; a zone that times out is an error too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from mailqa.core.address import domain_of, is_public_ip, organizational_domain, sending_ip
from mailqa.core.budget import in_thread
from mailqa.core.check import CheckContext
from mailqa.core.clients import DnsAnswer, Resolver
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Finding, Severity, Status
from mailqa.core.rules import CheckRules
from mailqa.net.dns import reverse_ip_name
from mailqa.rules.dnsbl import DnsList, load_dnsbl

RULES = CheckRules(
    "blacklist",
    page="auth-and-blacklists.md#blacklist",
    category="blacklist",
    # Listings are the only errors: each costs 25 points.
    penalties={Severity.ERROR: 25.0},
)
LISTED = RULES.rule(
    "listed",
    "Listed on a block list",
    Severity.ERROR,
    "The sending IP, a sender domain or a linked domain is on a DNS block list; the "
    "finding links the list's delisting page.",
)
ALLOWLISTED = RULES.rule(
    "allowlisted",
    "On an allow list",
    Severity.INFO,
    "The sending IP is on a DNS allow list (DNSWL).",
)
ZONE_UNUSABLE = RULES.rule(
    "zone-unusable",
    "Block list could not be used",
    Severity.WARNING,
    "The list failed its self-test (RFC 5782); its results are unknown, not clean.",
    aliases=["zone_unusable"],
)
LOOKUP_ERROR = RULES.rule(
    "lookup-error",
    "Block list lookup failed",
    Severity.WARNING,
    "A lookup timed out, failed or was refused; that result is unknown.",
    aliases=["lookup_error"],
)
# RFC 5782 section 5: an IPv6 list lists ::FFFF:7F00:2 and does not list ::FFFF:7F00:1, queried
# in nibble form like any IPv6 target (not as the IPv4 address they map).
IPV6_TEST_LISTED = "::ffff:7f00:2"
IPV6_TEST_CLEAN = "::ffff:7f00:1"
_URL = re.compile(r"""(?i)\bhttps?://[^\s<>"'()]+""")
_URL_ATTRS = {"a": "href", "area": "href", "img": "src", "link": "href", "form": "action"}
ListStatus = Literal["listed", "clean", "error", "unusable"]


class ReturnCode(BaseModel):
    code: str
    meanings: list[str]


class ListResult(BaseModel):
    name: str
    zone: str
    kind: Literal["ip", "domain"]
    purpose: Literal["block", "allow"]
    target: str
    query: str
    status: ListStatus
    listed: bool
    codes: list[ReturnCode] = Field(default_factory=list)
    reason: str | None = Field(default=None, description="The list's TXT explanation.")
    error: str | None = None
    delist_url: str | None = None
    response_ms: float = 0.0


class ZoneHealth(BaseModel):
    name: str
    zone: str
    usable: bool
    problem: str | None = None
    test_points: list[str] = Field(
        default_factory=list, description="The listed and the clean test point queried."
    )


class BlacklistDetails(BaseModel):
    """The ``details`` payload of the blacklist check."""

    ip: str | None = None
    ip_note: str | None = None
    domains: list[str] = Field(default_factory=list)
    results: list[ListResult] = Field(default_factory=list)
    zones: list[ZoneHealth] = Field(default_factory=list)
    listed: int = 0
    errors: int = 0
    lists_version: str | None = None


@cache
def _lists(path: Path | None) -> tuple[str, tuple[DnsList, ...]]:
    data = load_dnsbl(path)
    return data.version, tuple(entry for entry in data.lists if entry.enabled)


def linked_domains(msg: ParsedMessage) -> list[str]:
    """Registered domains of the http(s) links and images of the message, in order."""
    urls: list[str] = []
    if msg.html:
        for element in msg.html_document.scan.elements:
            attr = _URL_ATTRS.get(element.name)
            value = element.get(attr) if attr else None
            if value is not None:
                urls.append(value.strip())
        urls += _URL.findall(msg.html)
    if msg.text:
        urls += _URL.findall(msg.text)
    domains: list[str] = []
    for url in urls:
        try:
            host = urlsplit(url).hostname
        except ValueError:
            continue
        if not host or not url.lower().startswith(("http://", "https://")):
            continue
        domain = _domain_target(host)
        if domain:
            domains.append(domain)
    return list(dict.fromkeys(domains))


def _domain_target(host: str) -> str | None:
    host = host.lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
        return None  # IP literals are not domain-list targets
    except ValueError:
        pass
    if "." not in host or not re.fullmatch(r"[a-z0-9._-]+", host):
        return None
    return organizational_domain(host)


def _interpret(
    entry: DnsList, answer: DnsAnswer
) -> tuple[ListStatus, list[ReturnCode], str | None]:
    """What one A answer from a list means: (status, listing codes, error)."""
    if answer.failed or answer.status == "invalid":
        return "error", [], answer.error or "lookup failed"
    if not answer.ok:
        return "clean", [], None
    errors = [c for c in answer.records if entry.is_error_code(c)]
    codes = [
        ReturnCode(code=c, meanings=entry.meanings(c)) for c in answer.records if c not in errors
    ]
    if not codes:
        return "error", [], f"the list answered with an error code ({', '.join(errors)})"
    return "listed", codes, None


def query_label(ip: str) -> str:
    """The DNSBL label of an address: reversed octets for IPv4, reversed nibbles for every
    IPv6 address, IPv4-mapped ones included (RFC 5782's IPv6 test points are mapped)."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv4Address):
        return reverse_ip_name(str(addr))
    return ".".join(reversed(addr.exploded.replace(":", "")))


def self_test_points(entry: DnsList, ip_version: int | None = None) -> tuple[str, str]:
    """(listed, clean) RFC 5782 test points of ``entry`` for targets of ``ip_version``."""
    if entry.kind == "ip" and ip_version == 6:
        custom = entry.test_listed
        listed = custom if custom and ":" in custom else None  # a list's own IPv6 test point
        return listed or IPV6_TEST_LISTED, IPV6_TEST_CLEAN
    return entry.listed_test_point, entry.clean_test_point


def _label(entry: DnsList, point: str) -> str:
    return query_label(point) if entry.kind == "ip" else point


def _zone_health(
    entry: DnsList, points: tuple[str, str], listed: DnsAnswer, clean: DnsAnswer
) -> ZoneHealth:
    health = ZoneHealth(name=entry.name, zone=entry.zone, usable=False, test_points=list(points))
    status, _, error = _interpret(entry, listed)
    if listed.failed:
        health.problem = f"self-test lookup failed: {listed.error}"
    elif status == "error":
        health.problem = f"self-test refused: {error}"
    elif status != "listed":
        health.problem = f"test point {points[0]} is not listed (zone dead or gone)"
    elif clean.failed:
        health.problem = f"self-test lookup failed: {clean.error}"
    elif not clean.void:
        health.problem = f"test point {points[1]} is listed: the zone lists everything"
    else:
        health.usable = True
    return health


@dataclass(frozen=True)
class BlacklistConfig:
    """What the blacklist check reads of the settings (``MAILQA_DNSBL_*``)."""

    dnsbl_file: Path | None
    """The DNS lists to ask instead of the bundled ones."""
    max_domains: int
    """Most domains (sender's and linked) looked up per message."""


class BlacklistCheck:
    name: ClassVar[str] = "blacklist"
    rules: ClassVar[CheckRules] = RULES
    needs_network: ClassVar[bool] = True
    default_enabled: ClassVar[bool] = True

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        resolver = ctx.resolver
        if resolver is None:
            return CheckResult.skipped(self.name, ctx.no_resolver_reason)
        config = ctx.config(BlacklistConfig)
        version, lists = _lists(config.dnsbl_file)
        details = BlacklistDetails(lists_version=version)

        ip = sending_ip(msg)
        if ip and is_public_ip(ip):
            details.ip = ip
        elif ip:
            details.ip_note = f"{ip} is not a public address: not looked up"
        else:
            details.ip_note = "sending IP unknown (no client IP or public Received hop)"
        sender_domains = [
            _domain_target(d)
            for d in (domain_of(msg.envelope.mail_from), domain_of(msg.from_address))
            if d
        ]
        # Extraction walks the whole body: in a thread, so the event loop stays live.
        domains = [d for d in sender_domains if d] + await in_thread(linked_domains, msg)
        details.domains = list(dict.fromkeys(domains))[: config.max_domains]

        await self._lookup(resolver, lists, details)
        return self._result(details)

    async def _lookup(
        self, resolver: Resolver, lists: tuple[DnsList, ...], details: BlacklistDetails
    ) -> None:
        plan: list[tuple[DnsList, str, str]] = []  # (list, target, query name)
        # (list, (listed, clean) test points, (listed, clean) query names)
        tests: list[tuple[DnsList, tuple[str, str], tuple[str, str]]] = []
        version = ipaddress.ip_address(details.ip).version if details.ip else None
        for entry in lists:
            targets: list[tuple[str, str]] = []
            if entry.kind == "ip" and details.ip:
                if version == 4 or entry.ipv6:
                    targets.append((details.ip, query_label(details.ip)))
            elif entry.kind == "domain":
                targets += [(d, d) for d in details.domains]
            if not targets:
                continue
            points = self_test_points(entry, version if entry.kind == "ip" else None)
            listed_q, clean_q = (f"{_label(entry, p)}.{entry.zone}" for p in points)
            tests.append((entry, points, (listed_q, clean_q)))
            plan += [(entry, target, f"{label}.{entry.zone}") for target, label in targets]

        test_names = [q for _, _, pair in tests for q in pair]
        answers = await resolver.query_many(
            [(q, "A") for q in test_names] + [(q, "A") for _, _, q in plan]
        )
        test_answers = dict(zip(test_names, answers[: len(test_names)], strict=True))
        health: dict[str, ZoneHealth] = {}
        for entry, points, (listed_q, clean_q) in tests:
            health[entry.name] = _zone_health(
                entry, points, test_answers[listed_q], test_answers[clean_q]
            )
        details.zones = list(health.values())

        results: list[ListResult] = []
        for (entry, target, query), answer in zip(plan, answers[len(test_names) :], strict=True):
            zone = health[entry.name]
            status, codes, error = _interpret(entry, answer)
            if status != "error" and not zone.usable:
                status, codes, error = "unusable", [], zone.problem
            results.append(
                ListResult(
                    name=entry.name,
                    zone=entry.zone,
                    kind=entry.kind,
                    purpose=entry.purpose,
                    target=target,
                    query=query,
                    status=status,
                    listed=status == "listed",
                    codes=codes,
                    error=error,
                    delist_url=entry.delist_url,
                    response_ms=answer.elapsed_ms,
                )
            )
        listed = [r for r in results if r.listed]
        reasons = await asyncio.gather(*(resolver.txt(r.query) for r in listed))
        for result, reason in zip(listed, reasons, strict=True):
            if reason.ok:
                result.reason = " ".join(reason.records)[:500]
        details.results = results
        details.listed = sum(1 for r in results if r.listed and r.purpose == "block")
        details.errors = sum(1 for r in results if r.status in ("error", "unusable"))

    def _result(self, d: BlacklistDetails) -> CheckResult:
        findings: list[Finding] = []
        for r in d.results:
            meanings = "; ".join(m for c in r.codes for m in c.meanings)
            if r.listed and r.purpose == "block":
                findings.append(
                    LISTED.finding(
                        f"{r.name} ({r.zone}) lists {r.target}: {meanings}."
                        + (f" {r.reason}" if r.reason else ""),
                        title=f"{r.target} is listed on {r.name}",
                        url=r.delist_url,
                        data={
                            "list": r.name,
                            "zone": r.zone,
                            "target": r.target,
                            "codes": [c.code for c in r.codes],
                        },
                    )
                )
            elif r.listed:
                findings.append(
                    ALLOWLISTED.finding(
                        f"{r.name} vouches for {r.target}: {meanings}.",
                        title=f"{r.target} is on the allow list {r.name}",
                        data={"list": r.name, "target": r.target},
                    )
                )
        for zone in d.zones:
            if not zone.usable:
                findings.append(
                    ZONE_UNUSABLE.finding(
                        f"{zone.zone}: {zone.problem}. Its results are unknown, not clean.",
                        title=f"{zone.name} could not be used",
                        data={"list": zone.name, "zone": zone.zone},
                    )
                )
        for r in d.results:
            if r.status == "error" and all(z.usable for z in d.zones if z.name == r.name):
                findings.append(
                    LOOKUP_ERROR.finding(
                        f"{r.zone}: {r.error}",
                        title=f"{r.name} lookup for {r.target} failed",
                        data={"list": r.name, "target": r.target},
                    )
                )
        checked = len(d.results)
        summary = (
            f"{d.listed} listing(s) in {checked} lookups"
            + (f", {d.errors} unknown" if d.errors else "")
            + (f" (IP {d.ip}" if d.ip else " (no IP")
            + f", {len(d.domains)} domains)"
        )
        details: dict[str, Any] = d.model_dump()
        if checked and d.errors == checked:
            return CheckResult(
                name=self.name,
                status=Status.ERRORED,
                summary=summary,
                error="every DNS list lookup failed",
                retryable=True,
                findings=findings,
                details=details,
            )
        return CheckResult.from_findings(
            self.name,
            findings,
            RULES.penalties,
            summary=summary,
            details=details,
            retryable=d.errors > 0,
        )


def blacklists_report_info(result: CheckResult | None) -> dict[str, Any]:
    """The blacklist section in Mailtrap's message shape:
    ``{result: success|pending|error, domain, ip, report: [{name, url, in_black_list}]}``."""
    if result is None:
        return {"result": "pending", "domain": None, "ip": None, "report": []}
    if result.status in (Status.ERRORED, Status.SKIPPED) and not result.details.get("results"):
        return {"result": "error", "domain": None, "ip": None, "report": []}
    details = BlacklistDetails.model_validate(result.details)
    report: dict[str, dict[str, Any]] = {}
    for r in details.results:
        if r.purpose != "block":
            continue
        row = report.setdefault(
            r.name, {"name": r.name, "url": r.delist_url or "", "in_black_list": False}
        )
        row["in_black_list"] = bool(row["in_black_list"] or r.listed)
    return {
        "result": "error" if result.status == Status.ERRORED else "success",
        "domain": details.domains[0] if details.domains else None,
        "ip": details.ip,
        "report": list(report.values()),
    }
