"""Requests cost about their size, after authorisation; connections cannot be held forever.

Every test runs against a real stack (service, SMTP, the HTTP server as `mailqa serve`
configures it) with small limits. Memory is the peak resident size of this process (the
stack runs in it) while the attack runs, against its size before: generous bounds, far below
what the unbounded code took.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import smtplib
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from tests.support.servers import serving_stack
from tests.support.stack import ADMIN_TOKEN, base_settings

from mailqa.api.server import http_config
from mailqa.net.http.fetcher import FetcherConfig, LinkFetcher
from mailqa.net.http.policy import AddressPolicy
from mailqa.service import Service
from mailqa.settings import Settings

MB = 1024 * 1024
JSON_CAP = 64 * 1024
MAX_MESSAGE = 20 * MB
PER_ADDRESS = 6
TIMEOUT = 1.0

pytestmark = pytest.mark.timeout(120)


# The stack -----------------------------------------------------------------------------------


@dataclass
class Stack:
    service: Service
    settings: Settings
    http_port: int
    smtp_port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def client(self, token: str | None = ADMIN_TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=60)


@pytest_asyncio.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    settings = base_settings(
        tmp_path_factory.mktemp("limits"),
        checks=["headers", "html"],
        offline=False,
        html_fetch_stylesheets=True,
        link_allow=["127.0.0.1"],
        smtp_max_message_size=MAX_MESSAGE,
        smtp_max_recipients=5,
        inbox_quota_bytes=1024 * MB,
        http_max_body_bytes=JSON_CAP,
        http_header_timeout=TIMEOUT,
        http_keep_alive_timeout=TIMEOUT,
        http_max_header_bytes=8 * 1024,
        http_max_connections_per_address=PER_ADDRESS,
        smtp_idle_timeout=TIMEOUT,
        smtp_max_connections_per_address=PER_ADDRESS,
        smtp_spool_bytes=256 * 1024,
    )
    guarded = partial(http_config, settings=settings, host="127.0.0.1", port=0, log_level="warning")
    async with serving_stack(settings, http=guarded) as served:
        yield Stack(served.service, settings, served.http_port, served.smtp_port)


async def new_inbox(stack: Stack, quota: int | None = None) -> int:
    async with stack.client() as http:
        project = (await http.post("/api/v1/projects", json={"name": "limits"})).json()
        body: dict[str, Any] = {"name": "limits"}
        if quota is not None:
            body["quota_bytes"] = quota
        inbox = await http.post(f"/api/v1/projects/{project['id']}/inboxes", json=body)
        assert inbox.status_code == 201, inbox.text
        return int(inbox.json()["id"])


# Measuring -----------------------------------------------------------------------------------


def _status_kb(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise AssertionError(name)


def _reset_peak() -> int:
    """Reset the peak resident size (VmHWM) to now; the resident size (kB)."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


async def peak_growth(run: Callable[[], Awaitable[Any]]) -> tuple[Any, float]:
    """What ``run`` returns, and how far (MB) the process's resident size peaked above
    where it was when ``run`` started."""
    gc.collect()
    before = _reset_peak()
    result = await run()
    return result, (_status_kb("VmHWM") - before) / 1024


