"""Per-inbox change notifications: who waits on which inbox, and a wake-up when it changes.

The store announces each committed write that touches an inbox's mail (a capture, a stored
report, a read flag, a delete). Those waiting on that inbox wake once per change (changes
made while a waiter was busy are coalesced into one wake-up, never lost); those waiting on
other inboxes do not wake at all. Waiting itself costs nothing: no timer fires and no query
runs while nothing changes.

Writes made by other processes (Celery workers storing reports) announce nothing here. For
them ``poll_with`` turns on one shared poll: one query for every watched inbox at a time,
however many wait, and only while someone waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from contextlib import suppress
from types import TracebackType

log = logging.getLogger(__name__)

Signatures = Callable[[Sequence[int]], Awaitable[dict[int, Hashable]]]


class _Topic:
    """One inbox's change counter and the event its waiters wait on."""

    __slots__ = ("event", "version", "watchers")

    def __init__(self) -> None:
        self.version = 0
        self.watchers = 0
        self.event = asyncio.Event()

    def bump(self) -> None:
        self.version += 1
        self.event.set()
        self.event = asyncio.Event()


class InboxWatch:
    """One waiter's view of an inbox: ``changed()`` returns once the inbox changed since the
    watch began or since the last ``changed()`` returned. Use it as a context manager."""

    def __init__(self, hub: ChangeHub, inbox_id: int, topic: _Topic) -> None:
        self._hub = hub
        self.inbox_id = inbox_id
        self._topic = topic
        self._seen = topic.version
        self._closed = False

    async def changed(self, within: float | None = None) -> bool:
        """True when the inbox changed; False when ``within`` seconds passed without."""
        topic = self._topic
        if topic.version == self._seen:
            event = topic.event
            try:
                await asyncio.wait_for(event.wait(), within)
            except TimeoutError:
                return False
        self._seen = topic.version
        return True

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._hub._release(self.inbox_id, self._topic)

    def __enter__(self) -> InboxWatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ChangeHub:
    def __init__(self) -> None:
        self._topics: dict[int, _Topic] = {}
        self._signatures: Signatures | None = None
        self._every = 0.0
        self._poller: asyncio.Task[None] | None = None
        self.polls = 0  # queries the shared poll has made (tests, diagnostics)

    def poll_with(self, signatures: Signatures, every: float) -> None:
        """Also look for changes made elsewhere: every ``every`` seconds while anyone waits,
        one call of ``signatures(watched inbox ids)``; an inbox whose value changed (or is
        seen for the first time) wakes its waiters."""
        self._signatures = signatures
        self._every = every

    @property
    def polling(self) -> bool:
        return self._signatures is not None

    def watch(self, inbox_id: int) -> InboxWatch:
        topic = self._topics.get(inbox_id)
        if topic is None:
            topic = self._topics[inbox_id] = _Topic()
        topic.watchers += 1
        if self._signatures is not None and (self._poller is None or self._poller.done()):
            self._poller = asyncio.get_running_loop().create_task(self._poll())
        return InboxWatch(self, inbox_id, topic)

    def watchers(self, inbox_id: int) -> int:
        """How many wait on the inbox now."""
        topic = self._topics.get(inbox_id)
        return topic.watchers if topic else 0

    def notify(self, inbox_ids: Iterable[int]) -> None:
        """The inboxes changed: wake whoever waits on them."""
        for inbox_id in set(inbox_ids):
            topic = self._topics.get(inbox_id)
            if topic is not None:
                topic.bump()

    def _release(self, inbox_id: int, topic: _Topic) -> None:
        topic.watchers -= 1
        if topic.watchers <= 0 and self._topics.get(inbox_id) is topic:
            del self._topics[inbox_id]

    async def _poll(self) -> None:
        assert self._signatures is not None
        last: dict[int, Hashable] = {}
        while self._topics:
            await asyncio.sleep(self._every)
            watched = list(self._topics)
            if not watched:
                break
            try:
                current = await self._signatures(watched)
            except Exception as exc:  # the database away for a moment: try again later
                log.warning("looking for changes made by other processes failed: %s", exc)
                continue
            finally:
                self.polls += 1
            # A first look cannot tell what changed before it: wake those waiters once.
            self.notify(i for i in watched if i not in last or last[i] != current.get(i))
            last = {i: current.get(i) for i in watched}

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
