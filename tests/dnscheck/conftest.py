"""One NSD for the session, serving test zones generated here (DKIM keys made per run)."""

from __future__ import annotations

import base64
import ipaddress
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.dnscheck.nsd import NsdServer, free_port, txt_record, zone_text

from mailqa.net.dns import DnsResolver
from mailqa.settings import Settings

# Public-range addresses used only as labels inside the test zones: no traffic goes to them.
GOOD_IP = "11.22.33.44"  # allowed by good.example, PTR + forward confirmed
NO_PTR_IP = "11.22.33.46"  # allowed by good.example, no PTR
PROVIDER_IP = "44.55.66.77"  # allowed through include:_spf.provider.example
STRANGER_IP = "99.99.99.99"  # allowed by nobody
LISTED_IP = "11.22.33.99"  # on the test IP block list
LISTED_IP6 = "2a01:4f8::99"
DBL_ERROR_DOMAIN = "dblerror.example"  # Spamhaus DBL answers 127.0.1.255 (an error) for it


def nibbles(ip: str) -> str:
    """The reversed-nibble label of an IPv6 address (mapped IPv4 ones too)."""
    return ".".join(reversed(ipaddress.IPv6Address(ip).exploded.replace(":", "")))


@dataclass
class Keys:
    good_private: bytes
    good_public_b64: str
    weak_private: bytes | None
    weak_public_b64: str | None


