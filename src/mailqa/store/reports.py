"""Analysis reports: saved onto the message that was analysed (group-committed), read back
one or many at a time. Their ``report.completed`` webhook events are written in the same
transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mailqa.core.report import Report
from mailqa.store.database import GROUP_COMMIT_BATCH, Database, touch
from mailqa.store.models import Message, StoredReport
from mailqa.store.webhooks import EventSource, enqueue_events

MESSAGES = cast(Table, Message.__table__)
REPORTS = cast(Table, StoredReport.__table__)


def report_data(message_id: int, report: Report) -> dict[str, Any]:
    """What a ``report.completed`` event says: the message, the verdict, each check's."""
    return {
        "message_id": message_id,
        "summary": {
            "subject": report.message.subject,
            "from": report.message.from_,
            "message_id": report.message.message_id,
            "size": report.message.size,
        },
        "verdict": {"status": report.status.value, "score": report.score},
        "checks": {
            name: {"status": r.status.value, "score": r.score, "findings": len(r.findings)}
            for name, r in report.checks.items()
        },
    }


class ReportRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._report_queue: list[tuple[int, str, Report, asyncio.Future[None]]] = []
        self._report_flusher: asyncio.Task[None] | None = None

    async def save_report(self, message_id: int, uid: str, report: Report) -> None:
        """Insert or replace the report (idempotent: the same analysis may be written twice).

        Saved only onto the message that was analysed: the row must still carry ``uid``,
        or the report is dropped. Group-committed like captures: concurrent analyses share
        one transaction.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._report_queue.append((message_id, uid, report, future))
        if self._report_flusher is None or self._report_flusher.done():
            self._report_flusher = asyncio.create_task(self._flush_reports())
        await future

    async def _flush_reports(self) -> None:
        while self._report_queue:
            batch = self._report_queue[:GROUP_COMMIT_BATCH]
            del self._report_queue[:GROUP_COMMIT_BATCH]
            latest = {(mid, uid): report for mid, uid, report, _ in batch}  # last write wins
            try:
                await self._save_reports(latest)
            except Exception as exc:
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for *_, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _save_reports(self, reports: dict[tuple[int, str], Report]) -> None:
        now = datetime.now(UTC)
        async with self.db.write() as s:
            ids = {mid for mid, _ in reports}
            found = (
                await s.execute(
                    select(Message.id, Message.uid, Message.inbox_id).where(Message.id.in_(ids))
                )
            ).all()
            kept = [(mid, uid, inbox_id) for mid, uid, inbox_id in found if (mid, uid) in reports]
            if not kept:
                return  # every message was deleted while being analysed
            alive = [(mid, uid) for mid, uid, _ in kept]
            touch(s, (inbox_id for *_, inbox_id in kept))
            rows = [
                {
                    "message_id": mid,
                    "status": reports[mid, uid].status.value,
                    "score": reports[mid, uid].score,
                    "data": reports[mid, uid].model_dump(mode="json", by_alias=True),
                    "updated_at": now,
                }
                for mid, uid in alive
            ]
            table = REPORTS
            upsert = (sqlite_insert if self.db.engine.dialect.name == "sqlite" else pg_insert)(
                table
            )
            await s.execute(
                upsert.on_conflict_do_update(
                    index_elements=[table.c.message_id],
                    set_={
                        "status": upsert.excluded.status,
                        "score": upsert.excluded.score,
                        "data": upsert.excluded.data,
                        "updated_at": upsert.excluded.updated_at,
                    },
                ),
                rows,
            )
            await enqueue_events(
                s,
                "report.completed",
                [
                    EventSource(inbox_id, report_data(mid, reports[mid, uid]))
                    for mid, uid, inbox_id in kept
                ],
                now,
            )
            messages = MESSAGES
            await s.execute(
                update(messages)
                .where(messages.c.id == bindparam("mid"))
                .values(analysis_status="analyzed", score=bindparam("new_score")),
                [{"mid": r["message_id"], "new_score": r["score"]} for r in rows],
            )

    async def get_report(self, message_id: int) -> Report | None:
        async with self.db.sessions() as s:
            row = await s.get(StoredReport, message_id)
        if row is None:
            return None
        return Report.model_validate(row.data)

    async def get_reports(
        self, message_ids: Sequence[int], *, only_checks: Collection[str] | None = None
    ) -> dict[int, Report]:
        """The reports of several messages in one query. With ``only_checks``, each report
        keeps just those sections (a listing validates what it shows, not whole reports)."""
        if not message_ids:
            return {}
        async with self.db.sessions() as s:
            rows = await s.execute(
                select(StoredReport.message_id, StoredReport.data).where(
                    StoredReport.message_id.in_(message_ids)
                )
            )
            found = rows.all()
        out: dict[int, Report] = {}
        for message_id, data in found:
            if only_checks is not None:
                checks = data.get("checks") or {}
                data = {**data, "checks": {k: v for k, v in checks.items() if k in only_checks}}
            out[message_id] = Report.model_validate(data)
        return out
