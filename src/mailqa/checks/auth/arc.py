"""ARC (RFC 8617): the chain's structure read here, its signatures verified by dkimpy.

Validation follows RFC 8617 §5.2. The structural steps (at most 50 sets; one ARC-Seal,
ARC-Message-Signature and ARC-Authentication-Results per instance; instances 1..N without
gaps; cv=none at i=1, cv=pass above, cv=fail nowhere) are checked on the header fields
before any key is looked up: dkimpy's ``arc_verify`` skips header fields whose instance it
cannot read and calls a chain holding cv=fail "no result" rather than fail.
dkimpy then verifies each set's two signatures (``ARC.verify_instance``), newest first. The
newest ARC-Message-Signature and every ARC-Seal must verify; an older message signature may
fail (a later hop changed the message) and only lowers ``oldest_pass``.

Time: dkimpy refuses a signature whose t= lies more than 10 hours in the future or whose
x= (an AMS expiry, from DKIM) has passed; a seal has no expiry, so old seals still verify.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import dkim

from mailqa.checks.auth.details import ArcDetails, ArcInstance
from mailqa.checks.auth.dkim import MIN_KEY_BITS, key_name
from mailqa.checks.auth.tags import parse_tags
from mailqa.net.dns import DnsAnswer, dkim_dnsfunc

MAX_INSTANCES = 50
"""RFC 8617 §4.2.1: instances run from 1 to 50; more sets make the chain fail."""

SEAL, SIGNATURE, RESULTS = "arc-seal", "arc-message-signature", "arc-authentication-results"
FIELD_NAMES = {
    SEAL: "ARC-Seal",
    SIGNATURE: "ARC-Message-Signature",
    RESULTS: "ARC-Authentication-Results",
}
MAX_FIELDS = len(FIELD_NAMES) * MAX_INSTANCES
"""More ARC header fields than this cannot be 50 whole sets: the chain fails unread."""


@dataclass
class _ArcSet:
    """The header fields found for one instance, as written."""

    fields: dict[str, list[str]] = field(default_factory=lambda: {n: [] for n in FIELD_NAMES})

    def tags(self, name: str) -> dict[str, str]:
        values = self.fields[name]
        return parse_tags(values[0]) if values else {}


@dataclass
class ArcChain:
    """A message's ARC header fields read without DNS: the chain report so far and, when its
    structure already decides the result (none, or fail), that result."""

    details: ArcDetails
    settled: bool
    key_names: list[str] = field(default_factory=list)


def _instance_of(name: str, value: str) -> int | None:
    """i= of an ARC header field: a tag of the seal and the message signature, the first
    item of the authentication results (``i=1; authserv-id; ...``)."""
    if name == RESULTS:
        tag, _, text = value.split(";", 1)[0].partition("=")
        text = text.strip() if tag.strip().lower() == "i" else ""
    else:
        text = parse_tags(value).get("i", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else None


def _settled(details: ArcDetails, broken_at: int | None, reason: str) -> ArcChain:
    details.result, details.broken_at, details.reason = "fail", broken_at, reason
    if broken_at is not None:
        for entry in details.chain:
            if entry.instance == broken_at and not entry.problem:
                entry.problem = reason
    return ArcChain(details, settled=True)


def read_arc_chain(headers: Iterable[tuple[str, str]]) -> ArcChain:
    """The structural steps of RFC 8617 §5.2 on ``headers`` (name, value), in message order."""
    found = [(n.lower(), v) for n, v in headers if n.lower() in FIELD_NAMES]
    details = ArcDetails(result="none", reason="no ARC headers")
    if not found:
        return ArcChain(details, settled=True)
    if len(found) > MAX_FIELDS:
        return _settled(
            details,
            None,
            f"{len(found)} ARC header fields: more than {MAX_INSTANCES} ARC sets can hold "
            f"(RFC 8617 allows at most {MAX_INSTANCES} sets)",
        )
    sets: dict[int, _ArcSet] = {}
    unreadable: list[str] = []
    for name, value in found:
        instance = _instance_of(name, value)
        if instance is None:
            unreadable.append(FIELD_NAMES[name])
            continue
        sets.setdefault(instance, _ArcSet()).fields[name].append(value)
    details.chain = [_describe(i, sets[i]) for i in sorted(sets) if 1 <= i <= MAX_INSTANCES]
    newest = max(sets, default=0)
    details.instances = newest
    if unreadable:
        return _settled(
            details, None, f"an {unreadable[0]} header field has no valid instance tag (i=)"
        )
    out_of_range = [i for i in sets if not 1 <= i <= MAX_INSTANCES]
    if out_of_range:
        worst = max(out_of_range)
        return _settled(
            details, worst, f"instance i={worst} is outside 1..{MAX_INSTANCES} (RFC 8617 §4.2.1)"
        )
    seal = sets[newest].fields[SEAL]
    if len(seal) == 1 and parse_tags(seal[0]).get("cv", "").lower() == "fail":
        return _settled(
            details,
            newest,
            f"the newest ARC-Seal (i={newest}) says cv=fail: the sealer found the chain "
            "already broken",
        )
    for instance in range(newest, 0, -1):
        problem = _set_problem(instance, sets.get(instance), sorted(sets))
        if problem:
            return _settled(details, instance, problem)
    names = [
        n
        for arc_set in sets.values()
        for n in (key_name(arc_set.tags(SEAL)), key_name(arc_set.tags(SIGNATURE)))
        if n
    ]
    return ArcChain(details, settled=False, key_names=list(dict.fromkeys(names)))


def _describe(instance: int, arc_set: _ArcSet) -> ArcInstance:
    seal, signature = arc_set.tags(SEAL), arc_set.tags(SIGNATURE)
    results = arc_set.fields[RESULTS]
    items = results[0].split(";") if results else []
    return ArcInstance(
        instance=instance,
        authserv_id=items[1].strip() or None if len(items) > 1 else None,
        seal_domain=seal.get("d", "").lower() or None,
        seal_selector=seal.get("s") or None,
        signature_domain=signature.get("d", "").lower() or None,
        signature_selector=signature.get("s") or None,
        cv=seal.get("cv", "").lower() or None,
    )


def _set_problem(instance: int, arc_set: _ArcSet | None, present: list[int]) -> str:
    """Why set ``instance`` breaks the chain's structure (RFC 8617 §5.2 step 3), or ""."""
    if arc_set is None:
        listed = ", ".join(str(i) for i in present)
        return f"no ARC set with i={instance}: the instances ({listed}) have a gap"
    for name, label in FIELD_NAMES.items():
        count = len(arc_set.fields[name])
        if count == 0:
            return f"ARC set i={instance} has no {label}"
        if count > 1:
            return f"ARC set i={instance} has {count} {label} header fields (duplicate instance)"
    cv = arc_set.tags(SEAL).get("cv", "").lower()
    if cv not in ("none", "pass", "fail"):
        return f"ARC-Seal i={instance} has cv={cv or '(missing)'}, not none, pass or fail"
    if cv == "fail":
        return f"ARC-Seal i={instance} says cv=fail: that sealer found the chain broken"
    if instance == 1 and cv != "none":
        return f"ARC-Seal i=1 says cv={cv}: the first seal must say cv=none"
    if instance > 1 and cv != "pass":
        return f"ARC-Seal i={instance} says cv={cv}: a seal after the first must say cv=pass"
    return ""


