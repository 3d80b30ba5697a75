"""The Celery application: broker, queue and the delivery guarantees analyses rely on.

- ``acks_late`` + ``reject_on_worker_lost``: a task is acknowledged only once it finished, so
  a worker killed mid-analysis leaves it on the broker and another worker runs it again
  (report writes are idempotent upserts, so running twice is harmless).
- ``prefetch_multiplier=1``: a worker holds one task per process, not a batch it may die with.
- Redis ``visibility_timeout``: how long a task taken by a worker that vanished whole stays
  invisible before Redis hands it out again; the workers sweep for such tasks at half that
  interval (at most every 10 s).
"""

from __future__ import annotations

from celery import Celery

from mailqa.settings import Settings

ANALYZE_TASK = "mailqa.analyze"
AUDIT_MESSAGES_TASK = "mailqa.audit_messages"
RENDER_TASK = "mailqa.render"
AUDIT_TASK_CHUNK = 20
"""Messages per audit task: one task per message spent more time on the broker round trip
(prefetch 1, late ack) and on its own database transactions than on the checks."""


def create_celery(settings: Settings) -> Celery:
    """A Celery app for ``settings`` (not made the process-wide current app)."""
    app = Celery("mailqa", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.celery_queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.celery_visibility_timeout,
            # kombu sweeps for abandoned tasks every interval x throttle seconds (10 x 10 by
            # default): a short visibility timeout would still wait 100 s. Sweep at half the
            # timeout (at most every 10 s), on every tick.
            "unacked_restore_interval": max(
                1, min(10, int(settings.celery_visibility_timeout // 2))
            ),
            "unacked_restore_throttle": 1,
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
    )
    return app
