"""The auth check end to end: messages signed with keys published in NSD, real lookups."""

from __future__ import annotations

import dkim
import pytest
from tests.dnscheck.conftest import GOOD_IP, NO_PTR_IP, STRANGER_IP, DnsLab

from mailqa.checks.auth.check import AuthCheck
from mailqa.checks.auth.details import AuthDetails
from mailqa.core.address import organizational_domain, sending_ip
from mailqa.core.message import Envelope, ParsedMessage
from mailqa.core.report import CheckResult, Severity, Status
from mailqa.net.dns import DnsResolver
from mailqa.resources import check_context


def message(from_addr: str = "news@good.example", body: str = "Hello there.\r\n") -> bytes:
    return (
        f"From: Shop <{from_addr}>\r\n"
        "To: someone@receiver.example\r\n"
        "Subject: Weekly offers\r\n"
        "Date: Mon, 06 Jan 2025 10:00:00 +0000\r\n"
        "Message-ID: <1@good.example>\r\n"
        "\r\n" + body
    ).encode()


def sign(raw: bytes, key: bytes, domain: str = "good.example", selector: str = "sel") -> bytes:
    header = dkim.sign(
        raw,
        selector.encode(),
        domain.encode(),
        key,
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    return bytes(header) + raw


async def run_auth(
    dns_lab: DnsLab,
    raw: bytes,
    ip: str | None = GOOD_IP,
    mail_from: str | None = "bounce@good.example",
    resolver: DnsResolver | None = None,
) -> tuple[CheckResult, AuthDetails]:
    msg = ParsedMessage(raw, Envelope(mail_from=mail_from, client_ip=ip, helo="mta.good.example"))
    ctx = check_context(dns_lab.settings(), resolver=resolver or dns_lab.resolver())
    result = await AuthCheck().run(msg, ctx)
    return result, AuthDetails.model_validate(result.details)


def rules(result: CheckResult) -> set[str]:
    return {f.rule for f in result.findings}


async def test_aligned_pass(dns_lab: DnsLab) -> None:
    result, d = await run_auth(dns_lab, sign(message(), dns_lab.keys.good_private))
    assert (d.spf.result, d.dkim_result, d.dmarc.result, d.arc.result) == (
        "pass",
        "pass",
        "pass",
        "none",
    )
    sig = d.dkim[0]
    assert (sig.domain, sig.selector, sig.algorithm, sig.key_bits) == (
        "good.example",
        "sel",
        "rsa-sha256",
        2048,
    )
    assert sig.aligned and d.dmarc.spf_aligned and d.dmarc.dkim_aligned
    assert d.dmarc.policy == "reject" and d.dmarc.applied_policy == "none"
    assert d.posture.iprev == "pass" and d.posture.from_domain_mx == ["10 mail.good.example"]
    assert result.status == Status.PASSED and result.score == 100
    header = d.authentication_results
    assert header.startswith("Authentication-Results: localhost;")
    for part in (
        "spf=pass smtp.mailfrom=good.example",
        "dkim=pass header.d=good.example header.s=sel",
        "dmarc=pass (p=reject dis=NONE) header.from=good.example",
        "arc=none",
        f"iprev=pass policy.iprev={GOOD_IP}",
    ):
        assert part in header


async def test_tampered_body_fails_dkim_with_reason(dns_lab: DnsLab) -> None:
    signed = sign(message(), dns_lab.keys.good_private)
    tampered = signed.replace(b"Hello there.", b"Hello there!")
    result, d = await run_auth(dns_lab, tampered)
    assert d.dkim[0].result == "fail" and "body hash mismatch" in d.dkim[0].reason
    assert "auth.dkim-fail" in rules(result)
    # SPF still passes aligned, so DMARC passes on SPF alone
    assert d.dmarc.result == "pass" and d.dmarc.spf_aligned and not d.dmarc.dkim_aligned
    assert result.status == Status.FAILED


async def test_changed_signed_header_fails(dns_lab: DnsLab) -> None:
    signed = sign(message(), dns_lab.keys.good_private)
    _, d = await run_auth(dns_lab, signed.replace(b"Weekly offers", b"Daily offers"))
    assert d.dkim[0].result == "fail" and "did not verify" in d.dkim[0].reason


async def test_dmarc_fail_applies_reject(dns_lab: DnsLab) -> None:
    tampered = sign(message(), dns_lab.keys.good_private).replace(b"Hello", b"Howdy")
    result, d = await run_auth(dns_lab, tampered, ip=STRANGER_IP)
    assert d.spf.result == "fail" and d.dmarc.result == "fail"
    assert d.dmarc.applied_policy == "reject"
    assert {"auth.spf-fail", "auth.dmarc-fail"} <= rules(result)
    assert result.status == Status.FAILED and result.score is not None and result.score < 50
    assert "dmarc=fail (p=reject dis=REJECT)" in d.authentication_results


async def test_subdomain_uses_org_policy_and_relaxed_alignment(dns_lab: DnsLab) -> None:
    raw = sign(message("offers@news.good.example"), dns_lab.keys.good_private)
    _, d = await run_auth(dns_lab, raw)
    assert d.dmarc.from_domain == "news.good.example"
    assert d.dmarc.record_domain == "good.example" and d.dmarc.result == "pass"
    assert d.dkim[0].aligned  # relaxed: same organizational domain
    _, failed = await run_auth(dns_lab, message("offers@news.good.example"), ip=STRANGER_IP)
    assert failed.dmarc.result == "fail" and failed.dmarc.applied_policy == "quarantine"


async def test_unaligned_spf_pass_is_not_enough(dns_lab: DnsLab) -> None:
    # SPF passes for monitor.example, but the From domain is good.example
    _, d = await run_auth(dns_lab, message(), mail_from="bounce@monitor.example")
    assert d.spf.result == "pass" and not d.dmarc.spf_aligned
    assert d.dmarc.result == "fail"


async def test_missing_key_is_permerror(dns_lab: DnsLab) -> None:
    raw = sign(message(), dns_lab.keys.good_private, selector="missing")
    result, d = await run_auth(dns_lab, raw)
    assert d.dkim[0].result == "permerror" and "key not found" in d.dkim[0].reason
    assert "auth.dkim-permerror" in rules(result)


async def test_weak_key_is_flagged(dns_lab: DnsLab) -> None:
    if dns_lab.keys.weak_private is None:
        pytest.skip("openssl is needed to make a 512-bit key")
    raw = sign(message(), dns_lab.keys.weak_private, selector="weak")
    result, d = await run_auth(dns_lab, raw)
    assert d.dkim[0].key_bits == 512 and d.dkim[0].result == "fail"
    assert "too small" in d.dkim[0].reason
    assert "auth.dkim-weak-key" in rules(result)


async def test_unsigned_without_dmarc_or_mx(dns_lab: DnsLab) -> None:
    result, d = await run_auth(dns_lab, message("a@nodmarc.example"), mail_from="a@nodmarc.example")
    assert d.spf.result == "pass" and d.dkim_result == "none" and d.dmarc.result == "none"
    assert "dkim=none" in d.authentication_results
    assert {"auth.dkim-missing", "auth.dmarc-missing", "auth.no-mx"} <= rules(result)
    assert result.status == Status.WARNING


async def test_monitoring_policy_and_softfail(dns_lab: DnsLab) -> None:
    result, d = await run_auth(
        dns_lab, message("a@monitor.example"), ip=NO_PTR_IP, mail_from="a@monitor.example"
    )
    assert d.spf.result == "softfail" and d.dmarc.policy == "none"
    assert d.dmarc.result == "fail" and d.dmarc.applied_policy == "none"
    assert d.posture.iprev == "fail" and not d.posture.ptr_names
    assert {"auth.spf-softfail", "auth.dmarc-policy-none", "auth.no-ptr"} <= rules(result)
    assert result.status == Status.WARNING  # p=none: a DMARC fail is only a warning


async def test_spf_posture_findings(dns_lab: DnsLab) -> None:
    result, d = await run_auth(dns_lab, message(), mail_from="a@many.example")
    assert d.spf.result == "permerror" and "auth.spf-too-many-lookups" in rules(result)
    result, _ = await run_auth(dns_lab, message(), mail_from="a@open.example")
    assert "auth.spf-allows-all" in rules(result)


async def test_arc_chain_validates(dns_lab: DnsLab) -> None:
    raw = b"Authentication-Results: relay.good.example; spf=pass smtp.mailfrom=good.example\r\n"
    raw += sign(message(), dns_lab.keys.good_private)
    arc_headers = dkim.arc_sign(
        raw, b"sel", b"good.example", dns_lab.keys.good_private, b"relay.good.example"
    )
    sealed = b"".join(arc_headers) + raw
    _, d = await run_auth(dns_lab, sealed)
    assert d.arc.result == "pass" and d.arc.instances == 1
    broken = sealed.replace(b"Hello there.", b"Changed.")
    _, bad = await run_auth(dns_lab, broken)
    assert bad.arc.result == "fail"


async def test_dns_down_is_retryable_error(dns_lab: DnsLab, dead_server: str) -> None:
    resolver = DnsResolver([dead_server], timeout=0.3)
    result, d = await run_auth(
        dns_lab, sign(message(), dns_lab.keys.good_private), resolver=resolver
    )
    assert (d.spf.result, d.dkim_result, d.dmarc.result) == ("temperror",) * 3
    assert result.status == Status.ERRORED and result.retryable


async def test_without_resolver_is_skipped(dns_lab: DnsLab) -> None:
    msg = ParsedMessage(message())
    result = await AuthCheck().run(msg, check_context(dns_lab.settings()))
    assert result.status == Status.SKIPPED


async def test_sending_ip_from_received_chain(dns_lab: DnsLab) -> None:
    raw = (
        b"Received: from mail.good.example (mail.good.example [11.22.33.44])\r\n"
        b"\tby mx.receiver.example with ESMTP; Mon, 06 Jan 2025 10:00:01 +0000\r\n"
        b"Return-Path: <bounce@good.example>\r\n"
    ) + message()
    msg = ParsedMessage(raw, Envelope(client_ip="127.0.0.1"))
    ctx = check_context(dns_lab.settings(), resolver=dns_lab.resolver())
    d = AuthDetails.model_validate((await AuthCheck().run(msg, ctx)).details)
    assert d.spf.ip == GOOD_IP and d.spf.result == "pass" and d.spf.domain == "good.example"


@pytest.mark.parametrize(
    ("domain", "org"),
    [("mail.shop.co.uk", "shop.co.uk"), ("news.good.example", "good.example"), ("a.b", "a.b")],
)
def test_organizational_domain(domain: str, org: str) -> None:
    assert organizational_domain(domain) == org


# --- client addresses -------------------------------------------------------------------------


async def test_ipv4_mapped_client_ip_is_the_ipv4_address(dns_lab: DnsLab) -> None:
    """A dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d."""
    _, d = await run_auth(
        dns_lab, sign(message(), dns_lab.keys.good_private), ip=f"::ffff:{GOOD_IP}"
    )
    assert d.spf.ip == GOOD_IP and d.spf.result == "pass"
    assert d.posture.iprev == "pass" and d.dmarc.result == "pass"
    assert f"policy.iprev={GOOD_IP}" in d.authentication_results


def test_sending_ip_normalises_mapped_addresses() -> None:
    assert sending_ip(ParsedMessage(message(), Envelope(client_ip=f"::FFFF:{GOOD_IP}"))) == GOOD_IP
    hop = (
        f"Received: from mta.good.example (mta.good.example [::ffff:{GOOD_IP}])\r\n"
        "\tby mx.receiver.example with ESMTP; Mon, 06 Jan 2025 10:00:01 +0000\r\n"
    ).encode()
    msg = ParsedMessage(hop + message(), Envelope(client_ip="::ffff:127.0.0.1"))
    assert sending_ip(msg) == GOOD_IP
    assert sending_ip(ParsedMessage(message(), Envelope(client_ip="::ffff:127.0.0.1"))) == (
        "127.0.0.1"
    )
    assert sending_ip(ParsedMessage(message(), Envelope(client_ip="2a01:4f8::1"))) == "2a01:4f8::1"


async def test_loopback_client_ip_is_unknown_for_spf(dns_lab: DnsLab) -> None:
    """Mail captured over loopback: SPF for 127.0.0.1 would fail against any record, which
    says nothing about the real sender. SPF is skipped with the reason; DMARC is undecided
    unless DKIM passes aligned."""
    result, d = await run_auth(dns_lab, message(), ip="127.0.0.1")
    assert d.spf.result == "none" and not d.spf.evaluated and d.spf.ip is None
    assert "127.0.0.1 is not a public address" in d.spf.reason
    assert d.dmarc.result == "none" and d.dmarc.reason.startswith("not decided")
    assert d.dmarc.policy == "reject" and d.dmarc.applied_policy is None
    found = rules(result)
    assert {"auth.spf-not-evaluated", "auth.dmarc-not-evaluated", "auth.dkim-missing"} <= found
    assert not {"auth.spf-fail", "auth.dmarc-fail", "auth.no-ptr"} & found
    assert d.posture.iprev == "none" and "iprev=" not in d.authentication_results
    assert "dmarc=none header.from=good.example" in d.authentication_results
    assert result.status == Status.WARNING  # the missing DKIM signature, nothing worse

    signed, sd = await run_auth(dns_lab, sign(message(), dns_lab.keys.good_private), ip="::1")
    assert sd.spf.result == "none" and sd.dkim_result == "pass" and sd.dmarc.result == "pass"
    assert signed.status == Status.PASSED


async def test_dns_down_unsigned_message_is_retryable_error(
    dns_lab: DnsLab, dead_server: str
) -> None:
    """DKIM "none" (no signature) needs no DNS: it must not turn a DNS outage into a warning."""
    resolver = DnsResolver([dead_server], timeout=0.3)
    result, d = await run_auth(dns_lab, message(), resolver=resolver)
    assert (d.spf.result, d.dkim_result, d.dmarc.result) == ("temperror", "none", "temperror")
    assert result.status == Status.ERRORED and result.retryable
    loopback, _ = await run_auth(dns_lab, message(), ip="127.0.0.1", resolver=resolver)
    assert loopback.status == Status.ERRORED and loopback.retryable


# --- SPF record tree (posture) ----------------------------------------------------------------


async def test_spf_tree_over_the_lookup_limit_is_reported_when_ip4_matched_first(
    dns_lab: DnsLab,
) -> None:
    result, d = await run_auth(dns_lab, message(), mail_from="bounce@early.example")
    assert d.spf.result == "pass" and d.spf.matched == "ip4:11.22.33.0/24"
    assert d.spf.dns_lookups == 0
    tree = d.posture.spf_tree
    assert tree is not None and tree.domain == "early.example"
    assert tree.dns_lookups == 12 and tree.records == 13 and tree.complete and not tree.errors
    [finding] = [f for f in result.findings if f.rule == "auth.spf-record-too-many-lookups"]
    assert finding.data["dns_lookups"] == 12 and "matched earlier" in finding.message
    assert "auth.spf-too-many-lookups" not in rules(result)


async def test_spf_tree_errors_are_reported_when_ip4_matched_first(dns_lab: DnsLab) -> None:
    result, d = await run_auth(dns_lab, message(), mail_from="bounce@earlybad.example")
    assert d.spf.result == "pass"
    tree = d.posture.spf_tree
    assert tree is not None and tree.dns_lookups == 4  # 3 includes + the one of loop.example
    assert tree.errors == [
        "badsyntax.example: bad ip4 network: 'ip4:300.1.1.1'",
        "earlybad.example: include:nospf.example: nospf.example has no SPF record",
        "loop.example: include:earlybad.example: loops back to earlybad.example",
    ]
    assert "auth.spf-record-error" in rules(result)


async def test_spf_tree_does_not_repeat_what_the_evaluation_reported(dns_lab: DnsLab) -> None:
    result, d = await run_auth(dns_lab, message(), mail_from="a@many.example")
    assert d.spf.result == "permerror" and d.posture.spf_tree is not None
    assert d.posture.spf_tree.dns_lookups == 11
    assert "auth.spf-too-many-lookups" in rules(result)
    assert "auth.spf-record-too-many-lookups" not in rules(result)
    good, gd = await run_auth(dns_lab, message())
    assert gd.posture.spf_tree is not None and gd.posture.spf_tree.dns_lookups == 1
    assert not {"auth.spf-record-too-many-lookups", "auth.spf-record-error"} & rules(good)


async def test_spf_tree_does_not_repeat_a_missing_target_the_evaluation_reached(
    dns_lab: DnsLab,
) -> None:
    for domain, term in (
        ("incnone.example", "include:nospf.example"),
        ("redirnone.example", "redirect=nothing-here.example"),
    ):
        result, d = await run_auth(dns_lab, message(), mail_from=f"a@{domain}")
        assert d.spf.result == "permerror" and term in d.spf.reason
        assert d.posture.spf_tree is not None and len(d.posture.spf_tree.errors) == 1
        assert "auth.spf-permerror" in rules(result)
        assert "auth.spf-record-error" not in rules(result)


# --- DMARC: strict alignment and DMARCbis tags ------------------------------------------------


async def test_strict_alignment_needs_the_exact_from_domain(dns_lab: DnsLab) -> None:
    # SPF passes for strict.example and DKIM verifies for d=strict.example, but the From
    # domain is news.strict.example: relaxed alignment would pass, adkim=s / aspf=s do not.
    raw = sign(message("a@news.strict.example"), dns_lab.keys.good_private, "strict.example")
    result, d = await run_auth(dns_lab, raw, mail_from="bounce@strict.example")
    assert d.spf.result == "pass" and d.dkim_result == "pass"
    assert (d.dmarc.adkim, d.dmarc.aspf) == ("s", "s")
    assert not d.dmarc.spf_aligned and not d.dmarc.dkim_aligned and not d.dkim[0].aligned
    assert d.dmarc.result == "fail" and d.dmarc.applied_policy == "reject"
    assert "auth.dmarc-fail" in rules(result)
    # the exact From domain aligns
    raw = sign(message("a@strict.example"), dns_lab.keys.good_private, "strict.example")
    _, exact = await run_auth(dns_lab, raw, mail_from="bounce@strict.example")
    assert exact.dmarc.spf_aligned and exact.dmarc.dkim_aligned and exact.dmarc.result == "pass"


async def test_np_applies_to_non_existent_subdomains(dns_lab: DnsLab) -> None:
    result, d = await run_auth(
        dns_lab, message("a@ghost.np.example"), ip=STRANGER_IP, mail_from="b@np.example"
    )
    assert d.dmarc.record_domain == "np.example" and d.dmarc.nonexistent_policy == "reject"
    assert d.dmarc.from_domain_exists is False
    assert d.dmarc.result == "fail" and d.dmarc.applied_policy == "reject"
    assert d.dmarc.applied_tag == "np" and "does not exist" in d.dmarc.reason
    assert "dmarc=fail (p=none dis=REJECT)" in d.authentication_results
    [finding] = [f for f in result.findings if f.rule == "auth.dmarc-fail"]
    assert finding.severity == Severity.ERROR
    # an existing subdomain gets sp=, the domain itself p=
    _, www = await run_auth(
        dns_lab, message("a@www.np.example"), ip=STRANGER_IP, mail_from="b@np.example"
    )
    assert www.dmarc.from_domain_exists is True
    assert (www.dmarc.applied_tag, www.dmarc.applied_policy) == ("sp", "quarantine")
    _, top = await run_auth(
        dns_lab, message("a@np.example"), ip=STRANGER_IP, mail_from="b@np.example"
    )
    assert (top.dmarc.applied_tag, top.dmarc.applied_policy) == ("p", "none")
    assert top.dmarc.from_domain_exists is None  # not looked up: np= cannot apply


async def test_t_y_is_reported_as_testing_mode(dns_lab: DnsLab) -> None:
    result, d = await run_auth(
        dns_lab, message("a@testing.example"), ip=STRANGER_IP, mail_from="b@testing.example"
    )
    assert d.dmarc.testing and d.dmarc.psd == "n"
    assert d.dmarc.result == "fail" and d.dmarc.applied_policy == "reject"
    assert "t=y" in d.dmarc.reason
    [finding] = [f for f in result.findings if f.rule == "auth.dmarc-testing"]
    assert finding.severity == Severity.INFO and "RFC 7489" in finding.message
    _, good = await run_auth(dns_lab, message())
    assert not good.dmarc.testing and good.dmarc.psd is None
