"""The async engine and sessions, for SQLite (aiosqlite) and PostgreSQL (psycopg)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.text_search import FOLD_FUNCTION, fold

T = TypeVar("T")
# A connection back in the pool for longer than this is pinged before it is handed out again (PostgreSQL;
# DATABASE_PING_AFTER_IDLE_SECONDS for the API and the worker).
PING_AFTER_IDLE_SECONDS = 1.0


def make_engine(url: str, *, ping_after_idle: float = PING_AFTER_IDLE_SECONDS, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            dbapi_connection.create_function(FOLD_FUNCTION, 1, fold, deterministic=True)  # crm/text_search.py

        return engine
    engine = create_async_engine(url, **kwargs)
    _ping_when_idle(engine.sync_engine, ping_after_idle)
    return engine


def _ping_when_idle(engine: Engine, seconds: float) -> None:
    """Ping a pooled connection before handing it out when it has been idle for longer than `seconds`.

    What kills a pooled connection (a restart of PostgreSQL, a proxy's or the server's idle timeout) meets
    connections that waited; pinging every checkout (`pool_pre_ping`) cost a round trip per session, two per
    process start. A dead connection found here is replaced, and the whole pool with it (its connections are
    renewed as they are taken: they died together). One taken without a ping that proves dead (the database
    restarted within that second) fails its statement, which invalidates the pool the same way: the start
    path tries its first statement once more on a new connection (`on_live_connection`).
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")  # none on a new connection (its info is cleared)
        if idle_since is None or time.monotonic() - idle_since <= seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise InvalidatePoolError(f"a pooled connection idle {time.monotonic() - idle_since:.0f}s is dead "
                                      f"({type(exc).__name__})") from exc


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def end_reads(session: AsyncSession) -> None:
    """End the session's read transaction before waiting on something else (a process's answer, up to
    PROCESS_ANSWER_SECONDS): its connection goes back to the pool meanwhile instead of idling in a transaction,
    and the session takes one again for what follows. What it read stays loaded (`expire_on_commit=False`)."""
    assert not (session.new or session.dirty or session.deleted), "end_reads with writes pending"
    await session.commit()


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


async def on_live_connection(session: AsyncSession, statement: Callable[[], Awaitable[T]]) -> T:
    """The first statement of a session's checkout, each statement alone (`each_statement_alone`); once more on a
    new connection when the pooled one it took proves dead (the database restarted while it waited less than
    `PING_AFTER_IDLE_SECONDS`, so it was not pinged). Only for a statement that may run twice: a read, an update
    to the same values."""
    try:
        await each_statement_alone(session)
        return await statement()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        await session.rollback()  # lets the dead connection go; the pool renews the others as they are taken
    await each_statement_alone(session)
    return await statement()


async def statements_alone(engine: AsyncEngine, first: Callable[[AsyncConnection], Awaitable[T]]
                           ) -> tuple[AsyncConnection, T]:
    """A pooled connection for statements each a transaction of its own, with its first statement's result: what
    `on_live_connection` does for a session, with none of the ORM session's transaction machinery around the
    statements (the start path's: a fifth of its database CPU). Autocommit on PostgreSQL; on SQLite (whose driver
    begins before a write) the caller commits. The first statement, which must be one that may run twice, is tried
    once more on a new connection when the pooled one proves dead. The caller closes the connection."""
    for attempt in (0, 1):
        connection = await engine.connect()
        try:
            if engine.dialect.name != "sqlite":
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            return connection, await first(connection)
        except DBAPIError as exc:
            await connection.close()
            if attempt or not exc.connection_invalidated:
                raise
        except BaseException:
            await connection.close()
            raise
    raise AssertionError("unreachable")


