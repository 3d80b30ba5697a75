"""DMARC cases from RFC 7489, RFC 9091 and DMARCbis, served by a loopback DNS server.

Each case is DNS data, a From domain and the SPF and DKIM outcomes the message is built to
get (SPF: MAIL FROM domain with or without the sending IP in its record; DKIM: a signature by
a key the data publishes). The real auth check runs on the message; a few cases also run
``mailqa check --checks auth FILE`` as a process. Each asserts the RFC 7489 result, applied
policy and record, the DMARCbis tree walk's record and organizational domain, the exact set
of DMARC findings, and that the findings name what is broken.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.support.zone_dns import Record, ZoneServer

from mailqa.checks.auth.check import AuthCheck
from mailqa.checks.auth.details import AuthDetails
from mailqa.core.message import Envelope, ParsedMessage
from mailqa.net.dns import DnsResolver
from mailqa.resources import check_context
from mailqa.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SENDING_IP = "11.22.33.44"  # a public-range label: no traffic goes to it
SELECTOR = "sel"
RUA = "rua=mailto:reports@shop.example"


@dataclass(frozen=True)
class Case:
    id: str
    records: Mapping[str, Sequence[str]]
    """TXT strings by name (the _dmarc records); names listed in ``exists`` get an A record."""
    from_domain: str
    result: str
    applied: str | None
    record_domain: str | None
    """The domain whose record RFC 7489 uses; None: no record used."""
    rules: frozenset[str] = frozenset()
    """Every auth.dmarc-* finding expected, no more."""
    names: tuple[str, ...] = ()
    """Text the DMARC findings' messages must hold (the broken tag=value, the policies)."""
    spf: Literal["pass", "fail"] = "fail"
    spf_domain: str | None = None
    """The MAIL FROM domain; the From domain when None."""
    dkim_domain: str | None = None
    exists: tuple[str, ...] = ()
    walk_record: str | None = "same"
    """The domain whose record the DMARCbis tree walk uses; "same": record_domain."""
    walk_org: str | None = None
    """The tree walk's organizational domain; None: the From domain's registered domain."""
    walk_applied: str | None = "same"
    walk_queried: tuple[str, ...] = ()
    """The names the tree walk queries, when the case is about them."""
    sampled_out: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    """Further TXT data (SPF records and the like)."""


def _rules(*names: str) -> frozenset[str]:
    return frozenset(f"auth.dmarc-{n}" for n in names)


