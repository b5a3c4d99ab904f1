"""The async engine and sessions, for SQLite (aiosqlite) and PostgreSQL (psycopg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def begin_write(session: AsyncSession) -> None:
    """Take SQLite's write lock now, before reading what the write will depend on (`BEGIN IMMEDIATE`).

    SQLite lets a transaction read, then refuses its write if another connection wrote meanwhile: a reader
    turned writer never waits its turn. Taken first, the lock makes the next writer wait (busy_timeout) until
    this transaction ends. A transaction that has already written holds the lock; PostgreSQL locks rows.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = await (await session.connection()).get_raw_connection()
    if not connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        await session.exec(text("BEGIN IMMEDIATE"))  # type: ignore[call-overload]


async def each_statement_alone(session: AsyncSession) -> None:
    """From here to the session's next commit, each statement is a transaction of its own (autocommit): no BEGIN
    and COMMIT round trips on PostgreSQL. Left as it is on SQLite: its driver begins only before a write and
    commits in process, and switching autocommit on and back costs two hops to aiosqlite's thread. A session
    already in a transaction (a console page's, that read who is signed in) goes on in it."""
    if session.get_bind().dialect.name != "sqlite" and not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
