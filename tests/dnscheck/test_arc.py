"""ARC (RFC 8617) through the auth check: chains sealed by dkimpy at test time with keys
made per run and served by the loopback ``ZoneServer``, then broken in the ways §5.2 names."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.support.zone_dns import TIMEOUT, Record, ZoneServer

from mailqa.checks.auth.arc import read_arc_chain, verify_arc
from mailqa.checks.auth.check import AuthCheck
from mailqa.checks.auth.details import ArcDetails, AuthDetails
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult
from mailqa.net.dns import DnsResolver
from mailqa.resources import check_context
from mailqa.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SIGNED = [b"from", b"to", b"subject", b"date", b"message-id"]
ORIGINAL = (
    b"From: Shop <news@shop.example>\r\n"
    b"To: list@lists.example\r\n"
    b"Subject: Weekly offers\r\n"
    b"Date: Mon, 06 Jan 2025 10:00:00 +0000\r\n"
    b"Message-ID: <1@shop.example>\r\n"
    b"\r\n"
    b"Hello there.\r\n"
)


@dataclass(frozen=True)
class Sealer:
    """An ADMD that adds ARC sets: its authserv-id and its signing key."""

    srv_id: str
    domain: str
    selector: str
    private_pem: bytes

    @property
    def key_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"


def _sealer(srv_id: str, domain: str, selector: str) -> Sealer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return Sealer(srv_id, domain, selector, pem)


def _public_record(sealer: Sealer) -> Record:
    key = serialization.load_pem_private_key(sealer.private_pem, password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Record("TXT", (f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}",))


@dataclass(frozen=True)
class Lab:
    server: ZoneServer
    relay: Sealer
    lists: Sealer
    forwarder: Sealer
    unpublished: Sealer
    unreachable: Sealer

    @property
    def hops(self) -> tuple[Sealer, Sealer, Sealer]:
        return self.relay, self.lists, self.forwarder

    def resolver(self) -> DnsResolver:
        return DnsResolver([self.server.address], timeout=0.5)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    relay = _sealer("mx.relay.example", "relay.example", "arc1")
    lists = _sealer("mail.lists.example", "lists.example", "arc2")
    forwarder = _sealer("in.forward.example", "forward.example", "arc3")
    unpublished = _sealer("mx.nokey.example", "nokey.example", "gone")
    unreachable = _sealer("mx.slow.example", "slow.example", "arc")
    with ZoneServer() as server:
        server.load(
            {
                **{s.key_name: [_public_record(s)] for s in (relay, lists, forwarder)},
                unreachable.key_name: [TIMEOUT],
            }
        )
        yield Lab(server, relay, lists, forwarder, unpublished, unreachable)


def seal(
    raw: bytes, sealer: Sealer, chain: str | None = None, timestamp: int | None = None
) -> bytes:
    """One hop: the sealer's Authentication-Results (arc=``chain`` when it validated a
    chain), then the ARC set dkimpy makes from it, on top."""
    results = f"Authentication-Results: {sealer.srv_id}; spf=pass smtp.mailfrom=shop.example"
    raw = (results + (f"; arc={chain}" if chain else "") + "\r\n").encode() + raw
    arc_set = dkim.arc_sign(
        raw,
        sealer.selector.encode(),
        sealer.domain.encode(),
        sealer.private_pem,
        sealer.srv_id.encode(),
        include_headers=SIGNED,
        timestamp=timestamp,
    )
    assert len(arc_set) == 3, "dkimpy made no ARC set"
    return b"".join(arc_set) + raw


def chain_of(hops: tuple[Sealer, ...], raw: bytes = ORIGINAL) -> bytes:
    for n, sealer in enumerate(hops):
        raw = seal(raw, sealer, "pass" if n else None)
    return raw


def _fields(raw: bytes) -> tuple[list[bytes], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    return fields, body


def _join(fields: list[bytes], body: bytes) -> bytes:
    return b"\r\n".join(fields) + b"\r\n\r\n" + body


def _is_arc_field(field: bytes, name: str | None, instance: int) -> bool:
    field_name, _, value = field.partition(b":")
    names = [name] if name else ["ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results"]
    found = re.search(rb"(?:^|[\s;])i=(\d+)", value)
    return (
        field_name.decode().lower() in {n.lower() for n in names}
        and found is not None
        and int(found.group(1)) == instance
    )


def drop(raw: bytes, instance: int, name: str | None = None) -> bytes:
    """``raw`` without header field ``name`` (every ARC field when None) of ``instance``."""
    fields, body = _fields(raw)
    kept = [f for f in fields if not _is_arc_field(f, name, instance)]
    assert len(kept) < len(fields)
    return _join(kept, body)


def edit(raw: bytes, name: str, instance: int, old: bytes, new: bytes) -> bytes:
    """``raw`` with ``old`` replaced by ``new`` in header field ``name`` of ``instance``."""
    fields, body = _fields(raw)
    changed = [f.replace(old, new, 1) if _is_arc_field(f, name, instance) else f for f in fields]
    assert changed != fields
    return _join(changed, body)


async def run_auth(lab: Lab, raw: bytes) -> tuple[CheckResult, AuthDetails]:
    settings = Settings(dns_servers=[lab.server.address])
    ctx = check_context(settings, resolver=lab.resolver())
    result = await AuthCheck().run(ParsedMessage(raw), ctx)
    return result, AuthDetails.model_validate(result.details)


def arc_findings(result: CheckResult) -> list[str]:
    return [f.message for f in result.findings if f.rule == "auth.arc-fail"]


def assert_fails(arc: ArcDetails, broken_at: int | None, reason: str) -> None:
    assert arc.result == "fail", arc.reason
    assert arc.broken_at == broken_at, arc.reason
    assert reason in arc.reason
    assert arc.oldest_pass is None


# Passing chains


@pytest.mark.parametrize("hops", [1, 2, 3])
async def test_chain_passes_with_a_report_per_set(lab: Lab, hops: int) -> None:
    result, d = await run_auth(lab, chain_of(lab.hops[:hops]))
    arc = d.arc
    assert (arc.result, arc.instances, arc.broken_at, arc.oldest_pass) == ("pass", hops, None, 0)
    assert [e.instance for e in arc.chain] == list(range(1, hops + 1))
    assert [e.cv for e in arc.chain] == ["none"] + ["pass"] * (hops - 1)
    for entry, sealer in zip(arc.chain, lab.hops, strict=False):
        assert entry.authserv_id == sealer.srv_id
        assert (entry.seal_domain, entry.seal_selector) == (sealer.domain, sealer.selector)
        assert (entry.signature_domain, entry.signature_selector) == (
            sealer.domain,
            sealer.selector,
        )
        assert entry.seal_valid is True and entry.signature_valid is True
        assert entry.problem == ""
    assert "arc=pass header.oldest-pass=0" in d.authentication_results
    assert arc_findings(result) == []
    assert "ARC pass" in result.summary


async def test_body_changed_between_hops_still_passes_with_oldest_pass(lab: Lab) -> None:
    """A list that adds a footer breaks the first AMS; its own seal vouches for what it saw."""
    first = seal(ORIGINAL, lab.relay)
    footered = first.replace(b"Hello there.\r\n", b"Hello there.\r\n-- \r\nUnsubscribe\r\n")
    _, d = await run_auth(lab, seal(footered, lab.lists, "pass"))
    assert (d.arc.result, d.arc.oldest_pass, d.arc.broken_at) == ("pass", 2, None)
    first_set = d.arc.chain[0]
    assert first_set.signature_valid is False and first_set.seal_valid is True
    assert "body hash mismatch" in first_set.problem
    assert "oldest pass i=2" in d.arc.reason
    assert "arc=pass header.oldest-pass=2" in d.authentication_results


async def test_an_old_seal_still_verifies(lab: Lab) -> None:
    """A seal has no expiry (RFC 8617): one made in 1970 verifies like a fresh one."""
    _, d = await run_auth(lab, seal(ORIGINAL, lab.relay, timestamp=12345))
    assert d.arc.result == "pass", d.arc.reason


async def test_a_seal_dated_in_the_future_fails(lab: Lab) -> None:
    """dkimpy refuses t= more than 10 hours ahead (the DKIM rule; clocks drift less)."""
    in_a_day = int(time.time()) + 86_400
    _, d = await run_auth(lab, seal(ORIGINAL, lab.relay, timestamp=in_a_day))
    assert_fails(d.arc, 1, "t= value is in the future")


# Broken chains


async def test_body_changed_after_the_last_seal_fails_at_the_newest_set(lab: Lab) -> None:
    sealed = chain_of(lab.hops)
    result, d = await run_auth(lab, sealed.replace(b"Hello there.", b"Hello changed."))
    assert_fails(d.arc, 3, "ARC-Message-Signature i=3 did not verify: body hash mismatch")
    newest = d.arc.chain[-1]
    assert newest.signature_valid is False and newest.seal_valid is True
    assert [e.seal_valid for e in d.arc.chain[:2]] == [None, None]  # not reached
    assert d.authentication_results.count("arc=fail") == 1
    (message,) = arc_findings(result)
    assert "fails at i=3 (sealed by in.forward.example)" in message
    assert "body hash mismatch" in message
    assert "ARC fail" in result.summary


async def test_newest_seal_saying_cv_fail_is_fail(lab: Lab) -> None:
    first = seal(ORIGINAL, lab.relay)
    broken_then_sealed = seal(first.replace(b"Hello", b"Hi"), lab.lists, "fail")
    result, d = await run_auth(lab, broken_then_sealed)
    assert_fails(d.arc, 2, "the newest ARC-Seal (i=2) says cv=fail")
    assert d.arc.chain[1].cv == "fail"
    assert "arc=fail" in d.authentication_results and "permerror" not in str(d.arc)
    (message,) = arc_findings(result)
    assert "fails at i=2" in message and "cv=fail" in message


async def test_an_older_seal_saying_cv_fail_is_fail(lab: Lab) -> None:
    raw = edit(chain_of(lab.hops[:2]), "ARC-Seal", 1, b"cv=none", b"cv=fail")
    _, d = await run_auth(lab, raw)
    assert_fails(d.arc, 1, "ARC-Seal i=1 says cv=fail")


@pytest.mark.parametrize(
    "name", ["ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results"]
)
@pytest.mark.parametrize(("hops", "instance"), [(1, 1), (3, 2), (3, 3)])
async def test_a_set_missing_a_header_field_fails(
    lab: Lab, name: str, hops: int, instance: int
) -> None:
    raw = drop(chain_of(lab.hops[:hops]), instance, name)
    result, d = await run_auth(lab, raw)
    assert_fails(d.arc, instance, f"ARC set i={instance} has no {name}")
    assert d.arc.chain[instance - 1].problem == d.arc.reason
    assert all(e.seal_valid is None and e.signature_valid is None for e in d.arc.chain)
    assert "arc=fail" in d.authentication_results
    assert len(arc_findings(result)) == 1


async def test_a_repeated_instance_fails(lab: Lab) -> None:
    sealed = chain_of(lab.hops[:1])
    fields, body = _fields(sealed)
    repeated = [f for f in fields if _is_arc_field(f, None, 1)]
    _, d = await run_auth(lab, _join(repeated + fields, body))
    assert_fails(d.arc, 1, "ARC set i=1 has 2 ARC-Seal header fields (duplicate instance)")


async def test_a_gap_in_the_instances_fails(lab: Lab) -> None:
    _, d = await run_auth(lab, drop(chain_of(lab.hops), 2))
    assert_fails(d.arc, 2, "no ARC set with i=2: the instances (1, 3) have a gap")
    assert [e.instance for e in d.arc.chain] == [1, 3]
    assert d.arc.instances == 3


async def test_the_first_seal_must_say_cv_none(lab: Lab) -> None:
    raw = edit(chain_of(lab.hops[:1]), "ARC-Seal", 1, b"cv=none", b"cv=pass")
    _, d = await run_auth(lab, raw)
    assert_fails(d.arc, 1, "ARC-Seal i=1 says cv=pass: the first seal must say cv=none")


async def test_a_later_seal_must_say_cv_pass(lab: Lab) -> None:
    raw = edit(chain_of(lab.hops[:2]), "ARC-Seal", 2, b"cv=pass", b"cv=none")
    _, d = await run_auth(lab, raw)
    assert_fails(d.arc, 2, "ARC-Seal i=2 says cv=none: a seal after the first must say")


async def test_an_instance_over_50_fails(lab: Lab) -> None:
    raw = chain_of(lab.hops[:1])
    for name in ("ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results"):
        raw = edit(raw, name, 1, b"i=1;", b"i=51;")
    _, d = await run_auth(lab, raw)
    assert_fails(d.arc, 51, "instance i=51 is outside 1..50")


async def test_a_changed_seal_fails_at_its_set(lab: Lab) -> None:
    sealed = chain_of(lab.hops[:1])
    stamp = re.search(rb"ARC-Seal:[^\r]*?\bt=(\d+)", sealed.replace(b"\r\n ", b" "))
    assert stamp is not None
    earlier = str(int(stamp.group(1)) - 1).encode()
    raw = edit(sealed, "ARC-Seal", 1, b"t=" + stamp.group(1), b"t=" + earlier)
    _, d = await run_auth(lab, raw)
    assert_fails(d.arc, 1, "ARC-Seal i=1 did not verify: the seal's signature does not match")
    assert d.arc.chain[0].signature_valid is True and d.arc.chain[0].seal_valid is False


async def test_a_newer_seal_covers_the_older_sets(lab: Lab) -> None:
    """Changing the first set's results breaks the second seal, checked first (newest)."""
    raw = edit(chain_of(lab.hops[:2]), "ARC-Authentication-Results", 1, b"spf=pass", b"spf=fail")
    _, d = await run_auth(lab, raw)
    assert_fails(d.arc, 2, "ARC-Seal i=2 did not verify")


