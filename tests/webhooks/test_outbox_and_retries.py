"""The outbox and the delivery loop, driven one round at a time with a clock the test
controls: events are written with the change that causes them, retries back off
exponentially with jitter for the retry horizon, then the subscription is disabled with the
reason and nothing behind it is lost; a private target that is not allow-listed is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from tests.support.postgres import throwaway_pg_database
from tests.webhooks.receiver import Receiver

from mailqa.audit.store import AuditStore
from mailqa.core.errors import QuotaExceeded
from mailqa.core.message import CapturedMessage
from mailqa.core.report import CheckResult, MessageSummary, Report, Status
from mailqa.net.http.policy import AddressPolicy
from mailqa.net.http.poster import VettedPoster
from mailqa.settings import Settings
from mailqa.store.database import migrate
from mailqa.store.models import Inbox
from mailqa.store.repository import Store
from mailqa.webhooks.delivery import Deliverer
from mailqa.webhooks.signing import new_secret


def mail(subject: str) -> bytes:
    return (
        f"From: App <app@app.example>\r\nTo: user@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@app.example>\r\n\r\nHello.\r\n"
    ).encode()


class Clock:
    """Starts a second from now (after the events the test writes) and moves when told."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        self.now = self.start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test on SQLite and on a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    else:
        yield from throwaway_pg_database("mailqa_webhooks")


@pytest_asyncio.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    await asyncio.to_thread(migrate, db_url)
    s = Store(db_url)
    yield s
    await s.close()


async def inbox_of(store: Store) -> Inbox:
    project = await store.create_project("p")
    return await store.create_inbox(project.id, "i", 10_000_000)


def settings(tmp_path: Path, **values: object) -> Settings:
    base: dict[str, object] = {
        "data_dir": tmp_path,
        "webhook_allow": ["127.0.0.1"],
        "webhook_backoff_seconds": 10.0,
        "webhook_backoff_max_seconds": 3600.0,
        "webhook_retry_hours": 24.0,
        "webhook_timeout": 5.0,
    }
    base.update(values)
    return Settings(**base)  # type: ignore[arg-type]


async def test_events_are_written_with_the_change_that_causes_them(store: Store) -> None:
    inbox = await inbox_of(store)
    other = await store.create_inbox(inbox.project_id, "other", 10_000_000)
    by_inbox = await store.webhooks.create_subscription(
        url="http://127.0.0.1:9/a", events=["message.received"], inbox_id=inbox.id,
        secret=new_secret(), enabled=True,
    )  # fmt: skip
    by_project = await store.webhooks.create_subscription(
        url="http://127.0.0.1:9/b",
        events=["message.received", "report.completed", "audit.completed"],
        project_id=inbox.project_id, secret=new_secret(), enabled=True,
    )  # fmt: skip
    stored = await store.insert_message(inbox.id, CapturedMessage.scan(mail("one")))
    await store.insert_message(other.id, CapturedMessage.scan(mail("two")))
    summary = MessageSummary(subject="one")
    report = Report.from_results(summary, [CheckResult(name="headers", status=Status.WARNING)])
    await store.save_report(stored.id, stored.uid, report)
    audits = AuditStore(store)
    audit = await audits.create(inbox.id, ["headers"], online=False, filters={})
    await audits.update(audit.id, status="running")
    await audits.update(audit.id, total=1, status="done")
    await audits.update(audit.id, summary={"x": 1})  # no second completion

    mine = await store.webhooks.list_events(by_inbox.id)
    assert [e.type for e in mine] == ["message.received"]
    assert mine[0].payload["message_id"] == stored.id
    assert mine[0].payload["summary"]["subject"] == "one"
    project_events = list(reversed(await store.webhooks.list_events(by_project.id)))
    assert [e.type for e in project_events] == [
        "message.received",
        "message.received",
        "report.completed",
        "audit.completed",
    ]
    done = project_events[2].payload
    assert done["verdict"] == {"status": "warning", "score": report.score}
    assert done["checks"]["headers"]["status"] == "warning"
    assert project_events[3].payload["audit_id"] == audit.id
    assert project_events[3].payload["verdict"] == {"status": "done"}
    assert project_events[1].payload["inbox_id"] == other.id
    assert len({e.uid for e in [*mine, *project_events]}) == 5

    # A change that is not stored writes no event: a message over the inbox quota.
    full = await store.create_inbox(inbox.project_id, "full", 10)
    with pytest.raises(QuotaExceeded):
        await store.insert_message(full.id, CapturedMessage.scan(mail("too big")))
    assert len(await store.webhooks.list_events(by_project.id)) == 4