class _SetLog:
    """dkimpy's logger for one ``verify_instance`` call. It logs the message signature's
    errors, then "ams valid: ...", then the seal's: the errors are sorted by that line."""

    def __init__(self) -> None:
        self.signature_errors: list[str] = []
        self.seal_errors: list[str] = []
        self.signature_valid: bool | None = None

    def error(self, msg: object, *args: object) -> None:
        text = str(msg) % args if args else str(msg)
        (self.signature_errors if self.signature_valid is None else self.seal_errors).append(text)

    warning = error

    def debug(self, msg: object, *args: object) -> None:
        text = str(msg)
        if text.startswith("ams valid:"):
            self.signature_valid = text.endswith("True")

    info = debug


def _key_problem(domain: str | None, selector: str | None, keys: dict[str, DnsAnswer]) -> str:
    name = f"{selector}._domainkey.{domain}".lower() if domain and selector else None
    answer = keys.get(name) if name else None
    if answer is None or answer.ok:
        return ""
    if answer.failed:
        return f"key lookup {name} failed: {answer.error}"
    return f"no key record at {name}"


def _verify_set(
    verifier: dkim.ARC,
    arc_headers: Sequence[tuple[int, tuple[bytes, bytes]]],
    entry: ArcInstance,
    keys: dict[str, DnsAnswer],
) -> None:
    """Verify set ``entry.instance`` with dkimpy and record both signatures' outcome."""
    log = _SetLog()
    verifier.logger = log
    try:
        outcome = verifier.verify_instance(arc_headers, entry.instance, dnsfunc=dkim_dnsfunc(keys))
    except Exception as exc:  # dkimpy raises more than DKIMException on hostile input
        text = _exception_text(exc)
        if log.signature_valid is None:
            entry.signature_valid = False
            entry.problem = f"ARC-Message-Signature i={entry.instance} cannot be checked: {text}"
        else:
            entry.signature_valid = log.signature_valid
            entry.seal_valid = False
            entry.problem = f"ARC-Seal i={entry.instance} cannot be checked: {text}"
        return
    entry.signature_valid = bool(outcome.get("ams-valid"))
    entry.seal_valid = bool(outcome.get("as-valid"))
    signature_why = seal_why = ""
    if not entry.signature_valid:
        signature_why = _key_problem(entry.signature_domain, entry.signature_selector, keys)
        signature_why = signature_why or _signature_reason(log.signature_errors)
    if not entry.seal_valid:
        seal_why = _key_problem(entry.seal_domain, entry.seal_selector, keys)
        seal_why = seal_why or _readable("; ".join(log.seal_errors))
        seal_why = seal_why or "the seal's signature does not match"
    i = entry.instance
    if signature_why and signature_why == seal_why:
        entry.problem = f"ARC-Message-Signature and ARC-Seal i={i} did not verify: {seal_why}"
    else:
        problems = []
        if signature_why:
            problems.append(f"ARC-Message-Signature i={i} did not verify: {signature_why}")
        if seal_why:
            problems.append(f"ARC-Seal i={i} did not verify: {seal_why}")
        entry.problem = "; ".join(problems)