async def statement_alone(engine: AsyncEngine, statement: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """One statement (that may run twice) as a transaction of its own on a pooled connection (`statements_alone`),
    committed, the connection given back."""
    connection, result = await statements_alone(engine, statement)
    try:
        await connection.commit()
        return result
    finally:
        await connection.close()


class Direct:
    """A pooled PostgreSQL connection driven straight through psycopg: each statement alone (autocommit) and prepared,
    with none of SQLAlchemy's execution machinery around it (its execution context, result objects, and a greenlet
    switch for each call: about 1 ms of CPU of the start path's 2 over its three statements). Taken from the engine's
    pool (the same connections, pinged after idling, `PING_AFTER_IDLE_SECONDS`) by `direct_alone`.

    Errors come out as SQLAlchemy's (`DBAPIError.instance`: IntegrityError, DataError...), with
    `connection_invalidated` when the connection proved dead, which is then replaced with every other pooled
    connection, as SQLAlchemy does. The statements are plain SQL with `%s` parameters, their types cast in the SQL."""

    __slots__ = ("_engine", "_fairy", "_driver")

    def __init__(self, engine: AsyncEngine, fairy: PoolProxiedConnection) -> None:
        self._engine, self._fairy = engine, fairy
        self._driver: Any = fairy.driver_connection  # psycopg's AsyncConnection

    @property
    def closed(self) -> bool:
        return self._driver is None

    async def first(self, sql: str, params: tuple[Any, ...] | Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row of a statement that returns rows (None when it returned none); committed."""
        return await self._run(sql, params, True)

    async def execute(self, sql: str, params: tuple[Any, ...]) -> None:
        """A statement that returns no rows; committed."""
        await self._run(sql, params, False)

    async def _run(self, sql: str, params: tuple[Any, ...] | Mapping[str, Any], rows: bool) -> tuple[Any, ...] | None:
        try:
            cursor = await self._driver.execute(sql, params, prepare=True)
            return await cursor.fetchone() if rows else None
        except self._engine.dialect.loaded_dbapi.Error as exc:
            dead = self._driver.closed or self._driver.broken
            if dead:
                # this one is closed with `close`; the others are renewed as they are taken
                self._engine.sync_engine.pool._invalidate(self._fairy, exc, _checkin=False)
            raise DBAPIError.instance(sql, params, exc, self._engine.dialect.loaded_dbapi.Error,
                                      connection_invalidated=dead, dialect=self._engine.dialect) from exc

    async def commit(self) -> None:
        """Nothing to do: each statement was committed (autocommit)."""

    async def rollback(self) -> None:
        """Nothing to do: a statement refused left no transaction open (autocommit)."""

    async def close(self) -> None:
        """Back to the pool, as SQLAlchemy's sessions take it (autocommit off); a connection that is not idle (dead, or
        a statement cancelled halfway) is closed instead."""
        driver, self._driver = self._driver, None
        if driver is None:
            return
        fairy = self._fairy
        try:
            if driver.closed or driver.broken or driver.info.transaction_status != _IDLE:
                await greenlet_spawn(fairy.invalidate)
            else:
                await driver.set_autocommit(False)
        finally:
            await greenlet_spawn(fairy.close)


_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE (psycopg is imported with the engine: SQLite needs none of it)


async def direct_alone(engine: AsyncEngine, first: Callable[[Direct], Awaitable[T]]) -> tuple[Direct, T]:
    """`statements_alone` on PostgreSQL through psycopg (`Direct`): a pooled connection in autocommit, with its first
    statement's result; the first statement (one that may run twice) tried once more on a new connection when the
    pooled one proves dead. The caller closes the connection."""
    for attempt in (0, 1):
        fairy = await greenlet_spawn(engine.sync_engine.raw_connection)
        direct = Direct(engine, fairy)
        try:
            await direct._driver.set_autocommit(True)
            return direct, await first(direct)
        except DBAPIError as exc:
            await direct.close()
            if attempt or not exc.connection_invalidated:
                raise
        except BaseException:
            await direct.close()
            raise
    raise AssertionError("unreachable")


async def direct_statement(engine: AsyncEngine, statement: Callable[[Direct], Awaitable[T]]) -> T:
    """`statement_alone` on PostgreSQL through psycopg (`direct_alone`)."""
    direct, result = await direct_alone(engine, statement)
    await direct.close()
    return result