CASES = [
    # --- RFC 7489: the basics -----------------------------------------------------------------
    Case(
        "aligned-spf-pass",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject"]},
        "shop.example",
        "pass",
        "none",
        "shop.example",
        spf="pass",
    ),
    Case(
        "fail-applies-reject",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject"]},
        "shop.example",
        "fail",
        "reject",
        "shop.example",
        _rules("fail"),
    ),
    Case(
        "relaxed-dkim-alignment-of-a-subdomain-signature",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject"]},
        "shop.example",
        "pass",
        "none",
        "shop.example",
        dkim_domain="mail.shop.example",
    ),
    Case(
        "org-domain-fallback-applies-sp",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; sp=quarantine"]},
        "news.shop.example",
        "fail",
        "quarantine",
        "shop.example",
        _rules("fail"),
        walk_org="shop.example",
    ),
    Case(
        "sp-on-an-existing-subdomain-despite-np",
        {"_dmarc.shop.example": ["v=DMARC1; p=none; sp=quarantine; np=reject"]},
        "www.shop.example",
        "fail",
        "quarantine",
        "shop.example",
        _rules("fail", "policy-none"),
        exists=("www.shop.example",),
        walk_org="shop.example",
    ),
    Case(
        "np-on-a-non-existent-subdomain-rfc9091",
        {"_dmarc.shop.example": ["v=DMARC1; p=none; sp=quarantine; np=reject"]},
        "ghost.shop.example",
        "fail",
        "reject",
        "shop.example",
        _rules("fail", "policy-none"),
        walk_org="shop.example",
    ),
    Case(
        "record-at-the-from-domain-wins-over-the-org-domain",
        {
            "_dmarc.news.shop.example": ["v=DMARC1; p=none"],
            "_dmarc.shop.example": ["v=DMARC1; p=reject"],
        },
        "news.shop.example",
        "fail",
        "none",
        "news.shop.example",
        _rules("fail", "policy-none"),
        walk_org="shop.example",
    ),
    Case(
        "no-record",
        {"_dmarc.other.example": ["v=DMARC1; p=reject"]},
        "shop.example",
        "none",
        None,
        None,
        _rules("missing"),
    ),
    Case(
        "a-txt-record-that-is-not-dmarc-is-no-record",
        {"_dmarc.shop.example": ["v=spf1 -all"]},
        "shop.example",
        "none",
        None,
        None,
        _rules("missing"),
    ),
    # --- broken records (RFC 7489 sections 6.3 and 6.6.3 step 6) -----------------------------
    Case(
        "invalid-p-without-rua-discards-the-record",
        {"_dmarc.shop.example": ["v=DMARC1; p=rejectt"]},
        "shop.example",
        "none",
        None,
        None,
        _rules("record-ignored"),
        ("p=rejectt", "no DMARC policy"),
    ),
    Case(
        "missing-p-without-rua-discards-the-record",
        {"_dmarc.shop.example": ["v=DMARC1; sp=reject"]},
        "shop.example",
        "none",
        None,
        None,
        _rules("record-ignored"),
        ("no p= tag",),
    ),
    Case(
        "invalid-p-with-rua-reads-as-none",
        {"_dmarc.shop.example": [f"v=DMARC1; p=bogus; {RUA}"]},
        "shop.example",
        "fail",
        "none",
        "shop.example",
        _rules("record-read-as-none", "fail", "policy-none"),
        ("p=bogus", "p=none"),
    ),
    Case(
        "invalid-sp-discards-the-record",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; sp=rejected"]},
        "news.shop.example",
        "none",
        None,
        None,
        _rules("record-ignored"),
        ("sp=rejected", "no DMARC policy"),
        walk_org="shop.example",
    ),
    Case(
        "invalid-sp-with-rua-reads-as-none-also-for-the-domain-itself",
        {"_dmarc.shop.example": [f"v=DMARC1; p=reject; sp=maybe; {RUA}"]},
        "shop.example",
        "fail",
        "none",
        "shop.example",
        _rules("record-read-as-none", "fail", "policy-none"),
        ("sp=maybe", "p=none"),
    ),
    Case(
        "invalid-adkim-falls-back-to-relaxed",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; adkim=strict"]},
        "shop.example",
        "pass",
        "none",
        "shop.example",
        _rules("tag-invalid"),
        ("adkim=strict", "adkim=r"),
        dkim_domain="mail.shop.example",
    ),
    Case(
        "invalid-aspf-falls-back-to-relaxed",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; aspf=x"]},
        "shop.example",
        "pass",
        "none",
        "shop.example",
        _rules("tag-invalid"),
        ("aspf=x", "aspf=r"),
        spf="pass",
        spf_domain="bounce.shop.example",
    ),
    Case(
        "invalid-pct-falls-back-to-100",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; pct=150"]},
        "shop.example",
        "fail",
        "reject",
        "shop.example",
        _rules("tag-invalid", "fail"),
        ("pct=150", "pct=100"),
    ),
    Case(
        "invalid-fo-falls-back-to-0",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; fo=2; ruf=mailto:f@shop.example"]},
        "shop.example",
        "pass",
        "none",
        "shop.example",
        _rules("tag-invalid"),
        ("fo=2", "fo=0"),
        spf="pass",
    ),
    Case(
        "invalid-ri-and-rf-fall-back-to-defaults",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; ri=daily; rf=iodef"]},
        "shop.example",
        "pass",
        "none",
        "shop.example",
        _rules("tag-invalid"),
        ("ri=daily", "ri=86400", "rf=iodef", "rf=afrf"),
        spf="pass",
    ),
    Case(
        "repeated-tag-discards-the-record",
        {"_dmarc.shop.example": ["v=DMARC1; p=none; p=reject"]},
        "shop.example",
        "none",
        None,
        None,
        _rules("record-ignored"),
        ("p= appears more than once",),
    ),
    Case(
        "v-not-first-is-not-a-record",
        {"_dmarc.shop.example": ["p=reject; v=DMARC1"]},
        "shop.example",
        "none",
        None,
        None,
        _rules("record-ignored"),
        ("not as its first tag",),
    ),
    Case(
        "p-not-second-is-accepted-and-reported",
        {"_dmarc.shop.example": [f"v=DMARC1; {RUA}; p=reject"]},
        "shop.example",
        "fail",
        "reject",
        "shop.example",
        _rules("record-nonconformant", "fail"),
        ("p= is not the tag right after v=", "DMARCbis"),
    ),
    Case(
        "unknown-tag-is-ignored",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; foo=bar"]},
        "shop.example",
        "pass",
        "none",
        "shop.example",
        _rules("record-nonconformant"),
        ("unknown tag foo=",),
        spf="pass",
    ),
    Case(
        "several-records-at-the-from-domain-mean-no-dmarc",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject", "v=DMARC1; p=none"]},
        "shop.example",
        "none",
        None,
        None,
        _rules("record-ignored"),
        ("2 DMARC records at one name", "no DMARC policy applies"),
    ),
    # --- pct= (RFC 7489 section 6.6.4) ----------------------------------------------------
    Case(
        "pct-0-reject-applies-quarantine",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; pct=0"]},
        "shop.example",
        "fail",
        "quarantine",
        "shop.example",
        _rules("fail", "pct"),
        ("pct=0", "quarantine", "t=y"),
        walk_applied="reject",
        sampled_out="quarantine",
    ),
    Case(
        "pct-0-quarantine-applies-none",
        {"_dmarc.shop.example": ["v=DMARC1; p=quarantine; pct=0"]},
        "shop.example",
        "fail",
        "none",
        "shop.example",
        _rules("fail", "pct"),
        ("pct=0",),
        walk_applied="quarantine",
        sampled_out="none",
    ),
    Case(
        "pct-50-reports-both-policies",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; pct=50"]},
        "shop.example",
        "fail",
        "reject",
        "shop.example",
        _rules("fail", "pct"),
        ("reject for 50% of failing mail, quarantine for the rest",),
        sampled_out="quarantine",
    ),
    Case(
        "pct-100-is-the-whole-policy",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; pct=100"]},
        "shop.example",
        "fail",
        "reject",
        "shop.example",
        _rules("fail"),
    ),
    # --- DMARCbis: tags and the DNS tree walk ------------------------------------------------
    Case(
        "t-y-lowers-the-policy-for-dmarcbis-only",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; t=y"]},
        "shop.example",
        "fail",
        "reject",
        "shop.example",
        _rules("fail", "testing"),
        walk_applied="quarantine",
    ),
    Case(
        "invalid-psd-and-t-fall-back-to-defaults",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; psd=maybe; t=yes"]},
        "shop.example",
        "fail",
        "reject",
        "shop.example",
        _rules("fail", "tag-invalid"),
        ("psd=maybe", "psd=u", "t=yes", "t=n"),
    ),
    Case(
        "invalid-np-is-skipped-by-rfc7489-and-discards-the-record-for-dmarcbis",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; np=never"]},
        "shop.example",
        "fail",
        "reject",
        "shop.example",
        _rules("fail", "record-ignored", "discovery-differs"),
        ("np=never", "DMARCbis", "policy p=reject"),
        walk_record=None,
        walk_applied=None,
    ),
    Case(
        "tree-walk-finds-a-psd-record-the-psl-method-does-not",
        # github.io is a private suffix on the Public Suffix List: RFC 7489 reads only
        # _dmarc.shop.github.io; the tree walk goes on to _dmarc.github.io (psd=y).
        {"_dmarc.github.io": ["v=DMARC1; p=reject; psd=y"]},
        "shop.github.io",
        "none",
        None,
        None,
        _rules("missing", "discovery-differs"),
        ("no usable record", "the record at _dmarc.github.io", "shop.github.io"),
        walk_record="github.io",
        walk_org="shop.github.io",
        walk_applied="reject",
        walk_queried=("shop.github.io", "github.io"),  # psd=y stops the walk
    ),
    Case(
        "psd-n-on-a-department-domain-moves-the-org-domain",
        {
            "_dmarc.dept.shop.example": ["v=DMARC1; p=quarantine; psd=n"],
            "_dmarc.shop.example": ["v=DMARC1; p=reject"],
        },
        "a.dept.shop.example",
        "pass",
        "none",
        "shop.example",
        _rules("discovery-differs", "alignment-differs"),
        ("organizational domain dept.shop.example", "DKIM aligns", "does not under DMARCbis"),
        dkim_domain="shop.example",
        walk_record="dept.shop.example",
        walk_org="dept.shop.example",
        walk_applied="quarantine",
        walk_queried=("a.dept.shop.example", "dept.shop.example"),  # psd=n stops it
    ),
    Case(
        "intermediate-record-without-psd-both-methods-agree",
        {
            "_dmarc.dept.shop.example": ["v=DMARC1; p=quarantine"],
            "_dmarc.shop.example": ["v=DMARC1; p=reject"],
        },
        "a.dept.shop.example",
        "fail",
        "reject",
        "shop.example",
        _rules("fail"),
        walk_org="shop.example",
        # no psd=: the walk reads every level; the record with the fewest labels is the org's
        walk_queried=("a.dept.shop.example", "dept.shop.example", "shop.example", "example"),
    ),
    Case(
        "several-records-at-a-subdomain-stop-rfc7489-but-not-the-tree-walk",
        {
            "_dmarc.news.shop.example": ["v=DMARC1; p=none", "v=DMARC1; p=quarantine"],
            "_dmarc.shop.example": ["v=DMARC1; p=reject"],
        },
        "news.shop.example",
        "none",
        None,
        None,
        _rules("record-ignored", "discovery-differs"),
        ("2 DMARC records at one name", "the walk goes on up the tree", "_dmarc.shop.example"),
        walk_record="shop.example",
        walk_org="shop.example",
        walk_applied="reject",
    ),
    Case(
        "deep-from-domain-walk-shortcut",
        {"_dmarc.shop.example": ["v=DMARC1; p=reject; sp=quarantine"]},
        "a.b.c.d.e.f.g.h.shop.example",
        "fail",
        "quarantine",
        "shop.example",
        _rules("fail"),
        walk_org="shop.example",
        # 10 labels: the From domain, then straight to its last 7 labels, then up to "example"
        walk_queried=(
            "a.b.c.d.e.f.g.h.shop.example",
            "d.e.f.g.h.shop.example",
            "e.f.g.h.shop.example",
            "f.g.h.shop.example",
            "g.h.shop.example",
            "h.shop.example",
            "shop.example",
            "example",
        ),
    ),
]

