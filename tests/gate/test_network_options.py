"""--dns-server, --link-allow and --spamd-url reach the checks, against real servers.

NSD with the test zones (``dns_lab``), the session's spamd (``spamd``) and the loopback HTTP
server (``server``) come from tests/conftest.py. The HTTP server answers only while the
session's event loop runs, so the link tests are async and run the command in a thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dkim
import pytest
from tests.dnscheck.conftest import GOOD_IP, LISTED_IP, DnsLab
from tests.dnscheck.nsd import free_port
from tests.gate.conftest import ROOT, Gate, Outcome, write
from tests.links.local_http import LocalHttpServer

from mailqa.cli.check_cmd import _settings
from mailqa.cli.config import parse_config
from mailqa.cli.runner import needs_one_process, network_checks, pick_jobs
from mailqa.net.spamd.process import ManagedSpamd
from mailqa.settings import Settings

GTUBE = ROOT / "tests" / "spam" / "samples" / "gtube.eml"
SHIPPED = ROOT / "tests" / "spam" / "samples" / "order_shipped.eml"


def signed_eml(lab: DnsLab, *, tamper: bool = False, ip: str = GOOD_IP) -> bytes:
    """A message from good.example signed with the key NSD publishes, received from ``ip``."""
    body = (
        b"From: Shop <news@good.example>\r\n"
        b"To: someone@receiver.example\r\n"
        b"Subject: Weekly offers\r\n"
        b"Date: Mon, 06 Jan 2025 10:00:00 +0000\r\n"
        b"Message-ID: <1@good.example>\r\n"
        b"\r\n"
        b"Hello there.\r\n"
    )
    signature = dkim.sign(
        body,
        b"sel",
        b"good.example",
        lab.keys.good_private,
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    trace = (
        "Return-Path: <bounce@good.example>\r\n"
        f"Received: from mta.good.example (mta.good.example [{ip}])\r\n"
        "\tby mx.receiver.example with ESMTP id 1; Mon, 06 Jan 2025 10:00:01 +0000\r\n"
    ).encode()
    raw = trace + bytes(signature) + body
    return raw.replace(b"Hello there.", b"Hello there!") if tamper else raw


def checks_of(out: Outcome) -> dict[str, dict[str, Any]]:
    """path -> check name -> the check's result in the JSON report."""
    doc = json.loads(out.stdout)
    return {f["path"]: f["report"]["checks"] for f in doc["files"]}


def rules_of(out: Outcome, path: str) -> set[str]:
    doc = json.loads(out.stdout)
    (entry,) = [f for f in doc["files"] if f["path"] == path]
    return {f["rule"] for f in entry["findings"]}


# --- --dns-server ----------------------------------------------------------------------------


def test_dns_server_reaches_the_auth_check(project: Path, gate: Gate, dns_lab: DnsLab) -> None:
    (project / "good.eml").write_bytes(signed_eml(dns_lab))
    (project / "tampered.eml").write_bytes(signed_eml(dns_lab, tamper=True))
    server = ["--dns-server", dns_lab.nsd.address]

    # Naming auth runs it with the network: no --online needed.
    good = gate("--checks", "auth", *server, "good.eml", "--format", "json")
    assert good.exit_code == 0, good.stdout + good.stderr
    auth = checks_of(good)["good.eml"]["auth"]
    assert auth["status"] == "passed"
    details = auth["details"]
    words = (details["spf"]["result"], details["dkim_result"], details["dmarc"]["result"])
    assert words == ("pass", "pass", "pass")

    tampered = gate("--checks", "auth", *server, "tampered.eml", "--format", "json")
    assert tampered.exit_code == 1
    auth = checks_of(tampered)["tampered.eml"]["auth"]
    assert auth["status"] == "failed" and auth["details"]["dkim_result"] == "fail"
    assert "auth.dkim-fail" in rules_of(tampered, "tampered.eml")


def _pre_rename_baseline(out: Outcome, path: str, old_rule: str) -> dict[str, Any]:
    """The baseline a mailqa from before the kebab-case rename wrote for ``path``: the old
    rule id, and its fingerprint (made from that id)."""
    doc = json.loads(out.stdout)
    (entry,) = [f for f in doc["files"] if f["path"] == path]
    entries = []
    for check, result in entry["report"]["checks"].items():
        for finding in result["findings"]:
            loc = finding["locations"][0] if finding["locations"] else None
            anchor = (loc or {}).get("snippet") or finding["message"] or finding["title"]
            rule = old_rule if finding["rule"] == "auth.dkim-fail" else finding["rule"]
            text = "\0".join((check, rule, loc["part"] if loc else "", " ".join(anchor.split())))
            fingerprint = hashlib.sha256(text.encode()).hexdigest()[:20]
            entries.append({"fingerprint": fingerprint, "rule": rule, "check": check})
    return {"version": 1, "tool": "mailqa", "files": {path: entries}}


