"""Reads and writes of stored audits (the API's audits and ``--executor celery`` audits)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mailqa.audit.record import AuditRecord
from mailqa.audit.summary import AuditSummary
from mailqa.core.errors import NotFound
from mailqa.store.database import OUTBOX
from mailqa.store.models import Audit, AuditResult
from mailqa.store.repository import Store
from mailqa.store.webhooks import EventSource, enqueue_events

FINISHED = ("done", "failed", "cancelled")


def audit_data(audit: Audit) -> dict[str, Any]:
    """What an ``audit.completed`` event says of the audit."""
    return {
        "audit_id": audit.id,
        "summary": {
            "checks": list(audit.checks),
            "total": audit.total,
            "error": audit.error,
            "created_at": audit.created_at.isoformat(),
            "finished_at": audit.finished_at.isoformat() if audit.finished_at else None,
        },
        "verdict": {"status": audit.status},
    }


class AuditStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def _dialect(self) -> str:
        return self.store.engine.dialect.name

    async def create(
        self,
        inbox_id: int,
        checks: list[str],
        *,
        online: bool,
        filters: dict[str, Any],
        executor: str = "inline",
        imported: bool = False,
        status: str = "queued",
    ) -> Audit:
        async with self.store.sessions() as s, s.begin():
            audit = Audit(
                inbox_id=inbox_id,
                checks=checks,
                online=online,
                filters=filters,
                executor=executor,
                imported=imported,
                status=status,
            )
            s.add(audit)
        return audit

    async def get(self, audit_id: int) -> Audit:
        async with self.store.sessions() as s:
            audit = await s.get(Audit, audit_id)
        if audit is None:
            raise NotFound(f"audit {audit_id} not found")
        return audit

    async def list_audits(self, inbox_ids: Sequence[int] | None = None) -> Sequence[Audit]:
        q = select(Audit).order_by(Audit.id.desc())
        if inbox_ids is not None:
            q = q.where(Audit.inbox_id.in_(inbox_ids))
        async with self.store.sessions() as s:
            return (await s.scalars(q)).all()

    async def interrupted(self) -> Sequence[Audit]:
        """Audits a server was still dispatching when it stopped: queued ones, and inline
        ones still running (the server ran them itself)."""
        q = (
            select(Audit)
            .where(
                (Audit.status == "queued")
                | ((Audit.status == "running") & (Audit.executor == "inline"))
            )
            .order_by(Audit.id)
        )
        async with self.store.sessions() as s:
            return (await s.scalars(q)).all()

    async def update(self, audit_id: int, **values: Any) -> None:
        """Change the audit. When it finishes (done, failed, cancelled), its
        ``audit.completed`` webhook events are written in the same transaction."""
        finishing = values.get("status") in FINISHED
        if finishing:
            values.setdefault("finished_at", datetime.now(UTC))
        async with self.store.sessions() as s, s.begin():
            before = None
            if finishing:
                before = (
                    await s.execute(
                        select(Audit.status, Audit.inbox_id).where(Audit.id == audit_id)
                    )
                ).first()
            await s.execute(update(Audit).where(Audit.id == audit_id).values(**values))
            if before is not None and before.status not in FINISHED:
                audit = await s.get(Audit, audit_id)
                assert audit is not None
                await enqueue_events(
                    s,
                    "audit.completed",
                    [EventSource(audit.inbox_id, audit_data(audit))],
                    values["finished_at"],
                )
        if s.info.pop(OUTBOX, False):
            self.store.outbox_written.set()

    async def delete(self, audit_id: int) -> None:
        """The audit and its results; NotFound when there is no such audit."""
        async with self.store.sessions() as s, s.begin():
            await s.execute(delete(AuditResult).where(AuditResult.audit_id == audit_id))
            deleted = await s.execute(delete(Audit).where(Audit.id == audit_id))
        if deleted.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"audit {audit_id} not found")

    async def save_result(self, audit_id: int, record: AuditRecord) -> None:
        """Idempotent: a redelivered task writes the same row again."""
        await self.save_results(audit_id, [record])

    async def save_results(
        self, audit_id: int, records: Sequence[AuditRecord], *, replace: bool = True
    ) -> None:
        """Several records in one statement; idempotent like ``save_result``. Without
        ``replace``, messages that already have a record keep it."""
        if not records:
            return
        now = datetime.now(UTC)
        rows = []
        for record in records:
            assert record.message_id is not None
            rows.append(
                {
                    "audit_id": audit_id,
                    "message_id": record.message_id,
                    "status": record.status,
                    "score": record.score,
                    "record": record.model_dump(mode="json", by_alias=True),
                    "created_at": now,
                }
            )
        insert = sqlite_insert if self._dialect == "sqlite" else pg_insert
        stmt = insert(AuditResult).values(rows)
        keys = ["audit_id", "message_id"]
        if replace:
            stmt = stmt.on_conflict_do_update(
                index_elements=keys,
                set_={
                    "status": stmt.excluded.status,
                    "score": stmt.excluded.score,
                    "record": stmt.excluded.record,
                },
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        async with self.store.sessions() as s, s.begin():
            await s.execute(stmt)

    async def count_results(self, audit_id: int) -> int:
        async with self.store.sessions() as s:
            n = await s.scalar(
                select(func.count())
                .select_from(AuditResult)
                .where(AuditResult.audit_id == audit_id)
            )
        return int(n or 0)

    async def done_message_ids(self, audit_id: int) -> set[int]:
        async with self.store.sessions() as s:
            q = select(AuditResult.message_id).where(AuditResult.audit_id == audit_id)
            return set((await s.scalars(q)).all())

    async def results_page(
        self, audit_id: int, *, offset: int = 0, limit: int = 100, status: str | None = None
    ) -> tuple[list[AuditRecord], int]:
        q = select(AuditResult).where(AuditResult.audit_id == audit_id)
        if status:
            q = q.where(AuditResult.status == status)
        async with self.store.sessions() as s:
            total = await s.scalar(select(func.count()).select_from(q.subquery()))
            rows = (await s.scalars(q.order_by(AuditResult.id).offset(offset).limit(limit))).all()
        return [AuditRecord.model_validate(r.record) for r in rows], int(total or 0)

    async def results_after(
        self, audit_id: int, after: int, limit: int = 500
    ) -> list[tuple[int, AuditRecord]]:
        """Up to ``limit`` records whose row id is above ``after``, with their row ids."""
        async with self.store.sessions() as s:
            rows = (
                await s.execute(
                    select(AuditResult.id, AuditResult.record)
                    .where(AuditResult.audit_id == audit_id, AuditResult.id > after)
                    .order_by(AuditResult.id)
                    .limit(limit)
                )
            ).all()
        return [(row_id, AuditRecord.model_validate(record)) for row_id, record in rows]

    async def iter_results(self, audit_id: int, batch: int = 500) -> AsyncIterator[AuditRecord]:
        """Every record, a batch at a time (keyset pagination: flat memory)."""
        after = 0
        while rows := await self.results_after(audit_id, after, batch):
            for _, record in rows:
                yield record
            after = rows[-1][0]

    async def summarise(self, audit_id: int) -> dict[str, Any]:
        summary = AuditSummary()
        async for record in self.iter_results(audit_id):
            summary.add(record)
        return summary.to_dict()
