"""The UI's server side over plain HTTP: sign-in, cookie + CSRF rules, preview policy, SSE."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from tests.webui.conftest import ADMIN_TOKEN, Stack, build_message


def browser_client(stack: Stack) -> httpx.AsyncClient:
    """A client that, like the UI, authenticates only with the session cookie."""
    return httpx.AsyncClient(base_url=stack.base_url, timeout=30, follow_redirects=False)


@asynccontextmanager
async def signed_in(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with browser_client(stack) as client:
        r = await client.post("/login", data={"token": ADMIN_TOKEN})
        assert r.status_code == 303
        yield client


async def test_root_redirects_to_sign_in_without_a_session(stack: Stack) -> None:
    async with browser_client(stack) as c:
        r = await c.get("/")
        assert r.status_code == 303
        assert r.headers["location"] == "/login"
        page = await c.get("/login")
        assert page.status_code == 200
        assert 'name="token"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"


async def test_sign_in_sets_an_httponly_samesite_strict_cookie(stack: Stack) -> None:
    async with browser_client(stack) as c:
        bad = await c.post("/login", data={"token": "not-a-token"})
        assert bad.status_code == 401
        assert "not valid" in bad.text
        assert "mailqa_session" not in c.cookies
        good = await c.post("/login", data={"token": ADMIN_TOKEN})
        assert good.status_code == 303
        cookie = good.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "path=/" in cookie
        home = await c.get("/")
        assert home.status_code == 200
        assert "/ui/static/app.js" in home.text


async def test_sign_in_from_another_origin_is_refused(stack: Stack) -> None:
    async with browser_client(stack) as c:
        for origin in ("http://evil.example", "null"):
            r = await c.post("/login", data={"token": ADMIN_TOKEN}, headers={"Origin": origin})
            assert r.status_code == 403, origin
            assert "set-cookie" not in r.headers
        same = await c.post(
            "/login", data={"token": ADMIN_TOKEN}, headers={"Origin": stack.base_url}
        )
        assert same.status_code == 303


async def test_cookie_reads_freely_but_mutations_need_the_csrf_header(stack: Stack) -> None:
    message_id = await stack.upload(build_message(subject="csrf target"))
    async with signed_in(stack) as c:
        assert (await c.get(f"/api/v1/messages/{message_id}")).status_code == 200
        refused = await c.delete(f"/api/v1/messages/{message_id}")
        assert refused.status_code == 403
        assert refused.json()["error"] == "csrf_header_missing"
        assert (await c.get(f"/api/v1/messages/{message_id}")).status_code == 200
        patched = await c.patch(
            f"/api/v1/messages/{message_id}",
            json={"is_read": True},
            headers={"X-Mailqa-Request": "1"},
        )
        assert patched.status_code == 200
        assert patched.json()["is_read"] is True
    # Header tokens are unaffected: no CSRF header needed without the cookie.
    async with stack.api() as api:
        r = await api.patch(f"/api/v1/messages/{message_id}", json={"is_read": False})
        assert r.status_code == 200


async def test_a_bad_cookie_is_a_401(stack: Stack) -> None:
    async with browser_client(stack) as c:
        c.cookies.set("mailqa_session", "forged")
        assert (await c.get("/api/v1/inboxes")).status_code == 401
        assert (await c.get("/")).status_code == 303


async def test_sign_out_needs_the_header_and_clears_the_cookie(stack: Stack) -> None:
    async with signed_in(stack) as c:
        assert (await c.post("/logout")).status_code == 403
        out = await c.post("/logout", headers={"X-Mailqa-Request": "1"})
        assert out.status_code == 204
        assert "mailqa_session=" in out.headers["set-cookie"]
        assert (await c.get("/api/v1/inboxes")).status_code == 401


async def test_preview_runs_nothing_and_loads_nothing_remote(stack: Stack) -> None:
    raw = build_message(
        subject="preview policy",
        html='<p>Hi</p><img src="cid:logo@acme"><img src="https://tracker.example/p.gif">',
        inline_png_cid="logo@acme",
    )
    message_id = await stack.upload(raw)
    async with signed_in(stack) as c:
        r = await c.get(f"/ui/messages/{message_id}/preview")
        assert r.status_code == 200
        policy = r.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src" not in policy  # falls back to default-src 'none'
        assert re.search(r"img-src data:(;|$)", policy)
        assert "sandbox allow-popups" in policy
        assert "allow-scripts" not in policy and "allow-same-origin" not in policy
        # The inline image is inlined as data:, the remote one left for the policy to block.
        assert 'src="data:image/png;base64,' in r.text
        assert "cid:logo@acme" not in r.text
        assert "https://tracker.example/p.gif" in r.text
        remote = await c.get(f"/ui/messages/{message_id}/preview?remote_images=true")
        assert "img-src * data:" in remote.headers["content-security-policy"]
        # Another token's view is scoped: an unknown message is 404, not a leak.
        assert (await c.get("/ui/messages/999999/preview")).status_code == 404


async def test_text_only_preview_is_escaped(stack: Stack) -> None:
    message_id = await stack.upload(
        build_message(subject="text only", text="<script>window.__pwned=1</script> & more")
    )
    async with signed_in(stack) as c:
        r = await c.get(f"/ui/messages/{message_id}/preview")
        assert "<script>" not in r.text
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt; &amp; more" in r.text


async def test_api_responses_are_sandboxed_and_not_sniffed(stack: Stack) -> None:
    message_id = await stack.upload(
        build_message(
            subject="attachment",
            attachments=[("page.html", "text/html", b"<script>window.__pwned=1</script>")],
        )
    )
    async with stack.api() as c:
        r = await c.get(f"/api/v1/messages/{message_id}/attachments/0")
        assert r.status_code == 200
        assert r.headers["content-disposition"].startswith("attachment;")
        assert "sandbox" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"


async def read_event(lines: object, name: str) -> dict[str, object]:
    """The data of the next event called ``name`` on an SSE line stream."""
    event = None
    async for line in lines:  # type: ignore[attr-defined]
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == name:
            return dict(json.loads(line[6:]))
    raise AssertionError("stream ended")


async def test_event_stream_announces_new_mail(stack: Stack) -> None:
    inbox_id = stack.inbox["id"]
    async with signed_in(stack) as c:
        async with c.stream("GET", f"/ui/inboxes/{inbox_id}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            first = await asyncio.wait_for(read_event(lines, "changed"), 5)
            await stack.send(build_message(subject="over smtp, streamed"))
            expected = int(first["total"]) + 1  # type: ignore[call-overload]

            async def until_new_mail() -> dict[str, object]:
                # Other changes (an earlier message's analysis finishing) are announced too.
                while True:
                    event = await read_event(lines, "changed")
                    if event["total"] == expected:
                        return event

            second = await asyncio.wait_for(until_new_mail(), 5)
            assert second["latest_id"] != first["latest_id"]
        # Unknown inbox: 404 before any stream starts.
        assert (await c.get("/ui/inboxes/999999/events")).status_code == 404


async def test_the_ui_modules_are_revalidated_so_an_upgrade_never_runs_stale_ones(
    stack: Stack,
) -> None:
    """The entry file carries a version query; the modules it imports do not: each is served
    ``no-cache`` with a validator, so the browser asks again and gets 304 while unchanged."""
    async with browser_client(stack) as c:
        first = await c.get("/ui/static/js/api.js")
        assert first.status_code == 200 and first.headers["cache-control"] == "no-cache"
        again = await c.get(
            "/ui/static/js/api.js", headers={"If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304