async def test_a_key_not_published_fails(lab: Lab) -> None:
    _, d = await run_auth(lab, chain_of((lab.relay, lab.unpublished)))
    assert_fails(
        d.arc,
        2,
        "ARC-Message-Signature and ARC-Seal i=2 did not verify: no key record at "
        "gone._domainkey.nokey.example",
    )
    newest = d.arc.chain[1]
    assert newest.seal_valid is False and newest.signature_valid is False


async def test_a_key_lookup_that_times_out_fails_naming_the_lookup(lab: Lab) -> None:
    _, d = await run_auth(lab, chain_of((lab.unreachable,)))
    assert_fails(d.arc, 1, "key lookup arc._domainkey.slow.example failed")


async def test_no_arc_headers_is_none(lab: Lab) -> None:
    result, d = await run_auth(lab, ORIGINAL)
    assert (d.arc.result, d.arc.instances, d.arc.chain, d.arc.broken_at) == ("none", 0, [], None)
    assert "arc=none" in d.authentication_results
    assert arc_findings(result) == []


# Hostile input


async def test_ten_thousand_arc_headers_fail_fast_without_lookups(lab: Lab) -> None:
    fields = b"".join(
        b"ARC-Seal: i=%d; cv=pass; a=rsa-sha256; d=d%d.example; s=s; b=AAAA\r\n" % (n, n)
        for n in range(1, 10_001)
    )
    raw = fields + chain_of(lab.hops[:1])
    chain = read_arc_chain(ParsedMessage(raw).headers)
    assert chain.settled and chain.key_names == []
    started = time.perf_counter()
    _, d = await run_auth(lab, raw)
    assert time.perf_counter() - started < 5
    assert_fails(d.arc, None, "10003 ARC header fields: more than 50 ARC sets can hold")
    assert d.arc.chain == []