def _readable(text: str) -> str:
    """dkimpy's message without the b'...' of the bytes it quotes, long values cut."""
    return _BYTES_REPR.sub(lambda m: _cut(m.group(1)), text)


def _cut(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


_BYTES_REPR = re.compile(r"""\bb'([^']*)'""")


def _exception_text(exc: Exception) -> str:
    cause = exc.__context__
    if isinstance(cause, dkim.util.DuplicateTag):
        return f"tag {_readable(str(cause))}= appears twice"
    if isinstance(cause, dkim.util.InvalidTagSpec):
        return f"malformed tag list near {_readable(str(cause))!r}"
    if isinstance(exc, dkim.DKIMException):
        return _readable(str(exc))
    return f"dkimpy could not read it ({type(exc).__name__}: {exc})"


def _signature_reason(errors: list[str]) -> str:
    if any("body hash mismatch" in e for e in errors):
        return "body hash mismatch: the body changed after this set was sealed"
    return _readable("; ".join(errors)) or "signed header fields changed after this set was sealed"


def verify_arc(raw: bytes, chain: ArcChain, keys: dict[str, DnsAnswer]) -> ArcDetails:
    """The RFC 8617 §5.2 result of ``chain`` (from ``read_arc_chain``) for message ``raw``,
    with ``keys`` holding the answers for ``chain.key_names``."""
    details = chain.details.model_copy(deep=True)
    if chain.settled:
        return details
    try:
        verifier = dkim.ARC(raw, minkey=MIN_KEY_BITS)
        _, arc_headers = verifier.sorted_arc_headers()
    except Exception as exc:
        details.result, details.reason = "fail", f"message cannot be read for ARC: {exc}"
        return details
    newest = details.chain[-1]
    by_instance = {entry.instance: entry for entry in details.chain}
    # Step 4 (the newest message signature), 5 (oldest-pass) and 6 (every seal), newest first.
    broken: ArcInstance | None = None
    for instance in range(details.instances, 0, -1):
        entry = by_instance[instance]
        _verify_set(verifier, arc_headers, entry, keys)
        if not entry.seal_valid or (entry is newest and not entry.signature_valid):
            broken = entry
            break
    if broken is not None:
        details.result, details.broken_at = "fail", broken.instance
        details.reason = broken.problem
        return details
    failed_signatures = [e.instance for e in details.chain if not e.signature_valid]
    details.oldest_pass = max(failed_signatures) + 1 if failed_signatures else 0
    details.result = "pass"
    details.reason = f"{details.instances} ARC set{'s' if details.instances > 1 else ''} verified"
    if failed_signatures:
        details.reason += (
            f"; the message changed after set i={max(failed_signatures)} "
            f"(oldest pass i={details.oldest_pass})"
        )
    return details
