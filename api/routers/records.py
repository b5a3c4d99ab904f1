"""Records (contacts, properties, leads, jobs...): create, read, update, history, processes.

A create or a change commits with its record events (autostart); the record-events dispatcher is then
signalled (a move dispatches its own at once: `events_recorded`). A restricted record is seen only by its owner,
the users on its access list and admins (crm/access.py); to anyone else it does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from activities.autostart import dispatch_now
from activities.deps import Deps
from activities.mailer import Mailer
from activities.stage_starts import PreparedStart, start_prepared

from api.auth import Principal
from api.deps import SessionDep, SettingsDep, StaffDep, TemporalDep
from api.fields import Label
from api.paging import Page, paged
from api.references import named_in_body
from api.routers.users import get_user_or_404
from crm import pipeline_store
from crm.db import make_sessionmaker
from crm.access import Viewer, access_list, access_lists, may_manage, may_see, record_visible, set_access_list
from crm.free_fields import MAX_FREE_FIELDS, FreeFields
from crm.pipeline_moves import Move, change_type, creation_status, move_record
from crm.models import (HistoryEntry, HistoryEntryPublic, Record, RecordCreate, RecordEvent, RecordPublic,
                        RecordUpdate)
from crm.process_runs import ProcessRun, RunStatus
from crm.record_edits import edit_entry, hold_record, values_of
from crm.record_events import add_record_events, snapshot
from crm.types import utcnow
from crm.text_search import contains_text
from processes.errors import ContactInvalid, ErrorDetail, NotRecordOwner, RecordNotFound
from processes.template_basics import RecordKind
from settings import Settings
from workflows.client import notify_dispatcher

router = APIRouter(prefix="/records", tags=["records"])
_FREE_FIELDS: TypeAdapter[dict[str, Any]] = TypeAdapter(FreeFields)
log = logging.getLogger("stagecoach.api")


async def get_record_or_404(session: SessionDep, record_id: int, viewer: Viewer, fresh: bool = False) -> Record:
    """The record, if `viewer` may see it; "no record" alike when it is missing or hidden (`fresh`: read again from
    the database, not as this session read it before)."""
    record = await session.get(Record, record_id, populate_existing=fresh)
    listed = await access_list(session, record_id) if record is not None and record.restricted else []
    if record is None or not may_see(viewer, record, listed):
        raise RecordNotFound.worded("no record {id}", id=record_id)
    return record


async def _check_links(session: SessionDep, viewer: Viewer, owner_id: int | None, contact_id: int | None,
                       access_user_ids: list[int] | None, record_id: int | None = None) -> None:
    if owner_id is not None:
        await named_in_body("body.owner_id", get_user_or_404(session, owner_id))
    if contact_id is not None:
        await _check_contact(session, viewer, contact_id, record_id)
    for n, user_id in enumerate(access_user_ids or ()):
        await named_in_body(f"body.access_user_ids[{n}]", get_user_or_404(session, user_id))


MAX_CONTACT_CHAIN = 50  # a person's company's group...: past this many links, a chain is refused as if circular


async def _check_contact(session: SessionDep, viewer: Viewer, contact_id: int, record_id: int | None) -> None:
    """`contact_id` names a contact (a person or a company) other than the record, whose own contacts do not lead
    back to it (a cycle sends `record_contact` addresses and follow-ups round in circles)."""
    def refused(message: str) -> ContactInvalid:
        return ContactInvalid(message, details=[ErrorDetail("body.contact_id", message)])

    if contact_id == record_id:
        raise refused(f"record {record_id} cannot be its own contact")
    contact = await named_in_body("body.contact_id", get_record_or_404(session, contact_id, viewer))
    if contact.kind is not RecordKind.contact:
        raise refused(f"record {contact_id} is {'an' if contact.kind.value[0] in 'aeiou' else 'a'} "
                      f"{contact.kind.value}, not a contact")
    above = contact.contact_id
    for _ in range(MAX_CONTACT_CHAIN):
        if above is None:
            return
        if above == record_id:
            raise refused(f"record {contact_id}'s contacts lead back to record {record_id}")
        above = (await session.exec(select(Record.contact_id).where(col(Record.id) == above))).first()
    raise refused(f"record {contact_id}'s contacts are linked more than {MAX_CONTACT_CHAIN} deep")


async def public_record(session: SessionDep, record: Record) -> RecordPublic:
    assert record.id is not None
    return RecordPublic(**record.model_dump(), access_user_ids=await access_list(session, record.id))


async def events_recorded(temporal: Client, settings: Settings, record_id: int | None,
                          session: AsyncSession | None = None, events: Sequence[RecordEvent] = (),
                          prepared: PreparedStart | None = None) -> None:
    """Start the automation `prepared` with the move (`activities/stage_starts.py`), or dispatch the committed
    `events` of the record now (`dispatch_now`: its status's automations start at once), else signal the
    dispatcher; a failure does not fail the request (the dispatcher's sweep finds the events)."""
    ids = [event.id for event in events if event.id is not None]
    if session is not None and record_id is not None and ids:
        deps = Deps(settings=settings, sessions=make_sessionmaker(session.bind), mailer=Mailer(settings),
                    temporal=temporal)
        try:
            if prepared is not None and await start_prepared(deps, prepared):
                return
            if await dispatch_now(deps, record_id, ids) is not None:
                return
        except Exception:
            log.warning("could not dispatch the record's events now; the dispatcher will", exc_info=True,
                        extra={"record_id": record_id})
    try:
        await notify_dispatcher(temporal, settings)
    except Exception:
        log.warning("could not signal the record-events dispatcher; its sweep will dispatch the events",
                    exc_info=True, extra={"record_id": record_id})


@router.post("", status_code=201, response_model=RecordPublic)
async def create_record(body: RecordCreate, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                        principal: StaffDep) -> RecordPublic:
    """Create a record. A restricted one is seen by its owner, the users listed and admins."""
    await _check_links(session, principal, body.owner_id, body.contact_id, body.access_user_ids)
    record = Record.model_validate(body.model_dump(exclude={"access_user_ids"}))
    record.type = await pipeline_store.canonical_type(session, record.kind, record.type)
    await creation_status(session, record, "status" in body.model_fields_set)
    session.add(record)
    await session.flush()
    assert record.id is not None
    await set_access_list(session, record.id, body.access_user_ids)
    add_record_events(session, None, record, actor=principal.actor, actor_user_id=principal.user_id)
    await session.commit()
    await session.refresh(record)
    await events_recorded(temporal, settings, record.id)
    return await public_record(session, record)


@router.get("", response_model=list[RecordPublic])
async def list_records(
    session: SessionDep, principal: StaffDep, page: Annotated[Page, Depends(paged(100, 500))],
    kind: RecordKind | None = None, status: Label = None, owner_id: int | None = None,
    q: Annotated[str | None, Query(max_length=200, description="text in the title")] = None,
) -> list[Record]:
    """Records the caller may see, oldest first."""
    query = select(Record).where(record_visible(principal))
    if kind:
        query = query.where(Record.kind == kind)
    if status:
        query = query.where(Record.status == status)
    if owner_id is not None:
        query = query.where(Record.owner_id == owner_id)
    if q and (q := q.strip()):  # spaces around taken off, as the console does
        query = query.where(contains_text(col(Record.title), q))
    rows = query.order_by(col(Record.id)).offset(page.offset).limit(page.limit)
    if page.offset:
        # a deep page: skip `offset` records on the primary key alone (an index-only scan in PostgreSQL),
        # then read the page's rows: 24 ms instead of 118 ms at offset 90,000 (bench/data_scale.py)
        ids = rows.with_only_columns(col(Record.id)).subquery()
        rows = select(Record).join(ids, col(Record.id) == ids.c.id).order_by(col(Record.id))
    records = page.done((await session.exec(rows)).all())
    lists = await access_lists(session, [r.id for r in records if r.restricted and r.id is not None])
    # rows read back from the database are not validated again: validating the e-mail addresses of a page of
    # 100 records took 18 ms of CPU, most of the list's time (the profile in bench/data_scale.py)
    return [RecordPublic.model_construct(**r.model_dump(), access_user_ids=lists.get(r.id, []))  # type: ignore[arg-type]
            for r in records]


@router.get("/{record_id}", response_model=RecordPublic)
async def get_record(record_id: int, session: SessionDep, principal: StaffDep) -> RecordPublic:
    return await public_record(session, await get_record_or_404(session, record_id, principal))


@router.patch("/{record_id}", response_model=RecordPublic)
async def update_record(record_id: int, body: RecordUpdate, session: SessionDep, temporal: TemporalDep,
                        settings: SettingsDep, principal: StaffDep) -> RecordPublic:
    """Change a record; a status or free field that changes may start processes (autostart).

    `access_user_ids` replaces the access list. Only the record's owner and admins change who sees it
    (`restricted`, `access_user_ids`) and, when it is restricted, its owner (403 for anyone else).
    """
    await hold_record(session, record_id)  # read and written in one go: a PATCH at the same time waits for this one
    record = await get_record_or_404(session, record_id, principal, fresh=True)
    changes = body.model_dump(exclude_unset=True)
    access_user_ids = changes.pop("access_user_ids", None)
    await _check_manager(session, principal, record, changes, access_user_ids)
    await _check_links(session, principal, changes.get("owner_id"), changes.get("contact_id"), access_user_ids,
                       record_id)
    if "fields" in changes:
        changes["fields"] = _merged_fields(record.fields or {}, changes["fields"])
    if changes.get("type") is not None:
        changes["type"] = await pipeline_store.canonical_type(session, record.kind, changes["type"])
    moved = await _move_or_retype(session, principal, record, changes, settings.locale)
    before, values_before = snapshot(record), values_of(record)
    record.sqlmodel_update(changes)
    if "fields" in changes:  # written as given: the ORM takes {"a": 0} for {"a": false}, and would write nothing
        flag_modified(record, "fields")
    record.updated_at = utcnow()
    session.add(record)
    values_after = values_of(record)
    if access_user_ids is not None:
        values_before["access_user_ids"] = await access_list(session, record_id)
        values_after["access_user_ids"] = sorted(set(access_user_ids))
        await set_access_list(session, record_id, access_user_ids)
    if line := await edit_entry(session, settings.locale, record_id, values_before, values_after, principal.actor):
        session.add(line)
    events = add_record_events(session, before, record, actor=principal.actor, actor_user_id=principal.user_id)
    await session.commit()
    await session.refresh(record)
    if events or moved:
        await events_recorded(temporal, settings, record.id)
    return await public_record(session, record)


async def _move_or_retype(session: SessionDep, principal: Principal, record: Record, changes: dict[str, Any],
                          locale: str) -> bool:
    """A new type, or a new status, takes the pipeline's rules first (crm/pipeline_moves.py); whether it moved. Its
    history line is in the language of `locale` (LOCALE)."""
    status = changes.pop("status", None)
    new_type = changes.pop("type", None)
    if new_type is not None and new_type != record.type:
        await change_type(session, record, new_type, status, actor=principal.actor, actor_user_id=principal.user_id,
                          locale=locale)
        return True
    if status is not None and status != record.status:
        assert record.id is not None
        await move_record(session, record.id, Move(to=status, actor=principal.actor, actor_user_id=principal.user_id,
                                                               locale=locale))
        return True
    return False


async def _check_manager(session: SessionDep, principal: Principal, record: Record, changes: dict[str, Any],
                         access_user_ids: list[int] | None) -> None:
    """Only the owner and admins change who sees a record, and who owns a restricted one (crm/access.py)."""
    if may_manage(principal, record):
        return
    assert record.id is not None
    if changes.get("restricted", record.restricted) != record.restricted or (
            access_user_ids is not None and sorted(set(access_user_ids)) != await access_list(session, record.id)):
        raise NotRecordOwner(f"only the owner of record {record.id} or an admin may change who sees it "
                             "(restricted, access_user_ids)")
    if record.restricted and changes.get("owner_id", record.owner_id) != record.owner_id:
        raise NotRecordOwner(f"record {record.id} is restricted: only its owner or an admin may give it to someone else")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396's MergePatch: `{"a": {"b": null}}` on `{"a": {"b": 1, "c": 2}}` is `{"a": {"c": 2}}` (a nested
    object had been replaced whole, its other keys lost and the `null` kept)."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged


def _merged_fields(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The record's fields with `changes` merged in as JSON Merge Patch says (RFC 7396: a field given `null` is
    removed, an object given merges into the object there, at any depth), held to the limits of free fields as a
    whole."""
    merged = merge_patch(current, changes)
    if len(merged) > MAX_FREE_FIELDS:
        raise RequestValidationError([{"loc": ("body", "fields"), "type": "too_long", "input": None,
                                       "msg": f"the record would have {len(merged)} free fields; at most "
                                              f"{MAX_FREE_FIELDS} are kept: remove one by sending it as null"}])
    try:
        return _FREE_FIELDS.validate_python(merged)
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("body", "fields", *error["loc"])}
                                      for error in exc.errors(include_url=False)]) from None


@router.get("/{record_id}/history", response_model=list[HistoryEntryPublic])
async def record_history(
    record_id: int, session: SessionDep, principal: StaffDep, page: Annotated[Page, Depends(paged(200, 1000))],
) -> list[HistoryEntry]:
    """The record's activity log, oldest first."""
    await get_record_or_404(session, record_id, principal)
    query = (select(HistoryEntry).where(HistoryEntry.record_id == record_id)
             .order_by(col(HistoryEntry.id)).offset(page.offset).limit(page.limit))
    if page.offset:
        # a later page: skip on ix_history_entry_record_id_id alone (index-only in PostgreSQL), then read the
        # page's rows: 8 ms instead of 37 ms at offset 4,800 (bench/data_scale.py)
        ids = query.with_only_columns(col(HistoryEntry.id)).subquery()
        query = select(HistoryEntry).join(ids, col(HistoryEntry.id) == ids.c.id).order_by(col(HistoryEntry.id))
    return page.done((await session.exec(query)).all())


@router.get("/{record_id}/processes", response_model=list[str])
async def record_processes(record_id: int, session: SessionDep, principal: StaffDep,
                           page: Annotated[Page, Depends(paged(100, 500, newest_first=True))]) -> list[str]:
    """The workflow ids of every process started on the record, newest first; a start refused (503) and never
    retried, found not to exist, is not one (as in `GET /processes`)."""
    await get_record_or_404(session, record_id, principal)
    query = select(ProcessRun.id, ProcessRun.workflow_id).where(ProcessRun.record_id == record_id,
                                                                 col(ProcessRun.status) != RunStatus.not_started)
    rows = (await session.exec(page.newest(query, col(ProcessRun.id)))).all()
    return page.done([workflow_id for _, workflow_id in rows], last_id=rows[-1][0] if rows else None)
