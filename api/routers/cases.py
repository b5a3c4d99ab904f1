"""Cases: a shared matter with participants, tags, an open/closed state and restricted access.

A case is a record of kind `case` (its name is the record's title): restricted access, history,
processes and tasks are the record's (crm/access.py; `PATCH /records/{id}` changes who sees it).
Each change of participants, tags or state is a line in its history. Closing asks what to do with
its running processes; deleting aborts them, then removes the case and everything hanging from it in
one transaction (crm/cases/removal.py).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from activities.engine_words import say
from api.auth import Principal
from api.case_lifecycle import abort_processes, running_processes
from api.deps import SessionDep, SettingsDep, StaffDep, TemporalDep
from api.fields import Flag
from api.idempotency import IdempotencyKeyHeader, claim
from api.notices import queue_notices, send_notices
from api.references import named_in_body
from api.task_reminders import cancel_record_reminders, set_record_reminders
from api.paging import Page, paged
from api.routers.records import events_recorded, get_record_or_404
from api.routers.users import get_user_or_404
from crm.access import Viewer, record_visible, set_access_list
from crm.cases import store
from crm.cases.models import CaseClosure, CaseCreate, CaseParticipant, CasePublic, CaseState, CaseUpdate, TagName
from crm.cases.removal import count_hanging, remove_case
from crm.db import end_reads
from crm.documents.store import delete_files, record_keys
from crm.documents.storage import storage_for
from crm.models import HistoryEntry, HistoryKind, Record
from crm.record_events import add_record_events
from crm.text_search import contains_text
from crm.types import utcnow
from processes.errors import CaseNotFound, CaseStateConflict, ConfirmationRequired, NotAContact, RecordNotFound, \
    RunningProcesses, ServiceUnavailable
from processes.history_words import history_text
from processes.sent_values import WholeNumber
from processes.template_basics import RecordKind
from processes.wording import with_article

router = APIRouter(prefix="/cases", tags=["cases"])


async def get_case_or_404(session: SessionDep, case_id: int, viewer: Viewer) -> Record:
    """The case, if `viewer` may see it; "no case" alike when it is missing, hidden or another kind of record."""
    try:
        record = await get_record_or_404(session, case_id, viewer)
    except RecordNotFound:
        record = None
    if record is None or record.kind is not RecordKind.case:
        raise CaseNotFound.worded("no case {id}", id=case_id)
    return record


async def _public(session: SessionDep, case: Record, viewer: Viewer) -> CasePublic:
    return (await store.publics(session, [case], viewer))[0]


def _line(case_id: int, kind: HistoryKind, text: str, principal: Principal, **data: object) -> HistoryEntry:
    return HistoryEntry(record_id=case_id, kind=kind, text=text, actor=principal.actor, data=data)


async def _contact(session: SessionDep, contact_id: int, viewer: Viewer, path: str) -> Record:
    """The contact a body field (`path`) names."""
    contact = await named_in_body(path, get_record_or_404(session, contact_id, viewer))
    if contact.kind is not RecordKind.contact:
        raise NotAContact(f"record {contact_id} is {with_article(contact.kind.value)}: a participant must be a contact "
                          "(a person or a company)")
    return contact


def _named(contact: Record) -> str:
    """A participant as the case's history names it: a restricted contact by its number, not its name (whoever sees
    the case reads its history, and may not see the contact)."""
    return f"#{contact.id}" if contact.restricted else contact.title


@router.post("", status_code=201, response_model=CasePublic)
async def create_case(body: CaseCreate, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                      principal: StaffDep) -> CasePublic:
    """Create a case: its participants, tags (existing ones picked, new ones created), who sees it, and
    an email to each user in `notify_user_ids` (in LOCALE's language)."""
    if body.owner_id is not None:
        await named_in_body("body.owner_id", get_user_or_404(session, body.owner_id))
    for n, user_id in enumerate(body.access_user_ids):
        await named_in_body(f"body.access_user_ids[{n}]", get_user_or_404(session, user_id))
    contacts: dict[int, Record] = {}  # each once
    for n, contact_id in enumerate(body.participant_ids):
        if contact_id not in contacts:
            contacts[contact_id] = await _contact(session, contact_id, principal, f"body.participant_ids[{n}]")
    case = Record(kind=RecordKind.case, title=body.name, owner_id=body.owner_id, restricted=body.restricted)
    session.add(case)
    await session.flush()
    assert case.id is not None
    await set_access_list(session, case.id, body.access_user_ids)
    add_record_events(session, None, case, actor=principal.actor, actor_user_id=principal.user_id)  # autostart
    session.add(_line(case.id, HistoryKind.case_created, history_text(settings.locale, "case_created", title=body.name),
                      principal))
    for contact in contacts.values():
        session.add(CaseParticipant(case_id=case.id, contact_id=contact.id, added_by=principal.actor))  # type: ignore[arg-type]
        session.add(_line(case.id, HistoryKind.participant_added,
                          history_text(settings.locale, "participant_added", name=_named(contact)), principal,
                          contact_id=contact.id))
    if body.tags:
        added, _ = await store.set_tags(session, case.id, body.tags)
        session.add(_line(case.id, HistoryKind.tags_changed,
                          history_text(settings.locale, "tags_set", tags=", ".join(added)), principal, added=added))
    key = f"case/{case.id}/created"
    text = say(settings.locale)
    notices = await queue_notices(
        session, settings, key=key, record_id=case.id, user_ids=body.notify_user_ids,
        subject=text("new_case", name=body.name), body=text("new_case_text", name=body.name, case_id=case.id))
    await session.commit()
    await events_recorded(temporal, settings, case.id)
    await send_notices(temporal, settings, key, notices)
    return await _public(session, case, principal)


@router.get("", response_model=list[CasePublic])
async def list_cases(
    session: SessionDep, principal: StaffDep, page: Annotated[Page, Depends(paged(100, 500, newest_first=True))],
    state: CaseState | None = None,
    tag: Annotated[list[TagName] | None, Query(max_length=20, description="carrying every tag given")] = None,
    q: Annotated[str | None, Query(max_length=200, description="text in the name or in one of its tags' names "
                                                               "(any case, any accent)")] = None,
    participant_id: int | None = None,
) -> list[CasePublic]:
    """The cases the caller may see, newest first."""
    query = select(Record).where(Record.kind == RecordKind.case, record_visible(principal))
    if state is not None:
        query = query.where(store.state_is(state))
    for name in tag or ():
        query = query.where(store.tagged(name))
    if q and (q := q.strip()):  # spaces around taken off, as the console does
        query = query.where(contains_text(col(Record.title), q) | store.tag_holding(q))
    if participant_id is not None:  # a contact the caller does not see is as one there is not: no case
        contact = aliased(Record)
        query = query.where(select(CaseParticipant.case_id).join(contact, contact.id == CaseParticipant.contact_id)
                            .where(CaseParticipant.case_id == Record.id, CaseParticipant.contact_id == participant_id,
                                   record_visible(principal, contact)).exists())
    rows = (await session.exec(page.newest(query, col(Record.id)))).all()
    return page.done(await store.publics(session, rows, principal))


@router.get("/{case_id}", response_model=CasePublic)
async def get_case(case_id: int, session: SessionDep, principal: StaffDep) -> CasePublic:
    return await _public(session, await get_case_or_404(session, case_id, principal), principal)


@router.patch("/{case_id}", response_model=CasePublic)
async def update_case(case_id: int, body: CaseUpdate, session: SessionDep, settings: SettingsDep,
                      principal: StaffDep) -> CasePublic:
    """Rename the case or replace its tags. Who sees it is changed as for any record (`PATCH /records/{id}`)."""
    case = await get_case_or_404(session, case_id, principal)
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] != case.title:
        session.add(_line(case_id, HistoryKind.note, history_text(settings.locale, "case_renamed", previous=case.title,
                                                                  title=changes["name"]), principal))
        case.title = changes["name"]
    if "tags" in changes:
        added, removed = await store.set_tags(session, case_id, changes["tags"])
        if added or removed:
            said = partial(history_text, settings.locale)
            text = said("tags_changed", added=", ".join(added), removed=", ".join(removed)) if added and removed \
                else said("tags_added", tags=", ".join(added)) if added \
                else said("tags_removed", tags=", ".join(removed))
            session.add(_line(case_id, HistoryKind.tags_changed, text, principal,
                              added=added, removed=removed))
    case.updated_at = utcnow()
    session.add(case)
    await session.commit()
    return await _public(session, case, principal)