async def connect(
    port: int, source: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def closed_by_peer(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sends until it closes the connection (fails after ``within``)."""
    received = b""
    async with asyncio.timeout(within):
        while chunk := await reader.read(65536):
            received += chunk
    return received


def response_of(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body else {}


async def post_slowly(
    port: int, path: str, headers: dict[str, str], chunk: bytes, chunks: int
) -> tuple[int, dict[str, Any], int]:
    """POST a body written a chunk at a time, stopping as soon as the server answers.
    Returns the status, the JSON body and how many body bytes were written."""
    reader, writer = await connect(port)
    head = f"POST {path} HTTP/1.1\r\nHost: test\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    writer.write(head.encode())
    sent = 0
    answer = asyncio.ensure_future(reader.read(65536))
    try:
        for _ in range(chunks):
            if answer.done():
                break
            try:
                writer.write(chunk)
                await writer.drain()
            except ConnectionError:
                break
            sent += len(chunk)
            await asyncio.sleep(0.005)
        raw = await asyncio.wait_for(answer, 30)
        while b"\r\n\r\n" not in raw or len(raw.partition(b"\r\n\r\n")[2]) == 0:
            more = await asyncio.wait_for(reader.read(65536), 30)
            if not more:
                break
            raw += more
    finally:
        writer.close()
    status, body = response_of(raw)
    return status, body, sent


# 3a. Body caps and authentication before the body --------------------------------------------


async def test_unauthenticated_huge_post_is_refused_before_its_body(stack: Stack) -> None:
    declared = 400 * MB
    headers = {"Content-Type": "application/json", "Content-Length": str(declared)}

    async def attack() -> tuple[int, dict[str, Any], int]:
        return await post_slowly(stack.http_port, "/api/v1/projects", headers, b" " * 65536, 6400)

    (status, body, sent), growth = await peak_growth(attack)
    assert status == 401 and body["error"] == "invalid_or_expired_token"
    assert sent < declared // 20  # answered long before the body was sent
    assert growth < 50, f"+{growth:.0f} MB"


async def test_a_cookie_without_the_csrf_header_is_refused_before_the_body(stack: Stack) -> None:
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(100 * MB),
        "Cookie": f"mailqa_session={ADMIN_TOKEN}",
    }
    status, body, sent = await post_slowly(
        stack.http_port, "/api/v1/projects", headers, b" " * 65536, 1600
    )
    assert status == 403 and body["error"] == "csrf_header_missing"
    assert sent < 10 * MB


async def test_an_authenticated_body_over_the_cap_streamed_without_length_is_cut(
    stack: Stack,
) -> None:
    headers = {
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
        "Authorization": f"Bearer {ADMIN_TOKEN}",
    }
    piece = b" " * 8192
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"

    async def attack() -> tuple[int, dict[str, Any], int]:
        return await post_slowly(stack.http_port, "/api/v1/projects", headers, chunk, 20_000)

    (status, body, sent), growth = await peak_growth(attack)
    assert status == 413 and body["error"] == "payload_too_large"
    assert "limit" in body["message"]
    assert sent < 10 * MB  # ~160 MB would have followed
    assert growth < 50, f"+{growth:.0f} MB"


async def test_each_route_has_its_own_cap_and_error_shape(stack: Stack) -> None:
    inbox_id = await new_inbox(stack)
    over_json = b'{"name": "' + b"x" * JSON_CAP + b'"}'
    async with stack.client() as http:
        native = await http.post(
            "/api/v1/projects", content=over_json, headers={"Content-Type": "application/json"}
        )
        assert native.status_code == 413
        assert native.json()["error"] == "payload_too_large"
        assert str(JSON_CAP) in native.json()["message"]

        mailtrap = await http.patch(
            f"/api/accounts/1/inboxes/{inbox_id}",
            content=over_json,
            headers={"Content-Type": "application/json"},
        )
        assert mailtrap.status_code == 413
        assert mailtrap.json()["code"] == "payload_too_large"

        # A raw upload may be as large as a message (far over the JSON cap)...
        raw = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: big\r\n\r\n"
        raw += (b"x" * 998 + b"\r\n") * (2 * MB // 1000)
        upload = await http.post(f"/api/v1/inboxes/{inbox_id}/messages", content=raw)
        assert upload.status_code == 201, upload.text
        # ... but not larger.
        too_big = raw + b"y" * MAX_MESSAGE
        refused = await http.post(f"/api/v1/inboxes/{inbox_id}/messages", content=too_big)
        assert refused.status_code == 413 and refused.json()["error"] == "payload_too_large"

        send_cap = stack.settings.effective_mailtrap_send_max_bytes
        send = await http.post(
            f"/api/send/{inbox_id}",
            content=b"{" + b" " * send_cap + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert send.status_code == 413
        assert send.json()["success"] is False and "limit" in send.json()["errors"][0]

        # Small and authorised: untouched.
        fine = await http.post("/api/v1/projects", json={"name": "fine"})
        assert fine.status_code == 201


async def test_an_unauthenticated_send_with_a_body_keeps_the_send_api_shape(stack: Stack) -> None:
    async with stack.client(token=None) as http:
        r = await http.post("/api/send/1", json={"from": {"email": "a@example.com"}})
    assert r.status_code == 401
    assert r.json() == {"success": False, "errors": ["Unauthorized: missing or invalid API token"]}


# 3b. Mailtrap batch: sized from the request, built one at a time ----------------------------


def mail(**extra: Any) -> dict[str, Any]:
    return {
        "from": {"email": "app@example.com"},
        "to": [{"email": "user@example.com"}],
        "subject": "hello",
        **extra,
    }


async def test_a_batch_sharing_a_big_base_is_stored_only_as_far_as_the_quota(
    stack: Stack,
) -> None:
    quota = 6 * MB
    inbox_id = await new_inbox(stack, quota=quota)
    base = mail(html="<p>" + "x" * MB + "</p>")
    data = {"base": base, "requests": [{"subject": f"n{i}"} for i in range(300)]}

    async def batch() -> httpx.Response:
        async with stack.client() as http:
            return await http.post(f"/api/batch/{inbox_id}", json=data)

    r, growth = await peak_growth(batch)
    assert r.status_code == 200
    responses = r.json()["responses"]
    stored = [x for x in responses if x["success"]]
    refused = [x for x in responses if not x["success"]]
    assert 1 <= len(stored) <= 6  # as many as fit: about 1 MB each
    assert all("quota" in x["errors"][0] for x in refused)
    assert responses[: len(stored)] == stored  # in order: the first ones fit
    inbox = await stack.service.store.get_inbox(inbox_id)
    assert inbox.used_bytes <= quota
    # Building all 300 took ~1.8 GB for a 3 MB base; ~0.6 GB for this one.
    assert growth < 150, f"+{growth:.0f} MB"


async def test_a_batch_whose_messages_are_over_the_size_limit_builds_none(stack: Stack) -> None:
    inbox_id = await new_inbox(stack)
    base = mail(text="y" * (MAX_MESSAGE + 1))
    data = {"base": base, "requests": [{"subject": f"n{i}"} for i in range(3)]}

    async def batch() -> httpx.Response:
        async with stack.client() as http:
            return await http.post(f"/api/batch/{inbox_id}", json=data)

    r, growth = await peak_growth(batch)
    assert r.status_code == 200
    for one in r.json()["responses"]:
        assert one["success"] is False and "limit" in one["errors"][0]
    assert (await stack.service.store.get_inbox(inbox_id)).used_bytes == 0
    assert growth < 100, f"+{growth:.0f} MB"


# 3c. Decoding is capped too -----------------------------------------------------------------


def double_gzip(decoded: int) -> bytes:
    """``decoded`` bytes of CSS, gzipped, gzipped again: a few KB on the wire."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b".a{}" * (MB // 4)
    inner = b"".join(comp.compress(block) for _ in range(decoded // MB)) + comp.flush()
    return gzip.compress(inner, 9)


@pytest_asyncio.fixture(scope="module")
async def bomb_site() -> AsyncIterator[str]:
    """Serves /bomb.css: 1 GB of CSS as ``Content-Encoding: gzip, gzip``; /deflate.css: raw
    deflate; /broken.css: a body that is not gzip at all."""
    bomb = double_gzip(1024 * MB)
    plain = b".row{display:flex}" * 100
    raw_deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = raw_deflate.compress(plain) + raw_deflate.flush()
    bodies = {
        "/bomb.css": (bomb, "gzip, gzip"),
        "/deflate.css": (deflated, "deflate"),
        "/broken.css": (b"not gzip at all" * 10, "gzip"),
    }

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            body, encoding = bodies.get(path, (b"", "identity"))
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Type: text/css\r\nContent-Encoding: {encoding}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    site = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{site.sockets[0].getsockname()[1]}"
    site.close()
    await site.wait_closed()


async def test_a_double_gzipped_stylesheet_is_cut_at_the_cap(stack: Stack, bomb_site: str) -> None:
    inbox_id = await new_inbox(stack)
    html = f'<html><head><link rel="stylesheet" href="{bomb_site}/bomb.css"></head><p>x</p>'

    async def capture_and_analyse() -> dict[str, Any]:
        async with stack.client() as http:
            r = await http.post(f"/api/send/{inbox_id}", json=mail(html=html))
            assert r.status_code == 200, r.text
            message_id = r.json()["message_ids"][0]
            latest = await http.get(
                f"/api/v1/inboxes/{inbox_id}/messages/latest",
                params={"wait": 60, "analyzed": "true"},
            )
            assert latest.status_code == 200
            report = await http.get(f"/api/v1/messages/{message_id}/report/html")
            details: dict[str, Any] = report.json()["details"]
            return details

    details, growth = await peak_growth(capture_and_analyse)
    (sheet,) = details["stylesheets"]
    assert sheet["status_code"] == 200 and sheet["error"] is None
    assert sheet["truncated"] is True and sheet["chars"] == 512 * 1024
    assert growth < 150, f"+{growth:.0f} MB"  # it was over 2 GB


async def fetcher() -> LinkFetcher:
    return LinkFetcher(FetcherConfig(policy=AddressPolicy.from_entries(["127.0.0.1"])))


async def test_every_fetch_path_decodes_within_its_cap(bomb_site: str) -> None:
    async with await fetcher() as http:
        text = await http.fetch_text(f"{bomb_site}/bomb.css", max_bytes=1000)
        assert text.error is None and text.truncated and text.text == ".a{}" * 250

        deflated = await http.fetch_text(f"{bomb_site}/deflate.css")
        assert deflated.error is None and deflated.text == ".row{display:flex}" * 100

        broken = await http.fetch_text(f"{bomb_site}/broken.css")
        assert broken.text is None and broken.error and "gzip" in broken.error

        image = await http.fetch(f"{bomb_site}/bomb.css", image=True)
        assert image.error is None and image.ok  # sized by its transfer, never inflated


# 3d. Parallel large SMTP messages ------------------------------------------------------------


async def smtp_send_big(
    port: int, source: str, size: int, before_dot: Callable[[], Awaitable[Any]] | None = None
) -> str:
    """One message of ``size`` bytes over a raw SMTP session, written in 64 KB blocks (the
    client holds no copy); ``before_dot`` is awaited before the final dot. Returns the
    server's answer to the dot."""
    reader, writer = await connect(port, source)

    async def command(line: bytes) -> bytes:
        writer.write(line + b"\r\n")
        await writer.drain()
        answer = await reader.readline()
        while answer[3:4] == b"-":
            answer = await reader.readline()
        return answer

    try:
        await reader.readline()
        await command(b"EHLO client.test")
        await command(b"MAIL FROM:<a@example.com>")
        await command(b"RCPT TO:<b@example.com>")
        assert (await command(b"DATA")).startswith(b"354")
        writer.write(b"From: a@example.com\r\nTo: b@example.com\r\nSubject: big\r\n\r\n")
        block = (b"A" * 76 + b"\r\n") * (65536 // 78)
        for _ in range(size // len(block)):
            writer.write(block)
            await writer.drain()
        if before_dot is not None:
            await before_dot()
        return (await command(b".")).decode().strip()
    finally:
        writer.close()


async def test_parallel_large_smtp_messages_are_spooled_not_held(stack: Stack) -> None:
    size, sessions = 16 * MB, 8
    all_sent = asyncio.Barrier(sessions + 1)
    received = asyncio.Event()

    async def hold() -> None:
        await all_sent.wait()
        await received.wait()

    async def receive_all() -> None:
        await all_sent.wait()  # every session wrote its whole message but the final dot
        await asyncio.sleep(0.5)  # the server reads what is in flight

    senders = [
        asyncio.create_task(
            smtp_send_big(stack.smtp_port, f"127.0.1.{i + 1}", size, before_dot=hold)
        )
        for i in range(sessions)
    ]
    _, growth = await peak_growth(receive_all)
    received.set()
    answers = await asyncio.gather(*senders)
    assert all(a.startswith("250") for a in answers), answers
    for answer in answers:  # each stored, whole, before its 250
        row = await stack.service.store.get_message(int(answer.rsplit(" ", 1)[1]))
        assert row.size > size - 65536
    # aiosmtpd kept each message as one object per line while it arrived: +130 MB here.
    assert growth < 40, f"+{growth:.0f} MB while {sessions} x {size // MB} MB arrived"


async def test_a_large_dot_stuffed_message_is_stored_exactly(stack: Stack) -> None:
    """Past the 1 MiB read in one block (then line by line): lines that start with dots
    (stuffed by smtplib) come back byte for byte."""
    lines = [b"Subject: blocks", b"From: a@app.example", b""]
    for i in range(60_000):
        lines.append(b"." * (i % 4) + b"x" * (i % 97) + (b"." if i % 5 == 0 else b""))
    raw = b"\r\n".join(lines) + b"\r\n"
    assert len(raw) > 2 * MB
    inbox_id = await new_inbox(stack)
    async with stack.client() as http:
        inbox = (await http.get(f"/api/v1/inboxes/{inbox_id}")).json()

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=60) as smtp:
            smtp.ehlo("client.test")
            smtp.login(inbox["smtp"]["username"], inbox["smtp"]["password"])
            smtp.sendmail("a@app.example", ["b@example.com"], raw)

    await asyncio.to_thread(send)
    async with stack.client() as http:
        [message] = (await http.get(f"/api/v1/inboxes/{inbox_id}/messages")).json()["messages"]
        stored = (await http.get(f"/api/v1/messages/{message['id']}/raw")).content
    assert stored == raw


async def test_a_message_over_the_size_limit_is_refused_after_its_data(stack: Stack) -> None:
    answer = await smtp_send_big(stack.smtp_port, "127.0.2.1", MAX_MESSAGE + MB)
    assert answer.startswith("552")


# 5. Timeouts and connection caps -------------------------------------------------------------


async def test_a_connection_with_partial_headers_is_closed(stack: Stack) -> None:
    reader, writer = await connect(stack.http_port, "127.0.3.1")
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")

    async def trickle() -> None:  # bytes keep coming, the headers never end
        for _ in range(100):
            await asyncio.sleep(0.2)
            writer.write(b"X-Slow: 1\r\n")

    dripping = asyncio.create_task(trickle())
    try:
        assert await closed_by_peer(reader, within=10 * TIMEOUT) == b""
    finally:
        dripping.cancel()
        writer.close()


async def test_a_silent_connection_is_closed_and_a_kept_alive_one_too(stack: Stack) -> None:
    reader, writer = await connect(stack.http_port, "127.0.3.2")
    assert await closed_by_peer(reader, within=10 * TIMEOUT) == b""
    writer.close()

    reader, writer = await connect(stack.http_port, "127.0.3.2")
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
    answer = await closed_by_peer(reader, within=10 * TIMEOUT)
    assert answer.startswith(b"HTTP/1.1 200")
    writer.close()


async def test_oversized_headers_answer_431(stack: Stack) -> None:
    reader, writer = await connect(stack.http_port, "127.0.3.3")
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
    for _ in range(20):
        writer.write(b"X-Big: " + b"b" * 1000 + b"\r\n")
    answer = await closed_by_peer(reader, within=10)
    assert answer.startswith(b"HTTP/1.1 431")
    assert response_of(answer)[1]["error"] == "headers_too_large"
    writer.close()


async def test_an_idle_smtp_session_is_closed(stack: Stack) -> None:
    reader, writer = await connect(stack.smtp_port, "127.0.3.4")
    assert (await reader.readline()).startswith(b"220")
    assert await closed_by_peer(reader, within=10 * TIMEOUT) == b""
    writer.close()


async def test_slow_but_steady_data_outlives_the_idle_timeout(stack: Stack) -> None:
    reader, writer = await connect(stack.smtp_port, "127.0.3.5")

    async def command(line: bytes) -> bytes:
        writer.write(line + b"\r\n")
        answer = await reader.readline()
        while answer[3:4] == b"-":
            answer = await reader.readline()
        return answer

    await reader.readline()
    await command(b"EHLO client.test")
    await command(b"MAIL FROM:<a@example.com>")
    await command(b"RCPT TO:<b@example.com>")
    assert (await command(b"DATA")).startswith(b"354")
    writer.write(b"From: a@example.com\r\nSubject: slow\r\n\r\n")
    for _ in range(int(3 * TIMEOUT / 0.25)):  # three timeouts long, a line every 0.25 s
        await asyncio.sleep(0.25)
        writer.write(b"line\r\n")
    assert (await command(b".")).startswith(b"250")
    writer.close()


async def test_the_next_http_connection_over_the_per_address_cap_is_refused(stack: Stack) -> None:
    source = "127.0.4.1"
    held = [await connect(stack.http_port, source) for _ in range(PER_ADDRESS)]
    for _, writer in held:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")  # open, headers pending
    reader, writer = await connect(stack.http_port, source)
    refused = await closed_by_peer(reader, within=5)
    status, body = response_of(refused)
    assert status == 503 and body["error"] == "too_many_connections"
    writer.close()
    # Another address is not affected.
    async with httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(local_address="127.0.4.2")
    ) as other:
        assert (await other.get(stack.base_url + "/healthz")).status_code == 200
    for _, w in held:
        w.close()


async def test_the_next_smtp_session_over_the_per_address_cap_is_refused(stack: Stack) -> None:
    source = "127.0.4.3"
    held = [await connect(stack.smtp_port, source) for _ in range(PER_ADDRESS)]
    for r, _ in held:
        assert (await r.readline()).startswith(b"220")
    reader, writer = await connect(stack.smtp_port, source)
    assert (await closed_by_peer(reader, within=5)).startswith(b"421")
    writer.close()
    for _, w in held:
        w.close()
    # The sessions closed free their slots.
    for _ in range(100):
        reader, writer = await connect(stack.smtp_port, source)
        greeting = await reader.readline()
        writer.close()
        if greeting.startswith(b"220"):
            break
        await asyncio.sleep(0.05)
    assert greeting.startswith(b"220")
