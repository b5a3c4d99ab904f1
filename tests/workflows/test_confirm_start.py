"""The starter's confirmation of a run (crm.process_runs.confirm_start, the API's start path): the run is `running`; on
PostgreSQL its commit does not wait for the disk, and that stays the statement's own: the pooled connection's next
transaction waits for its WAL as before (a lost confirmation is settled again; a lost insert would not be)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.db import Direct, direct_alone, direct_statement, make_engine, statement_alone, statements_alone
from crm.process_runs import ProcessRun, RunStatus, allocate_run, confirm_start
from tests.factories import Factory


async def test_the_starters_confirmation_marks_the_run_and_leaves_the_connection_waiting_for_the_disk(
        sessions: async_sessionmaker[AsyncSession], factory: Factory) -> None:
    owner = await factory.user()
    record = await factory.record(owner)
    async with sessions() as session:
        run, created = await allocate_run(session, template_key="confirmed", template_version=1, record_id=record.id,
                                          owner_id=owner.id, started_by="test")
    assert created and run.status is RunStatus.starting
    engine = sessions.kw["bind"]

    async def confirm(connection: AsyncConnection) -> None:
        await confirm_start(connection, run.workflow_id)

    connection, _ = await statements_alone(engine, confirm)
    try:
        await connection.commit()
        if engine.dialect.name == "postgresql":  # autocommit: the setting ended with the statement's transaction
            assert (await connection.execute(text("SHOW synchronous_commit"))).scalar() == "on"
    finally:
        await connection.close()
    assert (await factory.get(ProcessRun, run.id)).status is RunStatus.running

    await statement_alone(engine, confirm)  # the process's first step or the sweep got there too: nothing changes
    assert (await factory.get(ProcessRun, run.id)).status is RunStatus.running


async def test_the_confirmation_straight_through_psycopg_does_the_same(
        sessions: async_sessionmaker[AsyncSession], factory: Factory) -> None:
    """The API's start path on PostgreSQL (crm.db.Direct): the same statement, the same effect, the setting the
    statement's own; the connection goes back to the pool as the sessions take it (autocommit off)."""
    if sessions.kw["bind"].dialect.name != "postgresql":
        return
    engine = make_engine(sessions.kw["bind"].url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    owner = await factory.user()
    record = await factory.record(owner)
    async with sessions() as session:
        run, _ = await allocate_run(session, template_key="confirmed", template_version=1, record_id=record.id,
                                    owner_id=owner.id, started_by="test")

    async def confirm(connection: Direct) -> None:
        await confirm_start(connection, run.workflow_id)

    connection, _ = await direct_alone(engine, confirm)
    try:
        assert await connection.first("SHOW synchronous_commit", ()) == ("on",)
    finally:
        await connection.close()
    assert (await factory.get(ProcessRun, run.id)).status is RunStatus.running
    await direct_statement(engine, confirm)
    assert (await factory.get(ProcessRun, run.id)).status is RunStatus.running
    try:
        async with engine.connect() as conn:  # the one pooled connection, in a transaction again
            await conn.execute(text("SELECT 1"))
            assert conn.in_transaction() and not (await conn.get_raw_connection()).driver_connection.autocommit
    finally:
        await engine.dispose()
