"""The starter's confirmation of runs (crm.process_runs.confirm_starts, the API's start path, gathered by
api.start_confirmations): the runs are `running`; on PostgreSQL its commit does not wait for the disk, and that stays
the statement's own: the pooled connection's next transaction waits for its WAL as before (a lost confirmation is
settled again; a lost insert would not be)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api import start_confirmations
from api.start_confirmations import StartConfirmations
from crm.db import Direct, direct_alone, direct_statement, make_engine, statement_alone, statements_alone
from crm.process_runs import ProcessRun, RunStatus, allocate_run, confirm_starts
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
        await confirm_starts(connection, [run.workflow_id])

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
        await confirm_starts(connection, [run.workflow_id])

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


async def _starting_runs(sessions: async_sessionmaker[AsyncSession], factory: Factory, n: int) -> list[ProcessRun]:
    owner = await factory.user()
    record = await factory.record(owner)
    runs = []
    async with sessions() as session:
        for _ in range(n):
            run, _ = await allocate_run(session, template_key="gathered", template_version=1, record_id=record.id,
                                        owner_id=owner.id, started_by="test")
            runs.append(run)
    return runs


async def test_the_apis_confirmations_go_together_in_one_statement(
        sessions: async_sessionmaker[AsyncSession], factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """api.start_confirmations: the starts answered within the window are marked in one statement, after it; closing
    writes what waits at once."""
    runs = await _starting_runs(sessions, factory, 3)
    batches: list[list[str]] = []

    async def counted(connection: AsyncConnection | Direct, workflow_ids: list[str]) -> None:
        batches.append(list(workflow_ids))
        await confirm_starts(connection, workflow_ids)

    monkeypatch.setattr(start_confirmations, "confirm_starts", counted)
    confirmations = StartConfirmations(sessions.kw["bind"], window=3600)
    for run in runs:
        await confirmations.soon(run.workflow_id)
    await asyncio.sleep(0)  # the writer waits for its window: nothing is written yet
    assert batches == [] and {(await factory.get(ProcessRun, r.id)).status for r in runs} == {RunStatus.starting}
    await confirmations.close()
    assert batches == [[r.workflow_id for r in runs]]
    assert {(await factory.get(ProcessRun, r.id)).status for r in runs} == {RunStatus.running}


async def test_a_confirmation_is_written_once_its_window_has_passed(
        sessions: async_sessionmaker[AsyncSession], factory: Factory) -> None:
    [run] = await _starting_runs(sessions, factory, 1)
    confirmations = StartConfirmations(sessions.kw["bind"], window=0.01)
    await confirmations.soon(run.workflow_id)
    writer = confirmations._writer
    assert writer is not None
    await writer  # no close: the window alone lets it go
    assert (await factory.get(ProcessRun, run.id)).status is RunStatus.running
    await confirmations.now(run.workflow_id)  # marked again (the console's way): nothing changes
    assert (await factory.get(ProcessRun, run.id)).status is RunStatus.running


async def test_a_confirmation_the_database_refuses_is_left_to_the_sweep(
        sessions: async_sessionmaker[AsyncSession], factory: Factory, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A mark that cannot be written is logged, and the run stays `starting` for the sweep of process runs; the
    starts it belonged to were answered already, and the next marks are written."""
    first, second = await _starting_runs(sessions, factory, 2)

    async def refused(connection: AsyncConnection | Direct, workflow_ids: list[str]) -> None:
        raise OperationalError("UPDATE process_run", {}, Exception("the database is away"))

    monkeypatch.setattr(start_confirmations, "confirm_starts", refused)
    confirmations = StartConfirmations(sessions.kw["bind"], window=0)
    await confirmations.soon(first.workflow_id)
    await confirmations.close()
    assert "could not mark 1 started runs running" in caplog.text
    assert (await factory.get(ProcessRun, first.id)).status is RunStatus.starting
    monkeypatch.setattr(start_confirmations, "confirm_starts", confirm_starts)
    await confirmations.soon(second.workflow_id)
    await confirmations.close()
    assert (await factory.get(ProcessRun, second.id)).status is RunStatus.running
