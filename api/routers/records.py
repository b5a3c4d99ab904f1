"""Records (contacts, properties, leads, jobs...): create, read, update, history, processes.

A create or a change commits with its record events (autostart); the record-events
dispatcher is then signalled.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select
from temporalio.client import Client

from api.deps import SessionDep, SettingsDep, StaffDep, TemporalDep
from api.routers.users import get_user_or_404
from crm.models import HistoryEntry, HistoryEntryPublic, ProcessRun, Record, RecordCreate, RecordPublic, RecordUpdate
from crm.record_events import add_record_events, snapshot
from crm.types import utcnow
from processes.errors import RecordNotFound
from processes.template import RecordKind
from settings import Settings
from workflows.record_events import notify_dispatcher

router = APIRouter(prefix="/records", tags=["records"])
log = logging.getLogger("stagecoach.api")


async def get_record_or_404(session: SessionDep, record_id: int) -> Record:
    record = await session.get(Record, record_id)
    if record is None:
        raise RecordNotFound(f"no record {record_id}")
    return record


async def _check_links(session: SessionDep, owner_id: int | None, contact_id: int | None) -> None:
    if owner_id is not None:
        await get_user_or_404(session, owner_id)
    if contact_id is not None:
        await get_record_or_404(session, contact_id)


async def _events_recorded(temporal: Client, settings: Settings, record_id: int | None) -> None:
    """Signal the dispatcher; a failure does not fail the request (the dispatcher's sweep finds the events)."""
    try:
        await notify_dispatcher(temporal, settings)
    except Exception:
        log.warning("could not signal the record-events dispatcher; its sweep will dispatch the events",
                    exc_info=True, extra={"record_id": record_id})


@router.post("", status_code=201, response_model=RecordPublic)
async def create_record(body: RecordCreate, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                        principal: StaffDep) -> Record:
    await _check_links(session, body.owner_id, body.contact_id)
    record = Record.model_validate(body)
    session.add(record)
    await session.flush()
    add_record_events(session, None, record, actor=principal.actor, actor_user_id=principal.user_id)
    await session.commit()
    await session.refresh(record)
    await _events_recorded(temporal, settings, record.id)
    return record


@router.get("", response_model=list[RecordPublic])
async def list_records(
    session: SessionDep, _: StaffDep,
    kind: RecordKind | None = None, status: str | None = None, owner_id: int | None = None,
    q: Annotated[str | None, Query(max_length=200, description="text in the title")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0)] = 0,
) -> list[Record]:
    query = select(Record)
    if kind:
        query = query.where(Record.kind == kind)
    if status:
        query = query.where(Record.status == status)
    if owner_id is not None:
        query = query.where(Record.owner_id == owner_id)
    if q:
        query = query.where(col(Record.title).icontains(q))
    return list((await session.exec(query.order_by(col(Record.id)).offset(offset).limit(limit))).all())


@router.get("/{record_id}", response_model=RecordPublic)
async def get_record(record_id: int, session: SessionDep, _: StaffDep) -> Record:
    return await get_record_or_404(session, record_id)


@router.patch("/{record_id}", response_model=RecordPublic)
async def update_record(record_id: int, body: RecordUpdate, session: SessionDep, temporal: TemporalDep,
                        settings: SettingsDep, principal: StaffDep) -> Record:
    """Change a record; a status or free field that changes may start processes (autostart)."""
    record = await get_record_or_404(session, record_id)
    changes = body.model_dump(exclude_unset=True)
    await _check_links(session, changes.get("owner_id"), changes.get("contact_id"))
    if "fields" in changes:
        changes["fields"] = {**(record.fields or {}), **(changes["fields"] or {})}
    before = snapshot(record)
    record.sqlmodel_update(changes)
    record.updated_at = utcnow()
    session.add(record)
    events = add_record_events(session, before, record, actor=principal.actor, actor_user_id=principal.user_id)
    await session.commit()
    await session.refresh(record)
    if events:
        await _events_recorded(temporal, settings, record.id)
    return record


@router.get("/{record_id}/history", response_model=list[HistoryEntryPublic])
async def record_history(
    record_id: int, session: SessionDep, _: StaffDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200, offset: Annotated[int, Query(ge=0)] = 0,
) -> list[HistoryEntry]:
    """The record's activity log, oldest first."""
    await get_record_or_404(session, record_id)
    query = (select(HistoryEntry).where(HistoryEntry.record_id == record_id)
             .order_by(col(HistoryEntry.id)).offset(offset).limit(limit))
    return list((await session.exec(query)).all())


@router.get("/{record_id}/processes", response_model=list[str])
async def record_processes(record_id: int, session: SessionDep, _: StaffDep) -> list[str]:
    """The workflow ids of every process started on the record, newest first."""
    await get_record_or_404(session, record_id)
    query = select(ProcessRun.workflow_id).where(ProcessRun.record_id == record_id).order_by(col(ProcessRun.id).desc())
    return list((await session.exec(query)).all())
