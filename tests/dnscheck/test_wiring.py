"""Both checks through the real context builder and pipeline, as the CLI and server run them."""

from __future__ import annotations

from tests.dnscheck.conftest import LISTED_IP, DnsLab
from tests.dnscheck.test_auth import message, sign

from mailqa.checks import build_checks
from mailqa.core.message import Envelope, ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import Status
from mailqa.net.dns import DnsResolver
from mailqa.resources import open_check_context


async def test_pipeline_runs_auth_and_blacklist(dns_lab: DnsLab) -> None:
    settings = dns_lab.settings(auth_serv_id="qa.test")
    async with open_check_context(settings, checks=["auth", "blacklist"]) as ctx:
        assert isinstance(ctx.resolver, DnsResolver)
        assert ctx.resolver.servers == [dns_lab.nsd.address]
        raw = sign(message(), dns_lab.keys.good_private)
        msg = ParsedMessage(raw, Envelope(mail_from="b@good.example", client_ip=LISTED_IP))
        report = await Pipeline(build_checks(["auth", "blacklist"])).run(msg, ctx)
        misses = ctx.resolver.stats.misses
        # a second message reuses the cached answers: no new lookup
        await Pipeline(build_checks(["auth", "blacklist"])).run(msg, ctx)
        assert ctx.resolver.stats.misses == misses and ctx.resolver.stats.hits >= misses
    auth, blacklist = report.checks["auth"], report.checks["blacklist"]
    assert auth.details["dmarc"]["result"] == "pass"
    assert auth.details["authentication_results"].startswith("Authentication-Results: qa.test;")
    assert blacklist.status == Status.FAILED and report.status == Status.FAILED


async def test_offline_gives_no_resolver_and_skips(dns_lab: DnsLab) -> None:
    async with open_check_context(dns_lab.settings(), offline=True, checks=["auth"]) as ctx:
        assert ctx.resolver is None
        report = await Pipeline(build_checks(["auth", "blacklist"])).run(
            ParsedMessage(message()), ctx
        )
    assert {r.status for r in report.checks.values()} == {Status.SKIPPED}


async def test_dns_servers_setting_parses_csv(dns_lab: DnsLab) -> None:
    from mailqa.settings import Settings

    settings = Settings(_env_file=None, dns_servers="127.0.0.1:5353, [::1]:53")
    assert settings.dns_servers == ["127.0.0.1:5353", "[::1]:53"]
    del dns_lab