async def test_retries_back_off_then_disable_and_lose_nothing(store: Store, tmp_path: Path) -> None:
    inbox = await inbox_of(store)
    receiver = Receiver()  # not started: connections are refused
    sub = await store.webhooks.create_subscription(
        url=receiver.url, events=["message.received"], inbox_id=inbox.id,
        secret=new_secret(), enabled=True,
    )  # fmt: skip
    clock = Clock()
    jitter = iter([1.0, 0.0] + [1.0] * 100)
    deliverer = Deliverer(settings(tmp_path), store, clock=clock, jitter=lambda: next(jitter))
    try:
        first = await store.insert_message(inbox.id, CapturedMessage.scan(mail("first")))
        T0 = clock.start
        assert await deliverer.run_once() == (1, T0 + timedelta(seconds=10))
        # Not due yet: nothing is attempted, and the loop learns when it will be.
        assert await deliverer.run_once() == (0, T0 + timedelta(seconds=10))
        clock.now = T0 + timedelta(seconds=10)
        # Jitter 0: half of the doubled delay (20 s).
        assert await deliverer.run_once() == (1, clock.now + timedelta(seconds=10))
        clock.now += timedelta(seconds=10)
        second = await store.insert_message(inbox.id, CapturedMessage.scan(mail("second")))
        delays = []
        while True:
            attempted, later = await deliverer.run_once()
            assert attempted == 1
            if later is None or (await store.webhooks.get_subscription(sub.id)).enabled is False:
                break
            delays.append((later - clock.now).total_seconds())
            clock.now = later
        assert delays[:4] == [40.0, 80.0, 160.0, 320.0]
        assert max(delays) == 3600.0  # capped
        last_attempt = clock.now
        # Retried for the whole horizon: the next retry would have fallen after it.
        written = (await store.webhooks.list_events(sub.id))[-1].created_at
        assert last_attempt + timedelta(seconds=3600) > written + timedelta(hours=24)
        assert last_attempt <= written + timedelta(hours=24)
        disabled = await store.webhooks.get_subscription(sub.id)
        assert disabled.enabled is False
        assert disabled.disabled_reason is not None and "24 h" in disabled.disabled_reason
        events = {e.payload["message_id"]: e for e in await store.webhooks.list_events(sub.id)}
        assert events[first.id].status == "failed"
        assert events[second.id].status == "pending"  # held back, not dropped
        log = (await store.webhooks.attempts([events[first.id].id]))[events[first.id].id]
        assert len(log) == events[first.id].attempts == len(delays) + 3
        assert all(a.status_code is None and a.error for a in log)
        # Disabled: not attempted any more, however late it gets.
        clock.now += timedelta(days=3)
        assert (await deliverer.run_once())[0] == 0

        # The receiver comes back; enabling the subscription again delivers what waited,
        # and the failed event on request, with its own id.
        receiver.start()
        await store.webhooks.update_subscription(
            sub.id, enabled=True, retry_until=clock.now + timedelta(hours=24)
        )
        assert (await deliverer.run_once())[0] == 1
        await store.webhooks.redeliver(
            sub.id, events[first.id].id, now=clock.now, retry_until=clock.now + timedelta(hours=1)
        )
        assert (await deliverer.run_once())[0] == 1
        assert receiver.answered_ids() == [events[second.id].uid, events[first.id].uid]
        assert (await store.webhooks.get_subscription(sub.id)).disabled_reason is None
        delivered = await store.webhooks.list_events(sub.id)
        assert {e.status for e in delivered} == {"delivered"}
        ok = (await store.webhooks.attempts([events[second.id].id]))[events[second.id].id][-1]
        assert ok.status_code == 200 and ok.response_excerpt == "ok" and ok.latency_ms >= 0
        # The log is kept for a while, then dropped with the events delivered.
        assert await store.webhooks.prune(datetime.now(UTC) - timedelta(days=1)) == 0
        assert await store.webhooks.prune(datetime.now(UTC) + timedelta(days=1)) == 2
        assert await store.webhooks.list_events(sub.id) == []
    finally:
        receiver.stop()
        await deliverer.aclose()


async def test_a_private_target_not_allow_listed_is_refused(store: Store, tmp_path: Path) -> None:
    inbox = await inbox_of(store)
    receiver = Receiver()
    receiver.start()

    async def resolve(host: str) -> list[str]:
        return ["127.0.0.1"]  # a public-looking name that points at loopback

    sub = await store.webhooks.create_subscription(
        url=f"http://hooks.example.test:{receiver.port}/hook", events=["message.received"],
        inbox_id=inbox.id, secret=new_secret(), enabled=True,
    )  # fmt: skip
    poster = VettedPoster(AddressPolicy.from_entries([]), resolve=resolve, timeout=5)
    deliverer = Deliverer(settings(tmp_path, webhook_allow=[]), store, poster=poster)
    try:
        await store.insert_message(inbox.id, CapturedMessage.scan(mail("x")))
        assert (await deliverer.run_once())[0] == 1
        event = (await store.webhooks.list_events(sub.id))[0]
        attempt = (await store.webhooks.attempts([event.id]))[event.id][0]
        assert attempt.status_code is None
        assert attempt.error is not None and "loopback" in attempt.error
        assert event.status == "pending"
        assert receiver.received == []
        # Pending events are never dropped by the log's retention.
        assert await store.webhooks.prune(datetime.now(UTC) + timedelta(days=1)) == 0
    finally:
        receiver.stop()
        await deliverer.aclose()


async def test_answers_other_than_2xx_are_retried(store: Store, tmp_path: Path) -> None:
    inbox = await inbox_of(store)
    receiver = Receiver()
    receiver.start()
    sub = await store.webhooks.create_subscription(
        url=receiver.url, events=["message.received"], inbox_id=inbox.id,
        secret=new_secret(), enabled=True,
    )  # fmt: skip
    clock = Clock()
    deliverer = Deliverer(settings(tmp_path), store, clock=clock, jitter=lambda: 1.0)
    try:
        await store.insert_message(inbox.id, CapturedMessage.scan(mail("x")))
        for status in (503, 302):  # a redirect is an answer, never followed
            receiver.status = status
            attempted, later = await deliverer.run_once()
            assert attempted == 1 and later is not None
            clock.now = later
        receiver.status = 204
        assert (await deliverer.run_once())[0] == 1
        event = (await store.webhooks.list_events(sub.id))[0]
        log = (await store.webhooks.attempts([event.id]))[event.id]
        assert [a.status_code for a in log] == [503, 302, 204]
        assert [a.error for a in log] == ["answered 503", "answered 302", None]
        assert event.status == "delivered" and event.attempts == 3
        assert len(receiver.received) == 3 and {r.id for r in receiver.received} == {event.uid}
    finally:
        receiver.stop()
        await deliverer.aclose()