def test_former_rule_ids_still_ignore_and_baseline(
    project: Path, gate: Gate, dns_lab: DnsLab
) -> None:
    """auth ids were snake_case: a user's --ignore, config and baseline keep working."""
    (project / "tampered.eml").write_bytes(signed_eml(dns_lab, tamper=True))
    server = ["--checks", "auth", "--dns-server", dns_lab.nsd.address, "tampered.eml"]
    failing = gate(*server, "--format", "json")
    assert failing.exit_code == 1
    assert "auth.dkim-fail" in rules_of(failing, "tampered.eml")  # reports use the new id

    ignored = gate(*server, "--ignore", "auth.dkim_fail", "--format", "json")
    assert ignored.exit_code == 0, ignored.stdout
    globbed = gate(*server, "--ignore", "auth.dkim_*", "--format", "json")
    assert globbed.exit_code == 0, globbed.stdout

    baseline = project / "mailqa-baseline.json"
    baseline.write_text(json.dumps(_pre_rename_baseline(failing, "tampered.eml", "auth.dkim_fail")))
    baselined = gate(*server, "--baseline", str(baseline), "--format", "sarif")
    assert baselined.exit_code == 0, baselined.stdout
    results = json.loads(baselined.stdout)["runs"][0]["results"]
    dkim_fail = [r for r in results if r["ruleId"] == "auth.dkim-fail"]
    assert dkim_fail and all(r["baselineState"] == "unchanged" for r in dkim_fail)