async def test_fifty_sets_the_most_allowed_verify(lab: Lab) -> None:
    hops = tuple(replace(lab.relay, srv_id=f"mx{n}.relay.example") for n in range(1, 51))
    raw = chain_of(hops)  # one authserv-id per hop: each seals on its own results
    started = time.perf_counter()
    _, d = await run_auth(lab, raw)
    assert time.perf_counter() - started < 10
    assert (d.arc.result, d.arc.instances, len(d.arc.chain)) == ("pass", 50, 50), d.arc.reason


@pytest.mark.parametrize(
    "fields",
    [
        b"ARC-Seal: ;;;\r\n",
        b"ARC-Seal: i=\xff\xfe; cv=none\r\n",
        b"ARC-Message-Signature: i=99999999999999999999; h=from\r\n",
        b"ARC-Authentication-Results: i=1\r\nARC-Message-Signature: i=1; ===\r\n"
        b"ARC-Seal: i=1; cv=none; a=rsa-sha256; b=!!!; d=; s=\r\n",
        b"ARC-Authentication-Results: i=1; x\r\nARC-Message-Signature: i=1; a=rsa-sha256;"
        b" b=AAAA; bh=AAAA; d=x.example; s=s; h=from; i=1\r\n"
        b"ARC-Seal: i=1; cv=none; a=rsa-sha256; b=AAAA; d=x.example; s=s\r\n",
    ],
)
async def test_garbage_fails_with_a_reason(lab: Lab, fields: bytes) -> None:
    _, d = await run_auth(lab, fields + ORIGINAL)
    assert d.arc.result == "fail" and d.arc.reason


