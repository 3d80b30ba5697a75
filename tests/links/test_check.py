"""The links check online: HTTP validation of a whole message against the loopback server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailqa.checks.links.check import LinksCheck
from mailqa.checks.links.details import LinksDetails
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import CheckResult, Status
from mailqa.net.http.fetcher import LinkFetcher
from mailqa.resources import check_context, open_check_context
from mailqa.settings import Settings

from .conftest import MakeFetcher
from .local_http import LocalHttpServer
from .test_static import mail, rules


def page(server: LocalHttpServer) -> str:
    u = server.url
    return f"""<html><body>
<a href="{u("/ok")}">ok</a>
<a href="{u("/404")}">missing</a>
<a href="{u("/500")}">failing</a>
<a href="{u("/moved")}">moved</a>
<a href="{u("/loop/a")}">loop</a>
<a href="{u("/no-head")}">no head</a>
<img src="{u("/image.png")}" alt="img">
<img src="{u("/not-image.png")}" alt="not img">
<img src="{u("/big.jpg")}" alt="big">
<a href="http://169.254.169.254/latest/meta-data/">metadata</a>
</body></html>"""


async def run(
    msg: ParsedMessage, fetcher: LinkFetcher | None, **settings: Any
) -> tuple[CheckResult, LinksDetails]:
    ctx = check_context(Settings(**settings), http=fetcher)
    result = await LinksCheck().run(msg, ctx)
    return result, LinksDetails.model_validate(result.details)


async def test_message_links_validated_over_http(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    fetcher = make_fetcher()
    result, details = await run(mail(page(server)), fetcher)
    links = {link.url.removeprefix(server.url("")): link for link in details.links}
    assert details.http_validated and details.http_checked == 10
    assert links["/ok"].ok and links["/ok"].status_code == 200
    assert links["/404"].status_code == 404 and links["/404"].ok is False
    assert links["/500"].status_code == 500
    moved = links["/moved"]
    assert moved.ok and moved.final_url == server.url("/ok")
    assert [(h.url, h.status_code) for h in moved.redirects] == [(server.url("/moved"), 301)]
    assert links["/loop/a"].error_kind == "redirect-loop"
    assert links["/no-head"].ok and links["/no-head"].method == "GET"
    assert links["/image.png"].kind == "image" and links["/image.png"].ok
    assert links["/big.jpg"].size == 3 * 1024 * 1024
    metadata = links["http://169.254.169.254/latest/meta-data/"]
    assert metadata.error_kind == "refused" and metadata.checked
    assert all(link.duration_ms >= 0 and link.locations for link in details.links)

    found = rules(result)
    assert found.count("links.broken") == 3  # 404, 500, loop
    assert found.count("links.image-not-image") == 1
    assert found.count("links.image-huge") == 1
    assert found.count("links.refused") == 1
    assert details.broken == 3
    broken_404 = next(f for f in result.findings if f.data.get("status_code") == 404)
    assert broken_404.locations[0].line == 3
    assert result.status == Status.FAILED
    assert "10 checked over HTTP, 3 broken" in result.summary


async def test_second_message_uses_the_cache(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    fetcher = make_fetcher()
    msg = mail(page(server))
    await run(msg, fetcher)
    before = len(server.requests)
    _, details = await run(mail(page(server)), fetcher)
    assert len(server.requests) == before  # not one request for the second message
    checked = [link for link in details.links if link.error_kind != "refused"]
    assert checked and all(link.from_cache for link in checked)
    assert details.cache_hits == len(checked)
    assert details.broken == 3


async def test_offline_or_disabled_runs_static_only(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    fetcher = make_fetcher()
    before = len(server.requests)
    msg = mail(page(server))
    ctx = check_context(Settings(), offline=True, http=fetcher)
    offline = await LinksCheck().run(msg, ctx)
    assert "HTTP validation skipped (offline mode)" in offline.summary
    disabled, details = await run(msg, fetcher, link_check=False)
    assert "MAILQA_LINK_CHECK=false" in disabled.summary
    assert not details.http_validated and details.http_checked == 0
    assert all(link.ok is None for link in details.links)
    no_fetcher, _ = await run(msg, None)
    assert "no HTTP fetcher" in no_fetcher.summary
    assert len(server.requests) == before
    assert "links.insecure-link" in rules(offline)  # static findings still there


async def test_time_budget_reports_unfinished_links(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    fetcher = make_fetcher(timeout=5.0)
    html = f'<a href="{server.url("/slow")}">slow</a><a href="{server.url("/ok")}">ok</a>'
    result, details = await run(mail(html), fetcher, check_timeout=1.0)
    links = {link.url: link for link in details.links}
    assert links[server.url("/slow")].error_kind == "budget"
    assert links[server.url("/ok")].ok
    assert "links.timeout" in rules(result)


async def test_wired_through_settings_and_pipeline(
    server: LocalHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILQA_LINK_ALLOW", "127.0.0.1, staging.acme.com")
    settings = Settings()
    assert settings.link_allow == ["127.0.0.1", "staging.acme.com"]
    html = f'<a href="{server.url("/ok")}">ok</a><a href="{server.url("/404")}">x</a>'
    async with open_check_context(settings, with_spamd=False) as ctx:
        assert isinstance(ctx.http, LinkFetcher)
        report = await Pipeline([LinksCheck()]).run(mail(html), ctx)
    details = LinksDetails.model_validate(report.checks["links"].details)
    assert [link.status_code for link in details.links] == [200, 404]
    async with open_check_context(settings, offline=True, with_spamd=False) as ctx:
        assert ctx.http is None


async def test_restricted_and_insecure_redirect(
    server: LocalHttpServer,
    tls_server: LocalHttpServer,
    tls_cert: tuple[Path, Path],
    make_fetcher: MakeFetcher,
) -> None:
    import ssl
    from urllib.parse import quote

    from .conftest import TLS_NAME

    fetcher = make_fetcher(ssl_context=ssl.create_default_context(cafile=str(tls_cert[0])))
    downgrade = tls_server.url(f"/redirect?to={quote(server.url('/ok'), safe='')}", host=TLS_NAME)
    html = f'<a href="{server.url("/403")}">members</a><a href="{downgrade}">secure</a>'
    result, details = await run(mail(html), fetcher)
    found = rules(result)
    assert found.count("links.restricted") == 1
    assert found.count("links.redirect-insecure") == 1
    links = {link.url: link for link in details.links}
    assert links[server.url("/403")].status_code == 403
    assert links[server.url("/403")].method == "GET"  # HEAD 403 is retried with GET
    assert links[downgrade].ok and links[downgrade].final_url == server.url("/ok")


async def test_audit_counts_only_real_failures_as_broken_link_hosts(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    from mailqa.audit.record import record_from_report

    html = f"""<a href="{server.url("/ok")}">ok</a>
<a href="{server.url("/404")}">missing</a>
<a href="http://nowhere.links.test/">no such host</a>
<a href="http://169.254.169.254/latest/meta-data/">metadata (SSRF refused)</a>
<a href="http://internal.links.test/admin">internal, not allow-listed</a>
<a href="{server.url("/slow")}">slow</a>"""
    ctx = check_context(Settings(check_timeout=1.5), http=make_fetcher(timeout=0.5))
    report = await Pipeline([LinksCheck()]).run(mail(html), ctx)
    details = LinksDetails.model_validate(report.checks["links"].details)
    kinds = {link.url: link.error_kind for link in details.links}
    assert kinds["http://169.254.169.254/latest/meta-data/"] == "refused"
    assert kinds["http://internal.links.test/admin"] == "refused"
    assert kinds[server.url("/slow")] == "timeout"
    record = record_from_report("m1", report)
    assert record.broken_link_hosts == ["127.0.0.1", "nowhere.links.test"]
    assert details.broken == 2  # the check's own count agrees