def test_dns_server_reaches_the_blacklist_check(
    project: Path, gate: Gate, dns_lab: DnsLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILQA_DNSBL_FILE", str(dns_lab.dnsbl_file))
    (project / "listed.eml").write_bytes(signed_eml(dns_lab, ip=LISTED_IP))
    out = gate(
        "--checks",
        "auth,blacklist",
        "--dns-server",
        dns_lab.nsd.address,
        "listed.eml",
        "-f",
        "json",
    )
    assert out.exit_code == 1
    blacklist = checks_of(out)["listed.eml"]["blacklist"]
    assert blacklist["status"] == "failed" and blacklist["details"]["ip"] == LISTED_IP
    assert "IPBL" in json.dumps(blacklist["findings"])


def test_an_unreachable_dns_server_errors_the_check(
    project: Path, gate: Gate, dns_lab: DnsLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILQA_DNS_TIMEOUT", "0.3")
    (project / "good.eml").write_bytes(signed_eml(dns_lab))
    out = gate("--checks", "auth", "--dns-server", f"127.0.0.1:{free_port()}", "good.eml")
    assert out.exit_code == 1
    assert "[auth] check errored: DNS lookups failed (temperror)" in out.stdout


def test_worker_processes_use_the_dns_server(
    project: Path, gate_process: Callable[..., Outcome], dns_lab: DnsLab
) -> None:
    for i in range(4):
        (project / f"good{i}.eml").write_bytes(signed_eml(dns_lab))
    (project / "tampered.eml").write_bytes(signed_eml(dns_lab, tamper=True))
    args = ["--checks", "auth", "--dns-server", dns_lab.nsd.address, "--format", "json"]
    out = gate_process(".", *args, "--jobs", "2", cwd=project)
    assert out.exit_code == 1, out.stderr
    doc = json.loads(out.stdout)
    status = {f["path"]: f["report"]["checks"]["auth"]["status"] for f in doc["files"]}
    assert status == {**{f"good{i}.eml": "passed" for i in range(4)}, "tampered.eml": "failed"}


# --- --link-allow ----------------------------------------------------------------------------


def link_template(url: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><body>\n'
        f'<p><a href="{url}">Order</a></p>\n</body></html>\n'
    )


async def test_link_allow_lets_the_checker_reach_loopback(
    project: Path, gate: Gate, server: LocalHttpServer
) -> None:
    write(project, "broken.html", link_template(server.url("/404")))
    args = ["--checks", "links", "--online", "broken.html", "--format", "json"]

    refused = await asyncio.to_thread(gate, *args)
    rules = rules_of(refused, "broken.html")
    assert "links.refused" in rules and "links.broken" not in rules  # SSRF guard
    assert server.count("/404") == 0

    allowed = await asyncio.to_thread(gate, *args, "--link-allow", "127.0.0.1")
    assert allowed.exit_code == 1
    rules = rules_of(allowed, "broken.html")
    assert "links.broken" in rules and "links.refused" not in rules
    assert server.count("/404") >= 1


async def test_link_hosts_resolve_through_the_dns_server_and_allow_lists_merge(
    project: Path, gate: Gate, server: LocalHttpServer, dns_lab: DnsLab
) -> None:
    # web.good.example is 127.0.0.1 in NSD only. The configuration allows another network;
    # --link-allow adds the host to it rather than replacing it. (.example is a reserved
    # name and the link is http://: the static findings about that are not the point here.)
    config = 'link-allow = ["10.0.0.0/8"]\nignore = ["links.private-host", "links.insecure-link"]\n'
    write(project, "mailqa.toml", config + 'fail-on = "warning"\n')
    write(project, "ok.html", link_template(server.url("/ok", host="web.good.example")))
    args = ["ok.html", "--checks", "links", "--online", "--dns-server", dns_lab.nsd.address]
    args += ["--format", "json"]

    refused = await asyncio.to_thread(gate, *args)
    assert refused.exit_code == 1 and "links.refused" in rules_of(refused, "ok.html")

    allowed = await asyncio.to_thread(gate, *args, "--link-allow", "web.good.example")
    assert allowed.exit_code == 0, allowed.stdout
    (link,) = checks_of(allowed)["ok.html"]["links"]["details"]["links"]
    assert link["status_code"] == 200
    assert _settings(
        parse_config({"link-allow": ["10.0.0.0/8"]}, "mailqa.toml"),
        add_link_allow=["web.good.example"],
    ).link_allow == ["10.0.0.0/8", "web.good.example"]


# --- --spamd-url -----------------------------------------------------------------------------


def test_spamd_url_scores_with_that_spamd(project: Path, gate: Gate, spamd: ManagedSpamd) -> None:
    shutil.copy(GTUBE, project / "gtube.eml")
    shutil.copy(SHIPPED, project / "shipped.eml")
    out = gate(
        "gtube.eml", "shipped.eml", "--checks", "spam", "--spamd-url", spamd.url, "-f", "json"
    )
    assert out.exit_code == 1
    spam = checks_of(out)
    assert spam["gtube.eml"]["spam"]["details"]["spamd_url"] == spamd.url
    assert spam["gtube.eml"]["spam"]["details"]["score"] >= 1000
    assert "gate.max-spam-score" in rules_of(out, "gtube.eml")
    assert spam["shipped.eml"]["spam"]["status"] == "passed"


def test_worker_processes_use_the_spamd_url(
    project: Path, gate_process: Callable[..., Outcome], spamd: ManagedSpamd
) -> None:
    for i in range(3):
        shutil.copy(SHIPPED, project / f"shipped{i}.eml")
    shutil.copy(GTUBE, project / "gtube.eml")
    args = ["--checks", "spam", "--spamd-url", spamd.url, "--jobs", "2", "-f", "json"]
    out = gate_process(".", *args, cwd=project)
    assert out.exit_code == 1, out.stderr
    doc = json.loads(out.stdout)
    spam = {f["path"]: f["report"]["checks"]["spam"] for f in doc["files"]}
    assert {s["details"]["spamd_url"] for s in spam.values()} == {spamd.url}
    assert [p for p, s in spam.items() if s["status"] != "passed"] == ["gtube.eml"]


def test_an_unreachable_spamd_url_errors_the_spam_check(project: Path, gate: Gate) -> None:
    shutil.copy(SHIPPED, project / "shipped.eml")
    url = f"tcp://127.0.0.1:{free_port()}"
    out = gate("shipped.eml", "--checks", "spam", "--spamd-url", url)
    assert out.exit_code == 1  # an errored check fails the gate
    assert f"[spam] check errored: spamd at {url} is unreachable: connection refused" in out.stdout

    socket = project / "no-spamd.sock"
    out = gate("shipped.eml", "--checks", "spam", "--spamd-url", str(socket), "-f", "json")
    assert out.exit_code == 1
    spam = checks_of(out)["shipped.eml"]["spam"]
    assert spam["status"] == "errored"
    assert spam["error"] == f"spamd at unix://{socket} is unreachable: no such file or directory"


# --- usage errors and process choice ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dns-server", "dns.example"], "option --dns-server: bad DNS server 'dns.example'"),
        (["--dns-server", "127.0.0.1:99999"], "port out of range"),
        (["--link-allow", "http://x/"], "option --link-allow: link allow-list: 'http://x/'"),
        (["--spamd-url", "http://127.0.0.1:783"], "option --spamd-url: spamd URL"),
        (["--checks", "auth", "--offline"], "auth needs the network but --offline forbids it"),
    ],
)
def test_bad_network_options_are_usage_errors(
    project: Path, gate: Gate, args: list[str], message: str
) -> None:
    write(project, "x.eml", "From: a@example.com\n\nx\n")
    out = gate("x.eml", *args)
    assert out.exit_code == 2 and message in out.stderr, out.stderr


