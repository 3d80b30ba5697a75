"""The managed spamd with its network rules on, querying the session's NSD (``dns_lab``).

NSD serves a ``zen.spamhaus.org`` zone that lists LISTED_IP: SpamAssassin's own RBL rules
(RCVD_IN_SBL for 127.0.0.2, RCVD_IN_XBL for 127.0.0.4, both on zen.spamhaus.org) fire for a
message received from it, and not for one received from an unlisted address. Every other
zone SpamAssassin asks about is refused at once by NSD, so the scan stays fast.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from tests.dnscheck.conftest import GOOD_IP, LISTED_IP, DnsLab

from mailqa.checks.spam import SpamCheck, SpamDetails
from mailqa.core.message import Envelope, ParsedMessage
from mailqa.net.spamd.client import SpamdClient
from mailqa.net.spamd.provision import open_spamd, spamd_dns_server
from mailqa.resources import check_context
from mailqa.settings import Settings

SAMPLES = Path(__file__).parent / "samples"
RBL_RULES = {"RCVD_IN_SBL", "RCVD_IN_XBL"}


@pytest.fixture(scope="module")
def network_settings(dns_lab: DnsLab) -> Settings:
    # No MAILQA_SPAMD_DNS_SERVER: the managed spamd uses the first of MAILQA_DNS_SERVERS.
    return Settings(spamd_network_rules=True, spamd_children=1, dns_servers=[dns_lab.nsd.address])


@pytest.fixture(scope="module")
async def network_spamd(
    spamd_installed: None, network_settings: Settings
) -> AsyncIterator[SpamdClient]:
    async with AsyncExitStack() as stack:
        client, reason = await open_spamd(network_settings, stack)
        assert client is not None, reason
        yield client


async def scan(client: SpamdClient, settings: Settings, ip: str) -> SpamDetails:
    raw = (SAMPLES / "order_shipped.eml").read_bytes()
    msg = ParsedMessage(raw, Envelope(client_ip=ip, helo="mta.good.example"))
    result = await SpamCheck().run(msg, check_context(settings, spamd=client))
    details = SpamDetails.model_validate(result.details)
    assert details.outcome == "scored", result.summary
    return details


async def test_rbl_rules_fire_for_an_ip_listed_in_the_test_zone(
    network_spamd: SpamdClient, network_settings: Settings
) -> None:
    details = await scan(network_spamd, network_settings, LISTED_IP)
    fired = {rule.name: rule for rule in details.rules}
    assert set(fired) >= RBL_RULES, sorted(fired)
    # Only NSD knows the listing: the rules prove spamd asked the configured server.
    assert fired["RCVD_IN_SBL"].score > 0 and fired["RCVD_IN_XBL"].score > 0
    assert "ALL_TRUSTED" not in fired


async def test_rbl_rules_stay_quiet_for_an_unlisted_ip(
    network_spamd: SpamdClient, network_settings: Settings
) -> None:
    details = await scan(network_spamd, network_settings, GOOD_IP)
    assert not RBL_RULES & {rule.name for rule in details.rules}


def test_spamd_dns_server_defaults_to_the_first_dns_server() -> None:
    assert spamd_dns_server(Settings()) is None
    assert spamd_dns_server(Settings(dns_servers=["127.0.0.1:5353", "10.0.0.1"])) == (
        "127.0.0.1:5353"
    )
    assert spamd_dns_server(Settings(dns_servers=["::1"])) == "[::1]:53"
    assert spamd_dns_server(Settings(dns_servers=["[2001:db8::1]:5353"])) == "[2001:db8::1]:5353"
    explicit = Settings(spamd_dns_server="192.0.2.53:53", dns_servers=["127.0.0.1:5353"])
    assert spamd_dns_server(explicit) == "192.0.2.53:53"