class ParticipantBody(BaseModel):
    contact_id: WholeNumber = Field(description="a contact record: a person or a company")


@router.post("/{case_id}/participants", response_model=CasePublic)
async def add_participant(case_id: int, body: ParticipantBody, session: SessionDep, settings: SettingsDep,
                          principal: StaffDep) -> CasePublic:
    """Add a contact to the case (nothing changes if it takes part already)."""
    case = await get_case_or_404(session, case_id, principal)
    contact = await _contact(session, body.contact_id, principal, "body.contact_id")
    if await session.get(CaseParticipant, (case_id, body.contact_id)) is None:
        session.add(CaseParticipant(case_id=case_id, contact_id=body.contact_id, added_by=principal.actor))
        session.add(_line(case_id, HistoryKind.participant_added,
                          history_text(settings.locale, "participant_added", name=_named(contact)), principal,
                          contact_id=contact.id))
        await session.commit()
    return await _public(session, case, principal)


@router.delete("/{case_id}/participants/{contact_id}", response_model=CasePublic)
async def remove_participant(case_id: int, contact_id: int, session: SessionDep, settings: SettingsDep,
                             principal: StaffDep) -> CasePublic:
    """Unlink a contact from the case (the contact stays)."""
    case = await get_case_or_404(session, case_id, principal)
    contact = await get_record_or_404(session, contact_id, principal)
    link = await session.get(CaseParticipant, (case_id, contact_id))
    if link is None:
        raise RecordNotFound(f"contact {contact_id} does not take part in case {case_id}")
    await session.delete(link)
    session.add(_line(case_id, HistoryKind.participant_removed,
                      history_text(settings.locale, "participant_removed", name=_named(contact)), principal,
                      contact_id=contact_id))
    await session.commit()
    return await _public(session, case, principal)


