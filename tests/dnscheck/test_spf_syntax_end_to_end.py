"""Broken SPF syntax gives permerror end to end, naming the broken term: through
``mailqa check --checks auth`` run as a process and through the HTTP API, both resolving
against a loopback DNS server. A fail carries the domain's exp= explanation, and the static
record-tree walk reports the same syntax errors in an include an evaluation never reached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.stack import base_settings, start_stack
from tests.support.zone_dns import Record, ZoneServer

from mailqa.checks.auth.spf import walk_spf_tree
from mailqa.net.dns import DnsResolver

ROOT = Path(__file__).resolve().parents[2]
SENDING_IP = "11.22.33.44"  # a public-range label: no traffic goes to it

# domain -> (its SPF record, the broken term a permerror finding must name)
BROKEN: dict[str, tuple[str, str]] = {
    "newline.example": (
        f"v=spf1 ip4:{SENDING_IP}\n include:other.example -all",
        f"ip4:{SENDING_IP}\n",
    ),
    "control.example": ("v=spf1 a:control.example\rptr -all", "a:control.example\rptr"),
    "toplabel.example": ("v=spf1 a:example.-com -all", "a:example.-com"),
    "redirect.example": ("v=spf1 redirect=-all", "redirect=-all"),
    "expmacro.example": ("v=spf1 -all exp=%{c}.why.example", "exp=%{c}.why.example"),
}
EXPLAINED = "explained.example"
EXPLANATION = f"{SENDING_IP} may not send for {EXPLAINED}, see https://explained.example/spf"
ZONE: dict[str, list[Record]] = {
    **{domain: [Record("TXT", (record,))] for domain, (record, _) in BROKEN.items()},
    EXPLAINED: [Record("TXT", ("v=spf1 -all exp=why.%{d}",))],
    f"why.{EXPLAINED}": [Record("TXT", ("%{c} may not send for %{d}, see https://%{d}/spf",))],
    # matches the sending IP first: only the tree walk reaches the broken include
    "parent.example": [Record("TXT", (f"v=spf1 ip4:{SENDING_IP} include:toplabel.example -all",))],
}


def subject(domain: str) -> str:
    return f"Weekly offers of {domain}"


def message(domain: str) -> bytes:
    return (
        f"Return-Path: <bounce@{domain}>\r\n"
        f"Received: from mta.{domain} (mta.{domain} [{SENDING_IP}])\r\n"
        "\tby mx.receiver.example with ESMTP id 1; Mon, 06 Jan 2025 10:00:01 +0000\r\n"
        f"From: News <news@{domain}>\r\n"
        "To: someone@receiver.example\r\n"
        f"Subject: {subject(domain)}\r\n"
        "Date: Mon, 06 Jan 2025 10:00:00 +0000\r\n"
        f"Message-ID: <1@{domain}>\r\n"
        "\r\n"
        "Hello there.\r\n"
    ).encode()


@pytest.fixture(scope="module")
def zone_server() -> Iterator[ZoneServer]:
    with ZoneServer() as server:
        server.load(ZONE)
        yield server


def assert_broken(domain: str, auth: dict[str, Any]) -> None:
    """The auth result of ``domain``'s message: permerror, its finding naming the term."""
    spf = auth["details"]["spf"]
    _, term = BROKEN[domain]
    assert spf["result"] == "permerror", spf
    (finding,) = [f for f in auth["findings"] if f["rule"] == "auth.spf-permerror"]
    assert repr(term) in finding["message"], finding["message"]


def assert_explained(auth: dict[str, Any]) -> None:
    assert auth["details"]["spf"]["result"] == "fail"
    assert auth["details"]["spf"]["explanation"] == EXPLANATION
    (finding,) = [f for f in auth["findings"] if f["rule"] == "auth.spf-fail"]
    assert EXPLANATION in finding["message"] and "550" in finding["message"]


def test_cli_process(tmp_path: Path, zone_server: ZoneServer) -> None:
    domains = [*BROKEN, EXPLAINED]
    for domain in domains:
        (tmp_path / f"{domain}.eml").write_bytes(message(domain))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILQA_")}
    env["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.run(
        [sys.executable, "-m", "mailqa.cli.main", "check", "--checks", "auth"]
        + ["--dns-server", zone_server.address, "--format", "json"]
        + [f"{domain}.eml" for domain in domains],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr.decode()  # SPF permerror and fail are errors
    files = {f["path"]: f for f in json.loads(proc.stdout)["files"]}
    for domain in BROKEN:
        assert_broken(domain, files[f"{domain}.eml"]["report"]["checks"]["auth"])
    assert_explained(files[f"{EXPLAINED}.eml"]["report"]["checks"]["auth"])


async def test_http_api(tmp_path: Path, zone_server: ZoneServer) -> None:
    settings = base_settings(
        tmp_path, checks=["auth"], offline=False, dns_servers=[zone_server.address]
    )
    async with start_stack(settings) as stack, stack.client() as c:
        project = (await c.post("/api/v1/projects", json={"name": "spf"})).json()
        inbox = (
            await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "spf"})
        ).json()
        uploaded: dict[str, int] = {}
        for domain in [*BROKEN, EXPLAINED]:  # all first: they are analysed concurrently
            response = await c.post(
                f"/api/v1/inboxes/{inbox['id']}/messages",
                content=message(domain),
                headers={"Content-Type": "message/rfc822"},
            )
            assert response.status_code in (200, 201, 202), response.text
            uploaded[domain] = response.json()["id"]
        reports: dict[str, dict[str, Any]] = {}
        for domain, mid in uploaded.items():
            latest = await c.get(
                f"/api/v1/inboxes/{inbox['id']}/messages/latest",
                params={"wait": 60, "analyzed": 1, "subject": subject(domain)},
            )
            assert latest.json()["id"] == mid, latest.text
            response = await c.get(f"/api/v1/messages/{mid}/report/auth")
            assert response.status_code == 200, response.text
            reports[domain] = response.json()
    for domain in BROKEN:
        assert_broken(domain, reports[domain])
    assert_explained(reports[EXPLAINED])


async def test_record_tree_walk_names_the_broken_term(zone_server: ZoneServer) -> None:
    resolver = DnsResolver([zone_server.address], timeout=1.0)
    tree = await walk_spf_tree(resolver, "parent.example")
    assert tree.errors == [
        "toplabel.example: bad domain in 'a:example.-com': "
        "it must end in a valid top label or a macro"
    ]
    for domain, (_, term) in BROKEN.items():
        (error,) = (await walk_spf_tree(resolver, domain)).errors
        assert error.startswith(f"{domain}: ") and repr(term) in error, error
