"""SPF (RFC 7208) evaluated on the shared async resolver.

``check_spf(resolver, ip, sender, helo)`` runs ``check_host()``: record selection, the whole
record parsed before use against the ABNF of RFC 7208 (a syntax error anywhere is
``permerror``: a control or non-ASCII character in a term, a domain-spec that does not end in
a valid top label or a macro, a bad macro), the mechanisms ``all include a mx ptr ip4 ip6
exists``, the ``redirect`` modifier, macros with transformers, the limit of 10 DNS-querying
terms and of 2 void lookups shared across includes, and ``temperror`` when a lookup fails.

On ``fail``, the ``exp=`` explanation of the record that decided (a redirect target's, never
an included record's) is fetched and expanded, ``%{c} %{r} %{t}`` included (section 6.2); a
missing, ambiguous or malformed explanation only means there is none.

Lookups go through ``DnsResolver``, so they are cached and run with its timeout.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from mailqa.core.clients import DnsAnswer, Resolver
from mailqa.net.dns import ptr_name

SpfResult = Literal["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_DNS_TERMS = 10
MAX_VOID_LOOKUPS = 2
MAX_MX_OR_PTR_NAMES = 10

QUALIFIERS: dict[str, SpfResult] = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
# Every pattern is used with fullmatch (``$`` would also match before a trailing newline).
_DIRECTIVE = re.compile(r"([+\-~?]?)(all|include|a|mx|ptr|ip4|ip6|exists)(?=\Z|[:/])(.*)", re.I)
_MODIFIER = re.compile(r"([a-z][a-z0-9_.\-]*)=(.*)", re.I)
_MACRO = re.compile(r"%(?:\{([a-z])(\d*)(r?)([.\-+,/_=]*)\}|%|_|-)", re.I)
_CIDR = re.compile(r"(.*?)(?:/(\d+))?(?://(\d+))?")
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)", re.I)
# A toplabel (RFC 7208 section 7.1: ``*alphanum ALPHA *alphanum`` or ``1*alphanum "-"
# *(alphanum / "-") alphanum``) is letters, digits and hyphens, neither first nor last a
# hyphen, and not digits alone. Each part is possessive, so a long label is read once.
_TOPLABEL = re.compile(r"(?!-)(?![0-9]*+\Z)[a-z0-9-]*+(?<!-)", re.I)
MACRO_LETTERS = "slodiphcrtv"
MAX_EXPLANATION_SOURCE = 2048  # longer TXT is no SMTP reply text: ignored, bounding expansion
MAX_EXPLANATION_CHARS = 512  # an SMTP reply line's length (RFC 5321 section 4.5.3.1.5)
EXPLANATION_ONLY_LETTERS = "crt"  # section 7.2: only in the explanation text fetched for exp=


class SpfError(Exception):
    """Stops evaluation with ``temperror`` or ``permerror``."""

    def __init__(self, result: Literal["temperror", "permerror"], reason: str) -> None:
        super().__init__(reason)
        self.result: Literal["temperror", "permerror"] = result
        self.reason = reason


@dataclass
class Term:
    qualifier: SpfResult
    mechanism: str
    argument: str | None  # domain-spec or network, without the leading ':'
    cidr4: int | None = None
    cidr6: int | None = None
    text: str = ""


@dataclass
class ParsedRecord:
    terms: list[Term]
    redirect: str | None = None
    explanation: str | None = None  # the exp= domain-spec


@dataclass(frozen=True)
class ExpModifier:
    """The ``exp=`` of the record whose term decided: its domain-spec and the domain of that
    record (``%{d}`` when it and its explanation are expanded)."""

    spec: str
    domain: str


@dataclass
class SpfOutcome:
    """The result of SPF for one identity, with how it was reached."""

    result: SpfResult
    domain: str | None
    identity: str  # "mailfrom" or "helo"
    sender: str | None = None
    record: str | None = None
    matched: str | None = None  # the term that decided, as written
    reason: str = ""
    dns_lookups: int = 0
    void_lookups: int = 0
    chain: list[str] = field(default_factory=list)  # "domain: record" for each visited domain
    explanation: str | None = None  # on fail: the domain's exp= text, expanded


def is_valid_domain(domain: str) -> bool:
    """A multi-label name whose labels are valid and whose last label is not all digits."""
    name = domain.rstrip(".")
    if not name or len(name) > 253 or "." not in name:
        return False
    labels = name.split(".")
    return all(_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def spf_records(answer: DnsAnswer) -> list[str]:
    """The SPF records among a TXT answer (RFC 7208 section 4.5: ``v=spf1`` alone or followed
    by a space); none when the lookup found nothing."""
    if not answer.ok:
        return []
    return [r for r in answer.records if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")]


def missing_target_reason(term: str, target: str) -> str:
    """The permerror reason of an include or redirect (``term`` as written: ``include:x``,
    ``redirect=x``) whose ``target`` publishes no SPF record. The auth check's record tree
    walk words its errors with it, which is how it tells the one an evaluation reported."""
    return f"{term}: {target} has no SPF record"


def parse_record(record: str) -> ParsedRecord:
    """Parse an SPF record; raises ``SpfError(permerror)`` on any syntax error, whose reason
    names the broken term."""
    parts = record.split(" ")
    if parts[0].lower() != "v=spf1":
        raise SpfError("permerror", "record does not start with v=spf1")
    parsed = ParsedRecord(terms=[])
    seen_modifiers: set[str] = set()
    for raw in parts[1:]:
        if not raw:
            continue
        _check_term_characters(raw)
        match = _DIRECTIVE.fullmatch(raw)
        if match:
            parsed.terms.append(_parse_directive(raw, match))
            continue
        mod = _MODIFIER.fullmatch(raw)
        if not mod:
            raise SpfError("permerror", f"unknown term {raw!r}")
        name, value = mod.group(1).lower(), mod.group(2)
        if name not in ("redirect", "exp"):
            _check_macro_string(value, raw)  # an unknown modifier: ignored, but well-formed
            continue
        if name in seen_modifiers:
            raise SpfError("permerror", f"{name}= given more than once: {raw!r}")
        seen_modifiers.add(name)
        if not value:
            raise SpfError("permerror", f"{name}= needs a domain: {raw!r}")
        _check_domain_spec(value, raw)
        if name == "redirect":
            parsed.redirect = value
        else:
            parsed.explanation = value
    return parsed


def _check_term_characters(raw: str) -> None:
    """Terms are visible ASCII separated by spaces only (RFC 7208 section 4.6.1)."""
    if not raw.isascii():
        raise SpfError("permerror", f"non-ASCII character in term {raw!r}")
    if not raw.isprintable():
        raise SpfError(
            "permerror", f"control character in term {raw!r} (terms are separated by spaces)"
        )


def _parse_directive(raw: str, match: re.Match[str]) -> Term:
    qualifier = QUALIFIERS[match.group(1) or "+"]
    mechanism = match.group(2).lower()
    rest = match.group(3)
    term = Term(qualifier, mechanism, None, text=raw)
    if mechanism == "all":
        if rest:
            raise SpfError("permerror", f"'all' takes no argument: {raw!r}")
        return term
    if mechanism in ("include", "exists"):
        if not rest.startswith(":") or len(rest) < 2:
            raise SpfError("permerror", f"{mechanism} needs a domain: {raw!r}")
        term.argument = rest[1:]
        _check_domain_spec(term.argument, raw)
        return term
    if mechanism in ("ip4", "ip6"):
        if not rest.startswith(":"):
            raise SpfError("permerror", f"{mechanism} needs a network: {raw!r}")
        try:
            network = ipaddress.ip_network(rest[1:], strict=False)
        except ValueError:
            raise SpfError("permerror", f"bad {mechanism} network: {raw!r}") from None
        if (mechanism == "ip4") != (network.version == 4) or ("/" in rest and _bad_prefix(rest)):
            raise SpfError("permerror", f"bad {mechanism} network: {raw!r}")
        term.argument = rest[1:]
        return term
    # a, mx, ptr: [":" domain-spec] and, for a/mx, dual CIDR lengths
    cidr = _CIDR.fullmatch(rest)
    assert cidr is not None  # the pattern matches any string
    spec, c4, c6 = cidr.groups()
    if mechanism == "ptr" and (c4 or c6):
        raise SpfError("permerror", f"ptr takes no CIDR length: {raw!r}")
    if spec:
        if not spec.startswith(":") or len(spec) < 2:
            raise SpfError("permerror", f"bad term {raw!r}")
        term.argument = spec[1:]
        _check_domain_spec(term.argument, raw)
    if c4 is not None:
        term.cidr4 = int(c4)
        if term.cidr4 > 32 or (len(c4) > 1 and c4.startswith("0")):
            raise SpfError("permerror", f"bad IPv4 CIDR length: {raw!r}")
    if c6 is not None:
        term.cidr6 = int(c6)
        if term.cidr6 > 128 or (len(c6) > 1 and c6.startswith("0")):
            raise SpfError("permerror", f"bad IPv6 CIDR length: {raw!r}")
    return term


def _bad_prefix(rest: str) -> bool:
    prefix = rest.rsplit("/", 1)[1]
    return not prefix.isdigit() or (len(prefix) > 1 and prefix.startswith("0"))


def _check_macro_string(value: str, term: str, *, explanation_text: bool = False) -> int:
    """Check the macros of ``value`` (RFC 7208 section 7.1); ``term`` names it in errors.
    ``c r t`` are allowed only in ``explanation_text`` (the TXT an ``exp=`` points to).
    Returns where the last macro ends (0 when there is none)."""
    last_end = 0
    for match in _MACRO.finditer(value):
        if "%" in value[last_end : match.start()]:
            raise SpfError("permerror", f"bad macro in {term!r}")
        letter = match.group(1)
        if letter is not None:
            key = letter.lower()
            if key not in MACRO_LETTERS:
                raise SpfError("permerror", f"unknown macro %{{{letter}}} in {term!r}")
            if key in EXPLANATION_ONLY_LETTERS and not explanation_text:
                raise SpfError(
                    "permerror",
                    f"macro %{{{letter}}} in {term!r} is only allowed in explanation text",
                )
            if match.group(2) and int(match.group(2)) == 0:
                raise SpfError("permerror", f"macro transformer 0 in {term!r}")
        last_end = match.end()
    if "%" in value[last_end:]:
        raise SpfError("permerror", f"bad macro in {term!r}")
    return last_end


def _check_domain_spec(spec: str, term: str) -> None:
    """``domain-spec = macro-string domain-end``, ``domain-end = ( "." toplabel [ "." ] ) /
    macro-expand``: checked as written, before any expansion."""
    last_macro_end = _check_macro_string(spec, term)
    if spec and last_macro_end == len(spec):
        return
    tail = spec[last_macro_end:]
    _, dot, toplabel = tail.removesuffix(".").rpartition(".")
    if not dot or not _TOPLABEL.fullmatch(toplabel):
        raise SpfError(
            "permerror", f"bad domain in {term!r}: it must end in a valid top label or a macro"
        )


def is_explanation_text(text: str) -> bool:
    """``explanation-string = *( macro-string / SP )``: visible ASCII, spaces and well-formed
    macros, ``c r t`` included."""
    if not (text.isascii() and text.isprintable()):
        return False
    try:
        _check_macro_string(text, "explanation", explanation_text=True)
    except SpfError:
        return False
    return True


def _normal_ip(ip: str) -> IPAddress:
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


class _Evaluation:
    def __init__(
        self,
        resolver: Resolver,
        ip: IPAddress,
        sender: str,
        helo: str | None,
        receiver: str = "unknown",
    ) -> None:
        self.resolver = resolver
        self.ip = ip
        self.sender = sender
        self.local, _, self.sender_domain = sender.rpartition("@")
        self.local = self.local or "postmaster"
        self.helo = helo or ""
        self.receiver = receiver
        self.dns_lookups = 0
        self.void_lookups = 0
        self.chain: list[str] = []
        self.top_record: str | None = None
        self.matched: str | None = None

    # --- DNS -----------------------------------------------------------------------------

    def _count(self, what: str) -> None:
        self.dns_lookups += 1
        if self.dns_lookups > MAX_DNS_TERMS:
            raise SpfError("permerror", f"more than {MAX_DNS_TERMS} DNS-querying terms (at {what})")

    async def _query(self, name: str, rdtype: str, *, void_counts: bool = True) -> DnsAnswer:
        answer = await self.resolver.query(name, rdtype)
        if answer.failed:
            raise SpfError("temperror", f"{rdtype} lookup of {name} failed: {answer.error}")
        if answer.status == "invalid":
            raise SpfError("permerror", f"invalid name {name!r}")
        if answer.void and void_counts:
            self.void_lookups += 1
            if self.void_lookups > MAX_VOID_LOOKUPS:
                raise SpfError(
                    "permerror", f"more than {MAX_VOID_LOOKUPS} void DNS lookups (at {name})"
                )
        return answer

    async def _addresses(self, name: str, void_counts: bool = True) -> list[IPAddress]:
        rdtype = "A" if self.ip.version == 4 else "AAAA"
        answer = await self._query(name, rdtype, void_counts=void_counts)
        out: list[IPAddress] = []
        for record in answer.records:
            try:
                out.append(ipaddress.ip_address(record))
            except ValueError:
                continue
        return out

    async def record_for(self, domain: str) -> str | None:
        """The one SPF record of ``domain``; None when there is none."""
        answer = await self.resolver.query(domain, "TXT")
        if answer.failed:
            raise SpfError("temperror", f"TXT lookup of {domain} failed: {answer.error}")
        records = spf_records(answer)
        if len(records) > 1:
            raise SpfError("permerror", f"{domain} publishes {len(records)} SPF records")
        return records[0] if records else None

    # --- check_host ----------------------------------------------------------------------

    async def check_host(
        self, domain: str, top: bool = False
    ) -> tuple[SpfResult, ExpModifier | None]:
        """The result for ``domain`` and the ``exp=`` that explains it: that of the record
        whose term matched, or of the redirect target's (section 6.2)."""
        if not is_valid_domain(domain):
            return "none", None
        record = await self.record_for(domain)
        if record is None:
            self.chain.append(f"{domain}: (no SPF record)")
            return "none", None
        self.chain.append(f"{domain}: {record}")
        if top:
            self.top_record = record
        parsed = parse_record(record)
        exp = ExpModifier(parsed.explanation, domain) if parsed.explanation else None
        for term in parsed.terms:
            if await self._matches(term, domain):
                self.matched = term.text
                return term.qualifier, exp
        if parsed.redirect is not None:
            self._count("redirect")
            target = await self.expand(parsed.redirect, domain)
            result, target_exp = await self.check_host(target)
            if result == "none":
                reason = missing_target_reason(f"redirect={parsed.redirect}", target)
                raise SpfError("permerror", reason)
            return result, target_exp
        self.matched = None
        return "neutral", None

    async def explain(self, exp: ExpModifier) -> str | None:
        """The explanation of a ``fail`` (section 6.2): the one TXT record at the expanded
        ``exp=`` domain, expanded. No record, several, a failed lookup or a malformed text
        give none: an explanation never changes the result, nor counts towards the limits."""
        target = await self.expand(exp.spec, exp.domain)
        answer = await self.resolver.query(target, "TXT")
        if not answer.ok or len(answer.records) != 1:
            return None
        text = answer.records[0]
        if len(text) > MAX_EXPLANATION_SOURCE or not is_explanation_text(text):
            return None
        expanded = await self.expand_macros(text, exp.domain)
        return expanded[:MAX_EXPLANATION_CHARS]

    async def _matches(self, term: Term, domain: str) -> bool:
        mechanism = term.mechanism
        if mechanism == "all":
            return True
        if mechanism in ("ip4", "ip6"):
            assert term.argument is not None
            network = ipaddress.ip_network(term.argument, strict=False)
            return self.ip.version == network.version and self.ip in network
        self._count(term.text)
        target = await self.expand(term.argument, domain) if term.argument else domain
        if mechanism == "include":
            result, _ = await self.check_host(target)  # its exp= is not this record's
            if result == "pass":
                return True
            if result in ("fail", "softfail", "neutral"):
                return False
            if result == "temperror":
                raise SpfError("temperror", f"include:{target} gave temperror")
            raise SpfError("permerror", missing_target_reason(term.text, target))
        if mechanism == "exists":
            answer = await self._query(target, "A")
            return answer.ok
        if mechanism == "a":
            return self._in_any(await self._addresses(target), term)
        if mechanism == "mx":
            answer = await self._query(target, "MX")
            hosts = [r.split(" ", 1)[1] for r in answer.records if " " in r]
            if len(hosts) > MAX_MX_OR_PTR_NAMES:
                raise SpfError("permerror", f"{target} has more than {MAX_MX_OR_PTR_NAMES} MX")
            for host in hosts:
                if host and self._in_any(await self._addresses(host, void_counts=False), term):
                    return True
            return False
        if mechanism == "ptr":
            return any(
                name == target.lower() or name.endswith("." + target.lower())
                for name in await self.validated_names()
            )
        raise SpfError("permerror", f"unknown mechanism {mechanism}")  # pragma: no cover

    def _in_any(self, addresses: list[IPAddress], term: Term) -> bool:
        prefix = term.cidr4 if self.ip.version == 4 else term.cidr6
        bits = 32 if self.ip.version == 4 else 128
        for addr in addresses:
            if addr.version != self.ip.version:
                continue
            network = ipaddress.ip_network(f"{addr}/{bits if prefix is None else prefix}", False)
            if self.ip in network:
                return True
        return False

    async def validated_names(self) -> list[str]:
        """Forward-confirmed PTR names of the IP (RFC 7208 section 5.5); DNS errors skip."""
        answer = await self.resolver.query(ptr_name(str(self.ip)), "PTR")
        if not answer.ok:
            return []
        names: list[str] = []
        for name in answer.records[:MAX_MX_OR_PTR_NAMES]:
            forward = await self.resolver.query(name, "A" if self.ip.version == 4 else "AAAA")
            if forward.ok and str(self.ip) in forward.records:
                names.append(name.lower())
        return names

    # --- macros --------------------------------------------------------------------------

    async def expand(self, spec: str, domain: str) -> str:
        """A domain-spec expanded into the name to query."""
        expanded = await self.expand_macros(spec, domain)
        # Too long: drop labels from the left until it fits (RFC 7208 section 7.3). Walks the
        # dots once instead of copying the rest of the name for each label dropped.
        start = 0
        while len(expanded) - start > 253:
            dot = expanded.find(".", start)
            if dot < 0:
                break
            start = dot + 1
        return expanded[start:]

    async def expand_macros(self, text: str, domain: str) -> str:
        """``text`` (a checked macro-string) with each macro replaced; ``%{d}`` is
        ``domain``."""
        spec = text
        out: list[str] = []
        position = 0
        for match in _MACRO.finditer(spec):
            out.append(spec[position : match.start()])
            position = match.end()
            token = match.group(0)
            if token == "%%":
                out.append("%")
            elif token == "%_":
                out.append(" ")
            elif token == "%-":
                out.append("%20")
            else:
                out.append(await self._macro(match, domain))
        out.append(spec[position:])
        return "".join(out)

    async def _macro(self, match: re.Match[str], domain: str) -> str:
        letter, digits, reverse, delimiters = match.groups()
        key = letter.lower()
        value: str
        if key == "s":
            value = self.sender
        elif key == "l":
            value = self.local
        elif key == "o":
            value = self.sender_domain
        elif key == "d":
            value = domain
        elif key == "i":
            if self.ip.version == 4:
                value = str(self.ip)
            else:
                # Nibbles in upper case, as the OpenSPF suites' explanations expect (DNS
                # names are case-insensitive, so only explanations show the case).
                value = ".".join(self.ip.exploded.replace(":", "").upper())
        elif key == "c":
            value = str(self.ip)  # "easily readable": dotted quad, or compressed IPv6
        elif key == "r":
            value = self.receiver
        elif key == "t":
            value = str(int(time.time()))
        elif key == "v":
            value = "in-addr" if self.ip.version == 4 else "ip6"
        elif key == "h":
            value = self.helo
        elif key == "p":
            names = await self.validated_names()
            value = next((n for n in names if n == domain or n.endswith("." + domain)), None) or (
                names[0] if names else "unknown"
            )
        else:  # pragma: no cover - macro-strings are checked before they are expanded
            raise SpfError("permerror", f"unknown macro %{{{letter}}}")
        parts = re.split("[" + re.escape(delimiters or ".") + "]", value)
        if reverse:
            parts.reverse()
        if digits:
            parts = parts[-int(digits) :]
        text = ".".join(parts)
        if letter.isupper():
            text = quote(text, safe="-._~")
        return text