class CloseBody(BaseModel):
    running_processes: Literal["abort", "keep"] | None = Field(
        None, description="what to do with the case's running processes; needed when it has any")
    reason: str = Field("", max_length=500)


@router.post("/{case_id}/close", response_model=CasePublic)
async def close_case(case_id: int, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                     principal: StaffDep, body: CloseBody | None = None,
                     idempotency_key: IdempotencyKeyHeader = None) -> CasePublic:
    """Close the case. With running processes, `running_processes` says whether to abort them or keep them
    (409 `RunningProcesses`, listing them, when it is left out). Pending task reminders are cancelled. Sent again
    with the same `Idempotency-Key` once closed, it answers with the case (not 409)."""
    body = body or CloseBody()
    case = await get_case_or_404(session, case_id, principal)
    if idempotency_key is not None and not await claim(session, idempotency_key, principal, "close_case",
                                                       f"case {case_id}", body):
        if await session.get(CaseClosure, case_id) is not None:
            return await _public(session, case, principal)  # sent again: what it did
    if await session.get(CaseClosure, case_id) is not None:
        raise CaseStateConflict(f"case {case_id} is closed already")
    running = await running_processes(session, case_id)
    if running and body.running_processes is None:
        raise RunningProcesses(f"case {case_id} has {len(running)} running process(es) ({', '.join(running)}): "
                               "send running_processes 'abort' or 'keep'")
    await end_reads(session)
    aborted = await abort_processes(temporal, running, f"case closed: {body.reason or 'no reason given'}",
                                    principal.actor, within=settings.process_answer_seconds
                                    ) if body.running_processes == "abort" else []
    reminders = await cancel_record_reminders(session, temporal, case_id)
    session.add(CaseClosure(case_id=case_id, closed_by=principal.actor, reason=body.reason))
    said = partial(history_text, settings.locale)
    text = said("case_closed_why", reason=body.reason) if body.reason else said("case_closed")
    if aborted:
        text += said("processes_aborted", count=len(aborted))
    elif running:
        text += said("processes_kept", count=len(running))
    session.add(_line(case_id, HistoryKind.case_closed, text, principal, aborted=aborted,
                      kept=running if not aborted else [], reminders_cancelled=reminders))
    case.updated_at = utcnow()
    session.add(case)
    await session.commit()
    return await _public(session, case, principal)


