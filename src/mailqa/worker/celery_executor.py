"""The executor that sends analyses to Celery workers instead of running them here."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mailqa.core.errors import ConfigError
from mailqa.core.message import ParsedMessage
from mailqa.settings import Settings
from mailqa.worker.celery_app import (
    ANALYZE_TASK,
    AUDIT_MESSAGES_TASK,
    AUDIT_TASK_CHUNK,
    RENDER_TASK,
    create_celery,
)


class CeleryExecutor:
    """Publishes task messages carrying ids only; the workers read the message from the
    database. Callers submit after the capture's commit, so a worker always finds the row.

    Publishing is blocking (kombu), so it runs on one dedicated thread, keeping the order.
    """

    def __init__(self, settings: Settings, app: Any = None) -> None:
        self.settings = settings
        self._app = app
        self._thread: ThreadPoolExecutor | None = None

    @property
    def app(self) -> Any:
        if self._app is None:
            self._app = create_celery(self.settings)
        return self._app

    def _pool(self) -> ThreadPoolExecutor:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="mailqa-enqueue")
        return self._thread

    async def start(self) -> None:
        """Fail fast when the broker cannot be reached."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._pool(), self._check_broker)
        except Exception as exc:
            raise ConfigError(
                f"cannot reach the Celery broker {self.settings.broker_url}: {exc}"
            ) from exc

    def _check_broker(self) -> None:
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=2, interval_start=0.2, interval_step=0.5)

    async def stop(self) -> None:
        if self._thread is not None:
            await asyncio.to_thread(self._thread.shutdown, True)
            self._thread = None

    async def submit(
        self,
        message_id: int,
        uid: str | None = None,
        parsed: ParsedMessage | None = None,
        only: Collection[str] | None = None,
    ) -> None:
        kwargs = {"only": sorted(only) if only else None, "uid": uid}
        await self._send(ANALYZE_TASK, [message_id], kwargs)

    async def submit_render(self, message_id: int, uid: str, force: bool = False) -> None:
        """Queue the message's render previews for a worker."""
        await self._send(RENDER_TASK, [message_id], {"uid": uid, "force": force})

    async def submit_audit(self, audit_id: int, message_ids: Collection[int]) -> None:
        """Queue audit tasks of ``AUDIT_TASK_CHUNK`` messages each."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self._pool(), self._send_audit_batch, audit_id, list(message_ids)
        )

    def _send_audit_batch(self, audit_id: int, message_ids: list[int]) -> None:
        with self.app.producer_or_acquire() as producer:
            for start in range(0, len(message_ids), AUDIT_TASK_CHUNK):
                self.app.send_task(
                    AUDIT_MESSAGES_TASK,
                    args=[audit_id, message_ids[start : start + AUDIT_TASK_CHUNK]],
                    queue=self.settings.celery_queue,
                    producer=producer,
                )

    async def audit_activity(self, audit_id: int) -> str | None:
        """What is still under way for ``audit_id``, or None when nothing is: no worker holds
        one of its tasks, and none is queued where a worker would take it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool(), self._audit_activity, audit_id)

    def _audit_activity(self, audit_id: int) -> str | None:
        inspect = self.app.control.inspect(timeout=1.0)
        for held in (inspect.active(), inspect.reserved(), inspect.scheduled()):
            for tasks in (held or {}).values():
                for task in tasks:
                    request = task.get("request", task)  # scheduled tasks wrap theirs
                    args = request.get("args") or []
                    if request.get("name") == AUDIT_MESSAGES_TASK and args[:1] == [audit_id]:
                        return "a worker is running its tasks"
        queue = self.settings.celery_queue
        with self.app.connection_for_read() as conn:
            try:
                waiting = conn.default_channel.queue_declare(queue, passive=True).message_count
            except Exception:  # the broker does not know the queue: nothing waits in it
                waiting = 0
        if not waiting:
            return None
        consumers = inspect.active_queues() or {}
        if any(q.get("name") == queue for queues in consumers.values() for q in queues):
            return f"{waiting} task(s) wait in queue {queue}"
        return None

    async def _send(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self._pool(),
            lambda: self.app.send_task(
                name, args=args, kwargs=kwargs, queue=self.settings.celery_queue
            ),
        )