async def test_mutated_chains_never_raise(lab: Lab) -> None:
    """Random byte changes in a sealed message's ARC fields: pass or fail, always a reason."""
    sealed = chain_of(lab.hops[:2])
    head_end = sealed.index(b"Authentication-Results: mail.lists.example")
    chain = read_arc_chain(ParsedMessage(sealed).headers)
    keys = await lab.resolver().prefetch_txt(chain.key_names)
    rng = random.Random(8617)
    outcomes: set[str] = set()
    for _ in range(300):
        data = bytearray(sealed)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(head_end)] = rng.choice(b";=: \t\r\nabi0125AZ+/\xff")
        raw = bytes(data)
        mutated = read_arc_chain(ParsedMessage(raw).headers)
        arc = verify_arc(raw, mutated, keys)
        assert arc.result in ("pass", "fail", "none")
        assert arc.reason
        outcomes.add(arc.result)
    assert outcomes >= {"pass", "fail"}


# The command line, as a whole process


def test_mailqa_check_reports_the_chain(lab: Lab, tmp_path: Path) -> None:
    good = tmp_path / "good.eml"
    good.write_bytes(chain_of(lab.hops[:2]))
    broken = tmp_path / "broken.eml"
    broken.write_bytes(chain_of(lab.hops[:2]).replace(b"Hello there.", b"Hello changed."))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILQA_")}
    env["PYTHONPATH"] = str(ROOT / "src")
    command = [sys.executable, "-m", "mailqa.cli.main", "check", "--checks", "auth"]
    command += ["--dns-server", lab.server.address, "--format", "json", str(good), str(broken)]
    proc = subprocess.run(
        command,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr.decode()
    files = {Path(f["path"]).name: f for f in json.loads(proc.stdout)["files"]}
    good_arc = files["good.eml"]["report"]["checks"]["auth"]["details"]["arc"]
    assert (good_arc["result"], good_arc["instances"], good_arc["oldest_pass"]) == ("pass", 2, 0)
    assert [e["authserv_id"] for e in good_arc["chain"]] == [lab.relay.srv_id, lab.lists.srv_id]
    bad_details = files["broken.eml"]["report"]["checks"]["auth"]["details"]
    assert (bad_details["arc"]["result"], bad_details["arc"]["broken_at"]) == ("fail", 2)
    assert "arc=fail" in bad_details["authentication_results"]
    assert any(
        f["rule"] == "auth.arc-fail" and "i=2" in f["message"]
        for f in files["broken.eml"]["findings"]
    )
    assert not any(f["rule"] == "auth.arc-fail" for f in files["good.eml"]["findings"])


def test_conformance_runner_counts_and_names_differences(lab: Lab, tmp_path: Path) -> None:
    """scripts/arc_conformance.py on a suite of the ValiMail form made here."""
    record = _public_record(lab.relay).value
    scenario = {
        "description": "made for this test",
        "tests": {
            "passes": {"message": chain_of((lab.relay,)).decode(), "cv": "Pass"},
            "says_fail": {"message": ORIGINAL.decode(), "cv": "Fail"},
            "empty_cv": {"message": ORIGINAL.decode(), "cv": ""},
        },
        "txt-records": {lab.relay.key_name: list(record)},
    }
    suite = tmp_path / "suite.yml"
    suite.write_text("---\n" + json.dumps(scenario) + "\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "arc_conformance.py"), str(suite)],
        capture_output=True,
        timeout=60,
        text=True,
    )
    lines = proc.stdout.splitlines()
    assert proc.returncode == 1 and lines[0] == "1/3", proc.stdout + proc.stderr
    assert lines[1].startswith("FAIL says_fail: expected fail, got none")
    assert lines[2].startswith("FAIL empty_cv: expected (empty), got none")
    assert lines[2].endswith("[the suite expects no RFC 8617 result: none, pass or fail]")
