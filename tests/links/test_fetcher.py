"""The fetcher against a real HTTP(S) server on loopback (allow-listed)."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path

from mailqa.net.http.fetcher import USER_AGENT

from .conftest import TLS_NAME, MakeFetcher
from .local_http import PNG_1PX, LocalHttpServer


async def test_200_via_head_only(server: LocalHttpServer, make_fetcher: MakeFetcher) -> None:
    fetcher = make_fetcher()
    before = server.count("/ok")
    result = await fetcher.fetch(server.url("/ok"))
    assert result.ok and result.status_code == 200 and result.error is None
    assert result.method == "HEAD" and result.redirects == []
    assert result.final_url == server.url("/ok")
    assert server.count("/ok") - before == 1  # HEAD answered; no GET needed


async def test_404_and_500_are_not_ok(server: LocalHttpServer, make_fetcher: MakeFetcher) -> None:
    fetcher = make_fetcher()
    missing = await fetcher.fetch(server.url("/404"))
    assert missing.status_code == 404 and not missing.ok and missing.error is None
    failing = await fetcher.fetch(server.url("/500"))
    assert failing.status_code == 500 and not failing.ok
    assert failing.method == "GET"  # a 500 on HEAD is retried with GET before giving up


async def test_redirect_chain_is_reported(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    result = await make_fetcher().fetch(server.url("/chain"))
    assert result.ok and result.status_code == 200
    assert [(h.url, h.status_code) for h in result.redirects] == [
        (server.url("/chain"), 302),
        (server.url("/moved"), 301),
    ]
    assert result.final_url == server.url("/ok")


async def test_redirect_loop_is_detected(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    before = server.count("/loop/a") + server.count("/loop/b")
    result = await make_fetcher().fetch(server.url("/loop/a"))
    assert not result.ok and result.error_kind == "redirect-loop"
    assert "loop" in (result.error or "")
    assert len(result.redirects) == 2
    # Stopped when the chain came back, not after max_redirects: one HEAD per URL.
    assert server.count("/loop/a") + server.count("/loop/b") - before == 2


async def test_redirect_limit(server: LocalHttpServer, make_fetcher: MakeFetcher) -> None:
    result = await make_fetcher(max_redirects=1).fetch(server.url("/chain"))
    assert result.error_kind == "too-many-redirects" and not result.ok


async def test_slow_endpoint_times_out_with_reason(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    fetcher = make_fetcher(timeout=0.5)
    started = time.monotonic()
    result = await fetcher.fetch(server.url("/slow"))
    assert time.monotonic() - started < 2.5
    assert result.error_kind == "timeout" and not result.ok
    assert "0.5 s" in (result.error or "")


async def test_head_405_falls_back_to_get(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    before_head = server.count("/no-head", "HEAD")
    before_get = server.count("/no-head", "GET")
    result = await make_fetcher().fetch(server.url("/no-head"))
    assert result.ok and result.status_code == 200 and result.method == "GET"
    assert server.count("/no-head", "HEAD") - before_head == 1
    assert server.count("/no-head", "GET") - before_get == 1


async def test_head_404_is_retried_with_get(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    # Many servers (and CDNs) answer HEAD with 404 for pages GET serves.
    before_head = server.count("/head-404", "HEAD")
    before_get = server.count("/head-404", "GET")
    result = await make_fetcher().fetch(server.url("/head-404"))
    assert result.ok and result.status_code == 200 and result.method == "GET"
    assert server.count("/head-404", "HEAD") - before_head == 1
    assert server.count("/head-404", "GET") - before_get == 1
    missing = await make_fetcher().fetch(server.url("/404"))
    assert missing.status_code == 404 and missing.method == "GET"  # confirmed by GET


async def test_redirect_chain_has_a_total_deadline(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    # Seven answers of 0.3 s each: every request is well inside the 2 s per-request timeout,
    # the chain (2.1 s) is not inside the 1 s total, so the total cuts it part way.
    fetcher = make_fetcher(timeout=2.0, total_timeout=1.0)
    before = len(server.requests)
    result = await fetcher.fetch(server.url("/drip/6"))
    assert result.error_kind == "timeout" and not result.ok
    assert "1 s in all" in (result.error or "")
    # The hops it followed are the chain's first answers, in order; it gave up on the next
    # request (cut while the server held it, or never sent) and never reached the end.
    followed = [f"/drip/{6 - n}" for n in range(len(result.redirects))]
    assert 1 <= len(followed) < 6
    assert [hop.url for hop in result.redirects] == [server.url(path) for path in followed]
    asked = [seen.path for seen in server.requests[before:]]
    assert asked in (followed, [*followed, f"/drip/{6 - len(followed)}"])
    text = await fetcher.fetch_text(server.url("/drip/6?text"))
    assert text.text is None and "1 s in all" in (text.error or "")
    whole = await make_fetcher(timeout=1.0, total_timeout=3.0).fetch(server.url("/drip/6?x"))
    assert whole.ok and len(whole.redirects) == 6


async def test_total_deadline_does_not_count_waiting_for_a_slot(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    # One request at a time: the third chain starts 1.8 s after the first, yet each chain's
    # own requests take 0.9 s, inside the 1.5 s total.
    fetcher = make_fetcher(
        timeout=1.0, total_timeout=1.5, concurrency=1, per_host_concurrency=1, per_host_rate=0
    )
    results = await asyncio.gather(*(fetcher.fetch(server.url(f"/drip/2?n={i}")) for i in range(3)))
    assert all(r.ok for r in results), [r.error for r in results]


async def test_huge_body_is_not_downloaded(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    fetcher = make_fetcher(max_body_bytes=256 * 1024)
    started = time.monotonic()
    link = await fetcher.fetch(server.url("/huge"))
    assert link.ok and link.method == "GET" and link.size is None  # links never read bodies
    image = await fetcher.fetch(server.url("/huge.png"), image=True)
    assert image.ok and image.size_at_least
    assert image.size is not None and 256 * 1024 < image.size < 2 * 1024 * 1024
    assert time.monotonic() - started < 2.0


async def test_image_and_non_image(server: LocalHttpServer, make_fetcher: MakeFetcher) -> None:
    fetcher = make_fetcher()
    image = await fetcher.fetch(server.url("/image.png"), image=True)
    assert image.ok and image.content_type == "image/png" and image.size == len(PNG_1PX)
    page = await fetcher.fetch(server.url("/not-image.png"), image=True)
    assert page.ok and (page.content_type or "").startswith("text/html")


async def test_user_agent_names_mailqa(server: LocalHttpServer, make_fetcher: MakeFetcher) -> None:
    await make_fetcher().fetch(server.url("/page/ua"))
    seen = [r for r in server.requests if r.path == "/page/ua"]
    assert seen and all(r.user_agent == USER_AGENT for r in seen)
    assert "mailqa" in USER_AGENT


async def test_host_header_keeps_the_name_while_dialing_the_ip(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    result = await make_fetcher().fetch(server.url("/page/host", host="site.links.test"))
    assert result.ok
    seen = [r for r in server.requests if r.path == "/page/host"]
    assert seen[-1].host == f"site.links.test:{server.port}"


async def test_self_signed_tls_is_reported(
    tls_server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    result = await make_fetcher().fetch(tls_server.url("/ok", host=TLS_NAME))
    assert not result.ok and result.error_kind == "tls"
    assert "certificate" in (result.error or "").lower()
    assert "self-signed" in (result.error or "") or "self signed" in (result.error or "")


async def test_tls_verifies_the_url_host_not_the_dialed_ip(
    tls_server: LocalHttpServer, tls_cert: tuple[Path, Path], make_fetcher: MakeFetcher
) -> None:
    trusted = ssl.create_default_context(cafile=str(tls_cert[0]))
    fetcher = make_fetcher(ssl_context=trusted)
    good = await fetcher.fetch(tls_server.url("/ok", host=TLS_NAME))
    assert good.ok and good.status_code == 200, good.error
    # Same IP, same trusted certificate, but the name is not on it: SNI/verification use
    # the URL's host name, so this must fail.
    wrong = await fetcher.fetch(tls_server.url("/ok", host="other.links.test"))
    assert wrong.error_kind == "tls" and "mismatch" in (wrong.error or "").lower()


async def test_dns_failure_is_reported(make_fetcher: MakeFetcher) -> None:
    result = await make_fetcher().fetch("https://nowhere.links.test/")
    assert result.error_kind == "dns" and "nowhere.links.test" in (result.error or "")


async def test_connection_refused_is_reported(make_fetcher: MakeFetcher) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await make_fetcher().fetch(f"http://127.0.0.1:{port}/")
    assert result.error_kind == "connect" and not result.ok


async def test_unsupported_scheme(make_fetcher: MakeFetcher) -> None:
    result = await make_fetcher().fetch("ftp://127.0.0.1/file")
    assert result.error is not None and not result.ok


async def test_cache_and_inflight_dedupe(
    server: LocalHttpServer, make_fetcher: MakeFetcher
) -> None:
    fetcher = make_fetcher()
    url = server.url("/page/cached")
    results = await asyncio.gather(*(fetcher.fetch(url) for _ in range(5)))
    assert all(r.ok for r in results)
    assert server.count("/page/cached") == 1  # five concurrent asks, one request
    again = await fetcher.fetch(url)
    assert again.from_cache and again.ok
    assert server.count("/page/cached") == 1
    assert fetcher.stats.cache_misses == 1 and fetcher.stats.cache_hits == 5


async def test_cache_expires(server: LocalHttpServer, make_fetcher: MakeFetcher) -> None:
    fetcher = make_fetcher(cache_ttl=0.2)
    url = server.url("/page/expiring")
    await fetcher.fetch(url)
    await asyncio.sleep(0.3)
    result = await fetcher.fetch(url)
    assert not result.from_cache
    assert server.count("/page/expiring") == 2


async def test_per_host_concurrency_limit(make_fetcher: MakeFetcher) -> None:
    from .local_http import LocalHttpServer

    slow = LocalHttpServer(delay=0.2)
    await slow.start()
    try:
        fetcher = make_fetcher(per_host_concurrency=2, per_host_rate=0, concurrency=10)
        await asyncio.gather(*(fetcher.fetch(slow.url(f"/page/{i}")) for i in range(6)))
        assert slow.max_active == 2
    finally:
        await slow.stop()


async def test_per_host_rate_limit(make_fetcher: MakeFetcher) -> None:
    from .local_http import LocalHttpServer

    srv = LocalHttpServer()
    await srv.start()
    try:
        fetcher = make_fetcher(per_host_rate=10.0, per_host_concurrency=10)
        started = time.monotonic()
        await asyncio.gather(*(fetcher.fetch(srv.url(f"/page/{i}")) for i in range(6)))
        # Six requests at 10/s: the last starts 0.5 s after the first.
        assert time.monotonic() - started >= 0.45
    finally:
        await srv.stop()