CLI_CASES = {
    "invalid-sp-discards-the-record",
    "pct-0-reject-applies-quarantine",
    "tree-walk-finds-a-psd-record-the-psl-method-does-not",
    "psd-n-on-a-department-domain-moves-the-org-domain",
}


@dataclass(frozen=True)
class Key:
    private_pem: bytes
    public_b64: str


@pytest.fixture(scope="module")
def key() -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Key(pem, base64.b64encode(der).decode())


@pytest.fixture(scope="module")
def zone() -> Iterator[ZoneServer]:
    with ZoneServer() as server:
        yield server


def zone_data(case: Case, key: Key) -> dict[str, list[Record]]:
    data: dict[str, list[Record]] = {}
    for name, texts in {**case.records, **{k: [v] for k, v in case.extra.items()}}.items():
        data.setdefault(name, []).extend(Record("TXT", (t,)) for t in texts)
    spf_domain = case.spf_domain or case.from_domain
    spf = f"v=spf1 ip4:{SENDING_IP} -all" if case.spf == "pass" else "v=spf1 -all"
    data.setdefault(spf_domain, []).append(Record("TXT", (spf,)))
    if case.dkim_domain:
        name = f"{SELECTOR}._domainkey.{case.dkim_domain}"
        data[name] = [Record("TXT", (f"v=DKIM1; k=rsa; p={key.public_b64}",))]
    for name in case.exists:
        data.setdefault(name, []).append(Record("A", SENDING_IP))
    return data


