"""SMTP AUTH hardening against the real server with the real smtplib client: a failure limit
with back-off per client address, admin tokens refused unless configured, and credentials
checked again at each transaction."""

from __future__ import annotations

import asyncio
import smtplib
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from tests.support.messages import make_message
from tests.support.stack import ADMIN_TOKEN, Running, base_settings, start_stack

from mailqa.capture.auth_limit import AuthFailureLimiter, client_key
from mailqa.capture.credential_cache import RecentlyValid
from mailqa.store.models import Inbox
from mailqa.store.repository import Store


def stack(data_dir: Path, **overrides: Any) -> AbstractAsyncContextManager[Running]:
    """A stack of its own: the failure limit is per server, so tests do not share counts."""
    return start_stack(base_settings(data_dir, **overrides))


async def new_inbox(running: Running) -> tuple[int, str, str]:
    async with running.client() as c:
        project = (await c.post("/api/v1/projects", json={"name": "auth"})).json()
        r = await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "in"})
        assert r.status_code == 201, r.text
        inbox = r.json()
    return inbox["id"], inbox["smtp"]["username"], inbox["smtp"]["password"]


async def new_token(running: Running, **body: object) -> tuple[int, str]:
    async with running.client() as c:
        r = await c.post("/api/v1/tokens", json={"name": "app", **body})
        assert r.status_code == 201, r.text
        return r.json()["id"], r.json()["token"]


async def messages_of(running: Running, inbox_id: int) -> list[str]:
    async with running.client() as c:
        r = await c.get(f"/api/v1/inboxes/{inbox_id}/messages", params={"per_page": 200})
        assert r.status_code == 200
        return [m["subject"] for m in r.json()["messages"]]


def auth(smtp: smtplib.SMTP, user: str, password: str, mechanism: str = "PLAIN") -> int:
    """One AUTH on an open session: its reply code (235 when it succeeded)."""
    smtp.user, smtp.password = user, password
    try:
        code, _ = smtp.auth(
            mechanism,
            getattr(smtp, f"auth_{mechanism.lower()}"),
            initial_response_ok=mechanism == "PLAIN",
        )
    except smtplib.SMTPAuthenticationError as err:
        return err.smtp_code
    return code


def login_code(port: int, user: str, password: str, mechanism: str = "PLAIN") -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("client.test")
        return auth(smtp, user, password, mechanism)