def test_configured_online_false_conflicts_with_a_named_network_check(
    project: Path, gate: Gate
) -> None:
    write(project, "mailqa.toml", "online = false\n")
    write(project, "x.eml", "From: a@example.com\n\nx\n")
    out = gate("x.eml", "--checks", "blacklist,headers")
    assert out.exit_code == 2
    assert "blacklist needs the network but online = false in" in out.stderr


def test_configuration_keys_for_the_network(project: Path) -> None:
    config = parse_config(
        {"dns-servers": ["127.0.0.1:5353", "[::1]:53"], "spamd-url": "/run/spamd.sock"},
        "mailqa.toml",
    )
    settings = _settings(config)
    assert settings.dns_servers == ["127.0.0.1:5353", "[::1]:53"]
    assert settings.spamd_url == "unix:///run/spamd.sock"


def test_which_runs_may_use_worker_processes() -> None:
    online = Settings(offline=False, spamd_url="tcp://127.0.0.1:783")
    assert network_checks(["headers", "auth", "spam", "blacklist"]) == ["auth", "blacklist"]
    assert not needs_one_process(online, ["auth", "blacklist", "spam"])  # external spamd
    assert needs_one_process(online, ["links"])  # per-host limits are the run's
    assert not needs_one_process(Settings(offline=True), ["links", "html"])
    assert needs_one_process(Settings(offline=True, spamd_managed="auto"), ["spam"])
    assert pick_jobs(2, 10, one_process=False) == 2
    assert pick_jobs(2, 10, one_process=True) == 1


# --- --require (bulk-sender profiles) ---------------------------------------------------------


def newsletter_eml(lab: DnsLab, *, one_click_signed: bool = True) -> bytes:
    """A newsletter from good.example as its receiving MX logged it (over TLS, from GOOD_IP),
    with one-click unsubscribe headers that the DKIM signature covers or not."""
    body = (
        b"From: Shop <news@good.example>\r\n"
        b"To: someone@receiver.example\r\n"
        b"Subject: Weekly offers\r\n"
        b"Date: Mon, 06 Jan 2025 10:00:00 +0000\r\n"
        b"Message-ID: <2@good.example>\r\n"
        b"List-Unsubscribe: <https://good.example/u/2>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        b"\r\n"
        b"This week's offers.\r\n"
    )
    signed = [b"from", b"to", b"subject", b"date", b"message-id"]
    if one_click_signed:
        signed += [b"list-unsubscribe", b"list-unsubscribe-post"]
    signature = dkim.sign(
        body, b"sel", b"good.example", lab.keys.good_private, include_headers=signed
    )
    trace = (
        "Return-Path: <bounce@good.example>\r\n"
        f"Received: from mta.good.example (mta.good.example [{GOOD_IP}])\r\n"
        "\tby mx.receiver.example with ESMTPS id 2; Mon, 06 Jan 2025 10:00:01 +0000\r\n"
    ).encode()
    return trace + bytes(signature) + body


def test_require_a_bulk_sender_profile(project: Path, gate: Gate, dns_lab: DnsLab) -> None:
    (project / "news.eml").write_bytes(newsletter_eml(dns_lab))
    (project / "unsigned-unsub.eml").write_bytes(newsletter_eml(dns_lab, one_click_signed=False))
    server = ["--dns-server", dns_lab.nsd.address]
    checks = ["--checks", "headers,auth"]

    met = gate(*checks, *server, "--require", "gmail-bulk", "news.eml", "--format", "json")
    assert met.exit_code == 0, met.stdout + met.stderr
    (entry,) = json.loads(met.stdout)["files"]
    profile = entry["report"]["compliance"]["profiles"][0]
    assert (profile["id"], profile["status"], profile["passed"]) == ("gmail-bulk", "pass", 10)

    unmet = gate(
        *checks, *server, "--require", "gmail-bulk,outlook-high-volume", "unsigned-unsub.eml"
    )
    assert unmet.exit_code == 1
    assert "error gate.requirements: Gmail bulk senders: 9/10 requirements met" in unmet.stdout
    assert "one-click-unsubscribe: no passing DKIM signature covers" in unmet.stdout
    assert "Outlook.com" not in unmet.stdout  # authentication alone: met

    # Offline, the authentication items cannot be judged: the gate says so and fails.
    offline = gate("--checks", "headers", "--require", "yahoo-bulk", "news.eml")
    assert offline.exit_code == 1
    assert "(some need --online)" in offline.stdout and "not judged: spf-pass" in offline.stdout

    wrong = gate("--require", "gmail", "news.eml")
    assert wrong.exit_code == 2 and "unknown profile(s) gmail" in wrong.stderr
