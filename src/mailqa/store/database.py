"""Engines, sessions, write transactions and migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from mailqa.store.changes import ChangeHub

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
GROUP_COMMIT_BATCH = 200  # most captures (or reports) one group commit writes
CHANGED = "mailqa.changed_inboxes"  # session.info key: inboxes a transaction changed
OUTBOX = "mailqa.outbox_written"  # session.info key: the transaction wrote webhook events


def async_url(url: str) -> str:
    """The async driver variant of a SQLAlchemy URL (aiosqlite, psycopg)."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    u = make_url(url)
    if u.drivername == "sqlite+aiosqlite":
        u = u.set(drivername="sqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+asyncpg"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL + NORMAL: a committed message survives a killed process; readers never block writers.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def create_engine(url: str) -> AsyncEngine:
    aurl = async_url(url)
    if aurl.startswith("sqlite"):
        path = make_url(aurl).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(aurl, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(aurl, pool_size=10, max_overflow=20, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


class Database:
    """One database: its engine, sessions, and write transactions that announce the inboxes
    they changed to ``changes``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(url)
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)
        self._write_lock = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        # Who waits on which inbox; every committed change to an inbox's mail wakes them.
        self.changes = ChangeHub()
        # Set when a committed transaction wrote webhook events: wakes the delivery loop.
        self.outbox_written = asyncio.Event()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction. SQLite allows one writer at a time: queue writers here
        rather than letting them spin on the database lock (which costs up to seconds).

        The inboxes it changed (``touch``) are announced once it has committed."""
        if self._write_lock is None:
            async with self.sessions() as s:
                async with s.begin():
                    yield s
                self._committed(s)
            return
        async with self._write_lock, self.sessions() as s:
            async with s.begin():
                yield s
            self._committed(s)

    def _committed(self, s: AsyncSession) -> None:
        self.changes.notify(s.info.pop(CHANGED, ()))
        if s.info.pop(OUTBOX, False):
            self.outbox_written.set()

    async def close(self) -> None:
        await self.changes.close()
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self.sessions() as s:
            await s.execute(select(1))


def touch(s: AsyncSession, inbox_ids: Iterable[int]) -> None:
    """Note that the transaction changes these inboxes' mail: announced once it commits."""
    s.info.setdefault(CHANGED, set()).update(inbox_ids)


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # imported when migrating: it is slow to import

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the schema to the newest revision (synchronous; run it in a thread)."""
    u = make_url(sync_url(url))
    if u.drivername.startswith("sqlite") and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    from alembic import command

    command.upgrade(alembic_config(url), "head")