def _public_b64(private_pem: bytes) -> str:
    key = serialization.load_pem_private_key(private_pem, password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _make_keys() -> Keys:
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good_pem = good.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    weak_pem: bytes | None = None
    openssl = shutil.which("openssl")
    if openssl:  # cryptography refuses to make keys under 1024 bits
        weak_pem = subprocess.run(
            [openssl, "genrsa", "-traditional", "512"], capture_output=True, check=True
        ).stdout
    return Keys(
        good_pem, _public_b64(good_pem), weak_pem, _public_b64(weak_pem) if weak_pem else None
    )


def _example_zone(keys: Keys) -> str:
    dkim = f"v=DKIM1; k=rsa; p={keys.good_public_b64}"
    includes = " ".join(f"include:i{n}.example" for n in range(1, 12))
    records = [
        # good.example: SPF with include, MX, DMARC reject, DKIM keys
        txt_record("good", "v=spf1 ip4:11.22.33.0/24 include:_spf.provider.example -all"),
        "good IN MX 10 mail.good.example.",
        "mail.good IN A 11.22.33.44",
        "mail.good IN A 11.22.33.46",
        txt_record("_dmarc.good", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@good.example"),
        txt_record("sel._domainkey.good", dkim),
        txt_record("_spf.provider", "v=spf1 ip4:44.55.66.0/24 ~all"),
        "bogus.good IN A 1.2.3.4",
        "web.good IN A 127.0.0.1",
        # monitor.example: DMARC p=none, SPF softfail
        txt_record("monitor", "v=spf1 ip4:11.22.33.44 ~all"),
        txt_record("_dmarc.monitor", "v=DMARC1; p=none"),
        "monitor IN MX 10 mail.good.example.",
        txt_record("sel._domainkey.monitor", dkim),
        # nodmarc.example: SPF only, no DMARC, no MX
        txt_record("nodmarc", "v=spf1 ip4:11.22.33.44 -all"),
        # a / mx mechanisms with CIDR
        txt_record("amx", "v=spf1 a mx/24 -all"),
        "amx IN A 12.0.0.1",
        "amx IN MX 10 mx.amx.example.",
        "mx.amx IN A 12.0.1.5",
        # 11 includes: the 11th DNS-querying term is over the limit
        txt_record("many", f"v=spf1 {includes} -all"),
        *[txt_record(f"i{n}", "v=spf1 -all") for n in range(1, 13)],
        # matches GOOD_IP with its first term, but the whole tree needs 12 lookups
        txt_record(
            "early",
            "v=spf1 ip4:11.22.33.0/24 "
            + " ".join(f"include:i{n}.example" for n in range(1, 13))
            + " -all",
        ),
        # matches GOOD_IP first; an include further on is broken or missing, one loops
        txt_record(
            "earlybad",
            "v=spf1 ip4:11.22.33.0/24 include:badsyntax.example include:nospf.example "
            "include:loop.example -all",
        ),
        txt_record("loop", "v=spf1 include:earlybad.example -all"),
        # the evaluation reaches the include of a domain without SPF (permerror)
        txt_record("incnone", "v=spf1 include:nospf.example -all"),
        # strict.example: DMARC with strict alignment (adkim=s, aspf=s)
        txt_record("strict", "v=spf1 ip4:11.22.33.0/24 -all"),
        txt_record("_dmarc.strict", "v=DMARC1; p=reject; adkim=s; aspf=s"),
        txt_record("sel._domainkey.strict", dkim),
        "strict IN MX 10 mail.good.example.",
        "news.strict IN MX 10 mail.good.example.",
        # np.example: DMARCbis np= for non-existent subdomains
        txt_record("np", "v=spf1 ip4:11.22.33.0/24 -all"),
        txt_record("_dmarc.np", "v=DMARC1; p=none; sp=quarantine; np=reject"),
        "np IN MX 10 mail.good.example.",
        "www.np IN A 11.22.33.44",
        # testing.example: DMARCbis t=y (testing) and psd=n
        txt_record("testing", "v=spf1 ip4:11.22.33.0/24 -all"),
        txt_record("_dmarc.testing", "v=DMARC1; p=reject; t=y; psd=n"),
        "testing IN MX 10 mail.good.example.",
        # three void lookups
        txt_record("void", "v=spf1 a:n1.void.example a:n2.void.example a:n3.void.example -all"),
        txt_record("redir", "v=spf1 redirect=good.example"),
        txt_record("redirnone", "v=spf1 redirect=nothing-here.example"),
        txt_record("macro", "v=spf1 exists:%{i}._spf.%{d} -all"),
        "11.22.33.44._spf.macro IN A 127.0.0.2",
        txt_record("ptr", "v=spf1 ptr:good.example -all"),
        txt_record("v6", "v=spf1 ip6:2a01:4f8::/32 -all"),
        txt_record("badsyntax", "v=spf1 ip4:300.1.1.1 -all"),
        txt_record("twice", "v=spf1 -all"),
        txt_record("twice", "v=spf1 +all"),
        txt_record("open", "v=spf1 +all"),
        txt_record("open", "some other text"),
        "nospf IN MX 10 mail.good.example.",
    ]
    if keys.weak_public_b64:
        records.append(
            txt_record("weak._domainkey.good", f"v=DKIM1; k=rsa; p={keys.weak_public_b64}")
        )
    return zone_text("example.", records)


def _reverse_zone() -> str:
    return zone_text(
        "33.22.11.in-addr.arpa.",
        ["44 IN PTR mail.good.example.", "45 IN PTR bogus.good.example."],
    )


def _blocklist_zones() -> dict[str, str]:
    ip6_listed = ".".join(reversed("2a0104f8000000000000000000000099"))
    return {
        "ipbl.test.": zone_text(
            "ipbl.test.",
            [
                "2.0.0.127 IN A 127.0.0.2",
                txt_record("2.0.0.127", "test point"),
                "99.33.22.11 IN A 127.0.0.2",
                "99.33.22.11 IN A 127.0.0.4",
                txt_record("99.33.22.11", "Listed for spam, see https://ipbl.test/99"),
                f"{ip6_listed} IN A 127.0.0.2",
                f"{nibbles('::ffff:7f00:2')} IN A 127.0.0.2",
            ],
        ),
        # an IPv6-only list: it lists the IPv6 test point (::FFFF:7F00:2), not 127.0.0.2
        "ip6bl.test.": zone_text(
            "ip6bl.test.",
            [
                f"{nibbles('::ffff:7f00:2')} IN A 127.0.0.2",
                f"{nibbles(LISTED_IP6)} IN A 127.0.0.3",
            ],
        ),
        # The real zone names the bundled rules/dnsbl.yaml and SpamAssassin's RBL rules
        # query, with their documented test points, a listed test IP and error answers.
        "zen.spamhaus.org.": zone_text(
            "zen.spamhaus.org.",
            [
                "2.0.0.127 IN A 127.0.0.2",
                "2.0.0.127 IN A 127.0.0.4",
                "2.0.0.127 IN A 127.0.0.10",
                "99.33.22.11 IN A 127.0.0.2",
                "99.33.22.11 IN A 127.0.0.4",
                txt_record("99.33.22.11", "https://check.spamhaus.org/query/ip/11.22.33.99"),
            ],
        ),
        "dbl.spamhaus.org.": zone_text(
            "dbl.spamhaus.org.",
            ["dbltest.com IN A 127.0.1.2", f"{DBL_ERROR_DOMAIN} IN A 127.0.1.255"],
        ),
        "multi.surbl.org.": zone_text("multi.surbl.org.", ["test.surbl.org IN A 127.0.0.254"]),
        "multi.uribl.com.": zone_text("multi.uribl.com.", ["test.uribl.com IN A 127.0.0.14"]),
        "dombl.test.": zone_text(
            "dombl.test.",
            [
                "test IN A 127.0.0.2",
                "evil.example IN A 127.0.0.6",
                "refused.example IN A 127.0.0.1",
            ],
        ),
        # a dead list: its test point is not listed
        "deadbl.test.": zone_text("deadbl.test.", []),
        # a list that refuses every query with an error code
        "refusebl.test.": zone_text("refusebl.test.", ["* IN A 127.255.255.254"]),
        # a list that lists everything (wildcard, a parked zone)
        "allbl.test.": zone_text("allbl.test.", ["* IN A 127.0.0.2"]),
    }


DNSBL_YAML = """
version: "test"
lists:
  - name: IPBL
    zone: ipbl.test
    kind: ip
    ipv6: true
    codes:
      127.0.0.2: spam source
      127.0.0.4: exploited host
    delist_url: https://ipbl.test/delist
  - name: DEADBL
    zone: deadbl.test
    kind: ip
  - name: REFUSEBL
    zone: refusebl.test
    kind: ip
  - name: ALLBL
    zone: allbl.test
    kind: ip
  - name: DOMBL
    zone: dombl.test
    kind: domain
    bitmask:
      2: black
      4: grey
      8: red
    error_codes: [127.0.0.1]
    delist_url: https://dombl.test/remove
  - name: IP6BL
    zone: ip6bl.test
    kind: ip
    ipv6: true
    codes:
      127.0.0.3: IPv6 spam source
  - name: OFFBL
    zone: off.test
    kind: ip
    enabled: false
"""


@dataclass
class DnsLab:
    nsd: NsdServer
    keys: Keys
    dnsbl_file: Path

    def resolver(self, **kwargs: float) -> DnsResolver:
        return DnsResolver([self.nsd.address], timeout=kwargs.pop("timeout", 2.0), **kwargs)  # type: ignore[arg-type]

    def settings(self, **kwargs: object) -> Settings:
        return Settings(
            dns_servers=[self.nsd.address],
            dnsbl_file=self.dnsbl_file,
            **kwargs,  # type: ignore[arg-type]
        )


@contextmanager
def running_dns_lab(work: Path) -> Iterator[DnsLab]:
    """NSD with the test zones, in ``work``. The session's one is the ``dns_lab`` fixture
    (tests/conftest.py: the gate tests use it too)."""
    keys = _make_keys()
    zones = {"example.": _example_zone(keys), "33.22.11.in-addr.arpa.": _reverse_zone()}
    zones.update(_blocklist_zones())
    lists = work / "dnsbl.yaml"
    lists.write_text(DNSBL_YAML)
    with NsdServer(work / "server", zones) as nsd:
        yield DnsLab(nsd, keys, lists)


@pytest.fixture
def resolver(dns_lab: DnsLab) -> DnsResolver:
    """A fresh resolver (empty cache) on the session NSD."""
    return dns_lab.resolver()


@pytest.fixture(scope="session")
def dead_server() -> str:
    """An address where no DNS server listens."""
    return f"127.0.0.1:{free_port()}"