async def poll_until_accepted(port: int, user: str, password: str) -> None:
    """Log in again and again until the back-off is over (refused with 454 until then)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while (code := await asyncio.to_thread(login_code, port, user, password)) != 235:
        assert code == 454
        assert loop.time() < deadline, "the back-off never ended"
        await asyncio.sleep(0.05)


# The failure limit ------------------------------------------------------------------------


async def test_wrong_passwords_are_refused_after_the_limit_then_a_back_off(
    tmp_path: Path,
) -> None:
    async with stack(tmp_path, smtp_auth_max_failures=3, smtp_auth_backoff_seconds=3.0) as running:
        inbox_id, user, password = await new_inbox(running)
        port = running.smtp_port

        def hammer() -> list[int]:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                smtp.ehlo("client.test")
                codes = [auth(smtp, user, f"wrong-{i}") for i in range(6)]
                codes.append(auth(smtp, user, password))  # right, but during the back-off
                codes.append(auth(smtp, user, password, "LOGIN"))  # refused before challenges
            return codes

        assert await asyncio.to_thread(hammer) == [535, 535, 535, 454, 454, 454, 454, 454]
        # Another connection from the same address is refused too, even with the password.
        assert await asyncio.to_thread(login_code, port, user, password) == 454
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            await asyncio.to_thread(
                running.smtp_send, make_message("during back-off"), login=(user, password)
            )
        assert err.value.smtp_code == 454 and b"4.7.0" in err.value.smtp_error

        await poll_until_accepted(port, user, password)
        # The success cleared the address: the count starts again from zero.
        assert [await asyncio.to_thread(login_code, port, user, "no") for _ in range(2)] == [
            535,
            535,
        ]
        await asyncio.to_thread(running.smtp_send, make_message("after"), login=(user, password))
        assert await messages_of(running, inbox_id) == ["after"]


async def test_parallel_guesses_get_no_more_than_the_limit_checked(tmp_path: Path) -> None:
    async with stack(
        tmp_path, smtp_auth_max_failures=3, smtp_auth_backoff_seconds=120.0
    ) as running:
        _, user, _ = await new_inbox(running)
        codes = await asyncio.gather(
            *(
                asyncio.to_thread(login_code, running.smtp_port, user, f"guess-{i}")
                for i in range(12)
            )
        )
        assert sorted(codes) == [454] * 9 + [535] * 3


async def test_parallel_connections_with_the_right_password_all_get_in(tmp_path: Path) -> None:
    async with stack(tmp_path, smtp_auth_max_failures=2) as running:
        inbox_id, user, password = await new_inbox(running)
        await asyncio.gather(
            *(
                asyncio.to_thread(
                    running.smtp_send, make_message(f"pool {i}"), login=(user, password)
                )
                for i in range(8)
            )
        )
        assert len(await messages_of(running, inbox_id)) == 8


async def test_no_limit_when_max_failures_is_zero(tmp_path: Path) -> None:
    async with stack(tmp_path, smtp_auth_max_failures=0) as running:
        _, user, password = await new_inbox(running)

        def many() -> list[int]:
            with smtplib.SMTP("127.0.0.1", running.smtp_port, timeout=30) as smtp:
                smtp.ehlo("client.test")
                return [auth(smtp, user, "wrong") for _ in range(20)] + [auth(smtp, user, password)]

        assert await asyncio.to_thread(many) == [535] * 20 + [235]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_back_off_doubles_up_to_its_cap_and_a_success_resets_it() -> None:
    clock = Clock()
    limiter = AuthFailureLimiter(3, window=60, backoff=10, backoff_max=35, clock=clock)
    for _ in range(2):
        limiter.failed("192.0.2.1")
        assert limiter.retry_after("192.0.2.1") == 0
    limiter.failed("192.0.2.1")
    assert limiter.retry_after("192.0.2.1") == 10
    assert limiter.retry_after("192.0.2.2") == 0  # another address is not affected
    delays = []
    for _ in range(4):  # each failure after a back-off brings the next, twice as long
        clock.now += limiter.retry_after("192.0.2.1")
        limiter.failed("192.0.2.1")
        delays.append(limiter.retry_after("192.0.2.1"))
    assert delays == [20, 35, 35, 35]
    clock.now += 35
    limiter.succeeded("192.0.2.1")
    for _ in range(2):
        limiter.failed("192.0.2.1")
    assert limiter.retry_after("192.0.2.1") == 0
    limiter.failed("192.0.2.1")
    assert limiter.retry_after("192.0.2.1") == 10


def test_failures_outside_the_window_are_forgotten() -> None:
    clock = Clock()
    limiter = AuthFailureLimiter(3, window=60, backoff=10, backoff_max=100, clock=clock)
    for _ in range(2):
        limiter.failed("192.0.2.1")
        clock.now += 40
    limiter.failed("192.0.2.1")  # the first is 80 s old: two in the window
    assert limiter.retry_after("192.0.2.1") == 0
    clock.now += 61
    limiter.failed("192.0.2.9")  # any failure sweeps the addresses quiet for a window
    assert len(limiter) == 1


def test_memory_stays_bounded_whatever_the_number_of_addresses() -> None:
    clock = Clock()
    limiter = AuthFailureLimiter(
        2, window=600, backoff=10, backoff_max=100, max_addresses=100, clock=clock
    )
    for i in range(5000):
        limiter.failed(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
        clock.now += 0.001
    assert len(limiter) == 100


def test_ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() -> None:
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7" == client_key("192.0.2.7")
    clock = Clock()
    limiter = AuthFailureLimiter(2, window=60, backoff=10, backoff_max=10, clock=clock)
    limiter.failed("2001:db8::1")
    limiter.failed("2001:db8::2")
    assert limiter.retry_after("2001:db8::3") == 10


# Admin tokens -----------------------------------------------------------------------------


async def test_admin_tokens_are_refused_over_smtp_by_default(tmp_path: Path) -> None:
    async with stack(tmp_path) as running:
        for starttls in (False, True):
            with pytest.raises(smtplib.SMTPAuthenticationError) as err:
                await asyncio.to_thread(
                    running.smtp_send,
                    make_message("as admin"),
                    login=("any", ADMIN_TOKEN),
                    starttls=starttls,
                )
            assert err.value.smtp_code == 535 and b"Admin API tokens" in err.value.smtp_error
        _, sandbox_token = await new_token(running)
        await asyncio.to_thread(
            running.smtp_send, make_message("as app"), login=("any", sandbox_token)
        )
        async with running.client(token=sandbox_token) as c:
            listing = (await c.get("/pro/api/sandbox/messages")).json()["messages"]
        assert [m["subject"] for m in listing] == ["as app"]
        async with running.client() as c:
            admin_sandbox = (await c.get("/pro/api/sandbox")).json()
        assert admin_sandbox["enabled"] is False  # nothing was delivered for the admin token


async def test_admin_tokens_are_accepted_when_configured(tmp_path: Path) -> None:
    async with stack(tmp_path, smtp_allow_admin_tokens=True) as running:
        await asyncio.to_thread(
            running.smtp_send, make_message("as admin"), login=("any", ADMIN_TOKEN)
        )
        async with running.client() as c:
            listing = (await c.get("/pro/api/sandbox/messages")).json()["messages"]
        assert [m["subject"] for m in listing] == ["as admin"]


# Credentials checked again at each transaction ----------------------------------------------


async def test_a_session_whose_token_is_revoked_cannot_deliver_the_next_message(
    tmp_path: Path,
) -> None:
    async with stack(tmp_path) as running:
        token_id, token = await new_token(running)
        other_inbox, user, password = await new_inbox(running)
        sandbox: list[int] = []

        def session() -> tuple[smtplib.SMTPSenderRefused, int]:
            with smtplib.SMTP("127.0.0.1", running.smtp_port, timeout=30) as smtp:
                smtp.ehlo("client.test")
                assert auth(smtp, "any", token) == 235
                smtp.sendmail("a@app.example", ["b@example.com"], make_message("before"))
                sandbox.append(
                    asyncio.run_coroutine_threadsafe(sandbox_id(), loop).result(timeout=30)
                )
                asyncio.run_coroutine_threadsafe(revoke(), loop).result(timeout=30)
                with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                    smtp.sendmail("a@app.example", ["b@example.com"], make_message("after"))
                # Still refused: the session is not silently demoted to unauthenticated mail.
                with pytest.raises(smtplib.SMTPSenderRefused):
                    smtp.sendmail("a@app.example", ["b@example.com"], make_message("again"))
                # It may authenticate again with valid credentials and go on.
                code = auth(smtp, user, password)
                smtp.sendmail("a@app.example", ["b@example.com"], make_message("re-auth"))
                return refused.value, code

        async def sandbox_id() -> int:
            async with running.client(token=token) as c:
                [m] = (await c.get("/pro/api/sandbox/messages")).json()["messages"]
            return (await running.service.store.get_message(int(m["id"]))).inbox_id

        async def revoke() -> None:
            async with running.client() as c:
                assert (await c.delete(f"/api/v1/tokens/{token_id}")).status_code == 204

        loop = asyncio.get_running_loop()
        refused, code = await asyncio.to_thread(session)
        assert refused.smtp_code == 530 and b"no longer valid" in refused.smtp_error
        assert code == 235
        assert await messages_of(running, sandbox[0]) == ["before"]
        assert await messages_of(running, other_inbox) == ["re-auth"]
        async with running.client() as c:
            names = [i["name"] for i in (await c.get("/api/v1/inboxes")).json()]
        assert "Default" not in names  # nothing fell through to the default inbox


async def test_revocation_between_mail_from_and_data_stores_nothing(tmp_path: Path) -> None:
    async with stack(tmp_path) as running:
        token_id, token = await new_token(running)
        loop = asyncio.get_running_loop()

        async def revoke() -> None:
            async with running.client() as c:
                assert (await c.delete(f"/api/v1/tokens/{token_id}")).status_code == 204

        def session() -> tuple[int, bytes]:
            with smtplib.SMTP("127.0.0.1", running.smtp_port, timeout=30) as smtp:
                smtp.ehlo("client.test")
                assert auth(smtp, "any", token) == 235
                assert smtp.mail("a@app.example")[0] == 250
                assert smtp.rcpt("b@example.com")[0] == 250
                asyncio.run_coroutine_threadsafe(revoke(), loop).result(timeout=30)
                return smtp.data(make_message("late"))

        code, reply = await asyncio.to_thread(session)
        assert code == 530 and b"no longer valid" in reply
        async with running.client() as c:
            inboxes = (await c.get("/api/v1/inboxes")).json()
        for inbox in inboxes:
            assert await messages_of(running, inbox["id"]) == []


async def test_resetting_inbox_credentials_ends_sessions_that_used_the_old_ones(
    tmp_path: Path,
) -> None:
    async with stack(tmp_path) as running:
        inbox_id, user, password = await new_inbox(running)
        loop = asyncio.get_running_loop()

        async def reset() -> str:
            async with running.client() as c:
                r = await c.post(f"/api/v1/inboxes/{inbox_id}/reset_credentials")
                assert r.status_code == 200
                return str(r.json()["smtp"]["password"])

        def session() -> tuple[int, str]:
            with smtplib.SMTP("127.0.0.1", running.smtp_port, timeout=30) as smtp:
                smtp.ehlo("client.test")
                assert auth(smtp, user, password) == 235
                smtp.sendmail("a@app.example", ["b@example.com"], make_message("old creds"))
                new = asyncio.run_coroutine_threadsafe(reset(), loop).result(timeout=30)
                with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                    smtp.sendmail("a@app.example", ["b@example.com"], make_message("stale"))
                return refused.value.smtp_code, new

        code, new_password = await asyncio.to_thread(session)
        assert code == 530
        assert await asyncio.to_thread(login_code, running.smtp_port, user, password) == 535
        await asyncio.to_thread(
            running.smtp_send, make_message("new creds"), login=(user, new_password)
        )
        assert sorted(await messages_of(running, inbox_id)) == ["new creds", "old creds"]


# Recent successful checks ---------------------------------------------------------------------


def test_recent_successes_expire_are_voided_by_a_change_and_stay_bounded() -> None:
    now = [0.0]
    version = [0]
    recent: RecentlyValid[str] = RecentlyValid(lambda: version[0], 1.0, 3, clock=lambda: now[0])
    recent.remember("a", "inbox 1", 0)
    assert recent.get("a") == "inbox 1" and recent.get("b") is None
    now[0] = 1.0  # the window is over
    assert recent.get("a") is None and len(recent) == 0
    recent.remember("a", "inbox 1", 0)
    version[0] = 1  # a token deleted, a password reset
    assert recent.get("a") is None
    recent.remember("late", "inbox 2", 0)  # checked before the change: void at once
    assert recent.get("late") is None
    for key in "wxyz":
        recent.remember(key, key, 1)
    assert len(recent) == 3 and recent.get("w") is None and recent.get("z") == "z"


async def test_a_burst_with_one_login_looks_it_up_once_and_a_wrong_password_still_fails(
    tmp_path: Path,
) -> None:
    async with stack(tmp_path) as running:
        inbox_id, user, password = await new_inbox(running)
        store = running.service.store
        lookups: list[str] = []
        find, get_inbox = store.find_inbox_by_smtp, store.get_inbox

        async def counted_find(username: str, password: str) -> Inbox | None:
            lookups.append("login")
            return await find(username, password)

        async def counted_get(inbox_id: int) -> Inbox:
            lookups.append("recheck")
            return await get_inbox(inbox_id)

        store.find_inbox_by_smtp = counted_find  # type: ignore[method-assign]
        store.get_inbox = counted_get  # type: ignore[method-assign]

        def session(n: int) -> None:
            with smtplib.SMTP("127.0.0.1", running.smtp_port, timeout=30) as smtp:
                smtp.ehlo("client.test")
                assert auth(smtp, user, password) == 235
                for i in range(3):
                    smtp.sendmail("a@app.example", ["b@example.com"], make_message(f"{n}.{i}"))

        await asyncio.to_thread(session, 0)  # the first login and its re-checks are looked up
        first = len(lookups)
        assert first >= 2
        await asyncio.gather(*(asyncio.to_thread(session, n) for n in range(1, 5)))
        # Within the window: at most one more round of lookups, not one per connection and
        # message (4 connections x (AUTH + 3 x (MAIL FROM + DATA)) = 28).
        assert len(lookups) - first <= first
        assert len(await messages_of(running, inbox_id)) == 15
        assert await asyncio.to_thread(login_code, running.smtp_port, user, password + "x") == 535


async def test_a_token_revoked_by_another_process_stops_working_within_the_window(
    tmp_path: Path,
) -> None:
    """The server's own revocations void the remembered logins at once (tests above); one
    made by another process (``mailqa token revoke``, another Store) within a second."""
    async with stack(tmp_path) as running:
        token_id, token = await new_token(running)
        assert await asyncio.to_thread(login_code, running.smtp_port, "any", token) == 235
        other_process = Store(running.service.settings.effective_database_url)
        try:
            await other_process.delete_token(token_id)
        finally:
            await other_process.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while (code := await asyncio.to_thread(login_code, running.smtp_port, "any", token)) == 235:
            assert loop.time() < deadline, "the revoked token was still accepted after 30 s"
            await asyncio.sleep(0.05)
        assert code == 535
