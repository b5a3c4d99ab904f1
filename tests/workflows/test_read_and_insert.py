"""The start's reads and its run's insert in one statement (crm.start_reads.read_and_insert, the API's start path on
PostgreSQL when the template version is at hand): it inserts only when the reads are what the start would have
checked; otherwise it inserts nothing and returns the reads, for the start to go on as before."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm import template_store
from crm.db import direct_statement
from crm.process_runs import ProcessRun, RunStatus
from crm.start_reads import read_and_insert
from processes.template import ProcessTemplate
from processes.template_basics import RecordKind
from tests.factories import Factory
from tests.workflows.helpers import template as template_document

PHASE = {"key": "call", "name": "Call",
         "actions": [{"create_task": {"title": "Call the client", "assignee": "process_owner"}}]}


@pytest.fixture
def postgresql(sessions: async_sessionmaker[AsyncSession]) -> Any:
    engine = sessions.kw["bind"]
    if engine.dialect.name != "postgresql":
        pytest.skip("the statement is PostgreSQL's (SQLite reads, then inserts)")
    return engine


async def _saved(sessions: async_sessionmaker[AsyncSession], **fields: Any) -> tuple[ProcessTemplate, int, str]:
    template = ProcessTemplate.model_validate(template_document(PHASE, **fields))
    async with sessions() as session:
        row, _ = await template_store.save(session, template, "test")
        await session.commit()
    template_store._AT_HAND.clear()
    await _parsed(sessions, template.key, row.version, row.checksum)
    return template, row.version, row.checksum


async def _parsed(sessions: async_sessionmaker[AsyncSession], key: str, version: int, checksum: str) -> None:
    async with sessions() as session:
        await template_store.parsed(session, key, version, checksum)


async def _runs(sessions: async_sessionmaker[AsyncSession], record_id: int) -> list[ProcessRun]:
    async with sessions() as session:
        return list((await session.exec(select(ProcessRun).where(ProcessRun.record_id == record_id))).all())


async def test_the_expected_start_is_inserted_with_its_reads(
        postgresql: Any, sessions: async_sessionmaker[AsyncSession], factory: Factory) -> None:
    template, version, checksum = await _saved(sessions)
    assert template_store.at_hand(template.key, None) == (version, checksum, template)
    assert template_store.at_hand(template.key, version) == (version, checksum, template)
    owner, staff = await factory.user(), await factory.user()
    record = await factory.record(owner)
    for user_id, expected_owner, number in ((None, owner.id, 1), (staff.id, staff.id, 2)):
        reads, run = await direct_statement(postgresql, lambda c: read_and_insert(
            c, template_key=template.key, version=version, latest=True, checksum=checksum, kind=RecordKind.lead,
            record_id=record.id, user_id=user_id, started_by="key:1", request_id=f"manual:1:r{number}"))
        assert reads is not None and (reads.version, reads.checksum, reads.record_owner_id) == (version, checksum,
                                                                                               owner.id)
        assert run is not None and (run.sequence, run.owner_id) == (number, expected_owner)
        assert run.workflow_id == f"process-{template.key}-{record.id}-{number}"
    stored = sorted(await _runs(sessions, record.id), key=lambda r: r.sequence)
    assert [(r.workflow_id, r.owner_id, r.triggered_by_user_id, r.status, r.template_version, r.request_id)
            for r in stored] == [
        (f"process-{template.key}-{record.id}-1", owner.id, None, RunStatus.starting, version, "manual:1:r1"),
        (f"process-{template.key}-{record.id}-2", staff.id, staff.id, RunStatus.starting, version, "manual:1:r2")]


async def test_what_the_start_would_have_refused_or_checked_is_not_inserted(
        postgresql: Any, sessions: async_sessionmaker[AsyncSession], factory: Factory) -> None:
    template, version, checksum = await _saved(sessions)
    owner = await factory.user()
    lead, contact = await factory.record(owner), await factory.record(owner, kind=RecordKind.contact)
    restricted, ownerless = await factory.record(owner, restricted=True), await factory.record()
    cases = {  # what differs from the expected start: the record, the checksum, the latest version
        "another checksum": (lead, "0" * len(checksum), False),
        "a record of another kind": (contact, checksum, False),
        "a restricted record": (restricted, checksum, False),
        "no owner to give the run": (ownerless, checksum, False),
        "a newer version saved since": (lead, checksum, True),
    }
    await _saved(sessions, key=template.key, name="Follow up, again")  # the latest is now version + 1
    for what, (record, digest, latest) in cases.items():
        reads, run = await direct_statement(postgresql, lambda c: read_and_insert(
            c, template_key=template.key, version=version, latest=latest, checksum=digest, kind=RecordKind.lead,
            record_id=record.id, user_id=None, started_by="key:1", request_id=None))
        assert run is None, what
        assert reads is not None and reads.record_kind == record.kind, what
        assert await _runs(sessions, record.id) == [], what
    nothing, run = await direct_statement(postgresql, lambda c: read_and_insert(
        c, template_key=template.key, version=version, latest=False, checksum=checksum, kind=RecordKind.lead,
        record_id=10**9, user_id=None, started_by="key:1", request_id=None))
    assert (nothing, run) == (None, None)


async def test_a_request_id_taken_refuses_the_whole_statement(
        postgresql: Any, sessions: async_sessionmaker[AsyncSession], factory: Factory) -> None:
    template, version, checksum = await _saved(sessions)
    record = await factory.record(await factory.user())

    def start(request_id: str) -> Any:
        return direct_statement(postgresql, lambda c: read_and_insert(
            c, template_key=template.key, version=version, latest=False, checksum=checksum, kind=RecordKind.lead,
            record_id=record.id, user_id=None, started_by="key:1", request_id=request_id))

    await start("manual:1:once")
    with pytest.raises(IntegrityError):
        await start("manual:1:once")
    assert [r.sequence for r in await _runs(sessions, record.id)] == [1]