@router.post("/{case_id}/reopen", response_model=CasePublic)
async def reopen_case(case_id: int, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                      principal: StaffDep) -> CasePublic:
    """Open the case again. The reminders its closing cancelled are set again: those of its open tasks not due
    yet (one whose time passed meanwhile goes out now, unless it was sent before the case closed)."""
    case = await get_case_or_404(session, case_id, principal)
    closure = await session.get(CaseClosure, case_id)
    if closure is None:
        raise CaseStateConflict(f"case {case_id} is open")
    await end_reads(session)
    try:
        reminders = await set_record_reminders(session, temporal, settings, case_id)
    except ServiceUnavailable as exc:
        raise ServiceUnavailable(f"case {case_id} is still closed: {exc.message}; reopen it again") from None
    await session.delete(closure)
    session.add(_line(case_id, HistoryKind.case_reopened, history_text(settings.locale, "case_reopened"),
                      principal, reminders_set=reminders))
    case.updated_at = utcnow()
    session.add(case)
    await session.commit()
    return await _public(session, case, principal)


class CaseRemoval(BaseModel):
    case_id: int
    deleted: bool = Field(description="false for a dry run")
    rows: dict[str, int] = Field(description="rows removed (or that would be), by table")
    processes_aborted: list[str] = Field(default_factory=list)
    running_processes: list[str] = Field(default_factory=list, description="a dry run: those it would abort")


@router.delete("/{case_id}", response_model=CaseRemoval)
async def delete_case(
    case_id: int, session: SessionDep, temporal: TemporalDep, settings: SettingsDep, principal: StaffDep,
    confirm: Annotated[Flag, Query(description="must be true: the case and all of it go for good")] = False,
    dry_run: Annotated[Flag, Query(description="only say what would go")] = False,
) -> CaseRemoval:
    """Delete the case for good: its running processes are aborted first, then the case and everything
    hanging from it (tasks, timeline, email, process runs, participants and tags links, access list,
    documents) go in one transaction, then the documents' files. `dry_run=true` says what would go;
    otherwise `confirm=true` is required."""
    await get_case_or_404(session, case_id, principal)
    running = await running_processes(session, case_id)
    if dry_run:
        return CaseRemoval(case_id=case_id, deleted=False, rows=await count_hanging(session, case_id),
                           running_processes=running)
    if not confirm:
        raise ConfirmationRequired(f"deleting case {case_id} removes it and everything of it for good: "
                                   "send confirm=true (or dry_run=true to see what would go)")
    await end_reads(session)
    aborted = await abort_processes(temporal, running, "case deleted", principal.actor,
                                    within=settings.process_answer_seconds, wait=True)
    await cancel_record_reminders(session, temporal, case_id)
    session.expire_all()
    files = await record_keys(session, case_id)
    rows = await remove_case(session, case_id)
    await session.commit()
    await delete_files(storage_for(settings), files)  # after the rows: never a row of no file
    return CaseRemoval(case_id=case_id, deleted=True, rows=rows, processes_aborted=aborted)