def message(case: Case, key: Key) -> bytes:
    body = (
        f"From: Shop <news@{case.from_domain}>\r\n"
        "To: someone@receiver.example\r\n"
        "Subject: Weekly offers\r\n"
        "Date: Mon, 06 Jan 2025 10:00:00 +0000\r\n"
        f"Message-ID: <1@{case.from_domain}>\r\n"
        "\r\n"
        "Hello there.\r\n"
    ).encode()
    if case.dkim_domain is None:
        return body
    signature = dkim.sign(
        body,
        SELECTOR.encode(),
        case.dkim_domain.encode(),
        key.private_pem,
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    return bytes(signature) + body


def mail_from(case: Case) -> str:
    return f"bounce@{case.spf_domain or case.from_domain}"


def check_case(case: Case, details: AuthDetails, findings: list[tuple[str, str]]) -> None:
    """The assertions every case makes, in process or through the command."""
    dm = details.dmarc
    expected_spf = case.spf
    assert details.spf.result == expected_spf, details.spf.reason
    assert details.dkim_result == ("pass" if case.dkim_domain else "none")
    assert (dm.result, dm.applied_policy) == (case.result, case.applied), dm.reason
    used = dm.record_domain if dm.record is not None else None
    assert used == case.record_domain, dm.reason
    assert dm.sampled_out_policy == case.sampled_out
    walk = dm.tree_walk
    assert walk is not None and walk.complete, walk
    walk_record = case.record_domain if case.walk_record == "same" else case.walk_record
    assert (walk.record_domain if walk.record else None) == walk_record, walk
    assert walk.organizational_domain == (case.walk_org or dm.organizational_domain)
    assert walk.queried[0] == f"_dmarc.{case.from_domain}" and len(walk.queried) <= 8
    if case.walk_queried:
        assert walk.queried == [f"_dmarc.{name}" for name in case.walk_queried]
    if walk_record is not None:
        walk_applied = case.applied if case.walk_applied == "same" else case.walk_applied
        if case.result == "fail" or walk.result == "fail":
            assert walk.applied_policy == walk_applied, walk
    dmarc_findings = [(rule, text) for rule, text in findings if rule.startswith("auth.dmarc-")]
    assert {rule for rule, _ in dmarc_findings} == case.rules, dmarc_findings
    said = " ".join(text for _, text in dmarc_findings)
    for name in case.names:
        assert name in said, (name, said)
    header = details.authentication_results
    if case.result in ("pass", "fail") and dm.policy:
        assert f"dis={(case.applied or 'none').upper()})" in header


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_dmarc_case(case: Case, key: Key, zone: ZoneServer) -> None:
    zone.load(zone_data(case, key))
    resolver = DnsResolver([zone.address], timeout=2.0)
    msg = ParsedMessage(
        message(case, key),
        Envelope(mail_from=mail_from(case), client_ip=SENDING_IP, helo="mta.sender.example"),
    )
    ctx = check_context(Settings(dns_servers=[zone.address]), resolver=resolver)
    result = await AuthCheck().run(msg, ctx)
    details = AuthDetails.model_validate(result.details)
    check_case(case, details, [(f.rule, f.message) for f in result.findings])


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILQA_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env["NO_COLOR"] = "1"
    return env


@pytest.mark.parametrize("case", [c for c in CASES if c.id in CLI_CASES], ids=sorted(CLI_CASES))
def test_dmarc_case_through_the_command(
    case: Case, key: Key, zone: ZoneServer, tmp_path: Path
) -> None:
    zone.load(zone_data(case, key))
    trace = (
        f"Return-Path: <{mail_from(case)}>\r\n"
        f"Received: from mta.sender.example (mta.sender.example [{SENDING_IP}])\r\n"
        "\tby mx.receiver.example with ESMTP id 1; Mon, 06 Jan 2025 10:00:01 +0000\r\n"
    ).encode()
    (tmp_path / "message.eml").write_bytes(trace + message(case, key))
    args = ["--checks", "auth", "--dns-server", zone.address, "--format", "json"]
    proc = subprocess.run(
        [sys.executable, "-m", "mailqa.cli.main", "check", *args, "message.eml"],
        cwd=tmp_path,
        env=_cli_env(),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr.decode()
    [entry] = json.loads(proc.stdout)["files"]
    auth = entry["report"]["checks"]["auth"]
    details = AuthDetails.model_validate(auth["details"])
    check_case(case, details, [(f["rule"], f["message"]) for f in auth["findings"]])