async def check_spf(
    resolver: Resolver,
    ip: str,
    sender: str | None,
    helo: str | None,
    *,
    receiver: str = "unknown",
) -> SpfOutcome:
    """SPF for MAIL FROM ``sender`` (or, when it is empty, the HELO identity) from ``ip``.
    ``receiver``: the receiving host's domain, the ``%{r}`` of an explanation."""
    identity = "mailfrom"
    sender = (sender or "").strip().strip("<>")
    if not sender:
        identity = "helo"
        sender = f"postmaster@{helo}" if helo else ""
    elif "@" not in sender:
        sender = f"postmaster@{sender}"
    domain = sender.rpartition("@")[2].rstrip(".").lower() or None
    if not domain:
        return SpfOutcome("none", None, identity, reason="no MAIL FROM or HELO domain")
    try:
        addr = _normal_ip(ip)
    except ValueError:
        return SpfOutcome("none", domain, identity, sender, reason=f"bad client IP {ip!r}")
    run = _Evaluation(resolver, addr, sender, helo, receiver)
    explanation: str | None = None
    try:
        result, exp = await run.check_host(domain, top=True)
        if result == "fail" and exp is not None:
            explanation = await run.explain(exp)
        reason = {
            "none": f"{domain} publishes no SPF record",
            "neutral": "no term matched" if run.matched is None else f"matched {run.matched}",
        }.get(result, f"matched {run.matched}")
    except SpfError as exc:
        result, reason = exc.result, exc.reason
    return SpfOutcome(
        result=result,
        domain=domain,
        identity=identity,
        sender=sender,
        record=run.top_record,
        matched=run.matched,
        reason=reason,
        dns_lookups=run.dns_lookups,
        void_lookups=run.void_lookups,
        chain=run.chain,
        explanation=explanation,
    )
