"""Records: search, a record's page (status and open substates, where it may move, fields, history, processes,
tasks), and starting a process on it (moving it: board_pages).

Read and started through the API's own functions as the signed-in user: a restricted record they may not
see is "not found" here too.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlmodel import col, select

from api.console.i18n import translator
from api.console.record_values import record_types, shown, written
from api.console.process_pages import users_by_id
from api.console.web import SignedInDep, form, language_in, offset, principal, redirect, render, text
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.paging import Page
from api.routers.moves import allowed_moves
from api.routers.processes import StartProcessBody, start_with
from api.routers.records import get_record_or_404, list_records
from crm import template_store
from api.console.request_view import record_requests, unlinked_of
from api.console.refusals import not_found_page, said_in
from crm.client_requests import store as requests_store
from crm.documents import store as documents_store
from crm.access import record_visible
from crm.models import HistoryEntry, Record, Task
from crm.process_list import RunFilter, list_runs
from processes.errors import StagecoachError
from processes.languages import SHIPPED
from processes.template_basics import RecordKind

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE_SIZE = 50


@router.get("/records", response_class=HTMLResponse)
async def records_page(request: Request, session: SessionDep, settings: SettingsDep,
                       signed: SignedInDep) -> HTMLResponse:
    q = request.query_params.get("q", "").strip()[:200]
    kind_text = request.query_params.get("kind", "")
    skip = offset(request)
    kind = next((k for k in RecordKind if k.value == kind_text), None)
    records = await list_records(session, principal(signed), Page(PAGE_SIZE, skip, request, Response()),
                                 kind=kind, q=q or None)
    return render(request, settings, "records.html", records=records, q=q, kind=kind_text, kinds=list(RecordKind),
                  offset=skip, more=len(records) >= PAGE_SIZE, page_size=PAGE_SIZE,
                  users=await users_by_id(session))


async def render_record(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep,
                        record_id: int, status: int = 200, error: str = "", move_error: str = "",
                        document_error: str = "", pending_choice: bool = False, request_error: str = "",
                        request_error_at: str = "", posted: Mapping[str, str] | None = None,
                        edit_error: str = "") -> HTMLResponse:
    """The record's page; a refused form's message shown next to it (`request_error_at`: `send`, `link` or the
    number of the request whose cancel or resend was refused), with what was `posted` in it."""
    who = principal(signed)
    try:
        record = await get_record_or_404(session, record_id, who)
    except StagecoachError as exc:
        return not_found_page(request, settings, str(record_id), exc)
    history = (await session.exec(select(HistoryEntry).where(HistoryEntry.record_id == record_id)
                                  .order_by(col(HistoryEntry.id).desc()).limit(200))).all()
    runs = await list_runs(session, who, RunFilter(record_id=record_id), before_id=None, limit=100)
    tasks = (await session.exec(select(Task).where(Task.record_id == record_id).order_by(col(Task.id).desc())
                                .limit(100))).all()
    templates = [row for row, _ in await template_store.latest_versions(session, record.kind)]
    contact = await session.get(Record, record.contact_id) if record.contact_id else None
    # the records this one is the contact of (a client's jobs, quotes, cases), those the user may see
    linked = (await session.exec(select(Record).where(Record.contact_id == record_id, record_visible(who))
                                 .order_by(col(Record.id).desc()).limit(100))).all()
    documents = [await documents_store.public(session, d) for d in await documents_store.listing(session, record_id)]
    return render(request, settings, "record.html", status=status, record=record, history=history, runs=runs,
                  tasks=tasks, templates=templates, contact=contact, linked=linked, error=error,
                  users=await users_by_id(session),
                  moves=await allowed_moves(record_id, session, who), move_error=move_error,
                  documents=documents, document_error=document_error, pending_choice=pending_choice,
                  client_requests=await record_requests(session, record_id),
                  request_templates=[row for row, _ in await requests_store.newest_versions(session, limit=200)],
                  request_languages=[(code, language_in(code, code).capitalize()) for code in SHIPPED],
                  unlinked=await unlinked_of(session, request, who, record), request_error=request_error,
                  request_error_at=request_error_at, posted=posted or {}, edit_error=edit_error,
                  fields_written=written(record.fields or {}, translator(settings.locale), settings.locale),
                  drawn=shown(record),
                  types=await record_types(session))


@router.get("/records/{record_id}", response_class=HTMLResponse)
async def record_page(record_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                      signed: SignedInDep) -> HTMLResponse:
    return await render_record(request, session, settings, signed, record_id)


@router.post("/records/{record_id}/start")
async def start_on_record(record_id: int, request: Request, session: SessionDep, temporal: TemporalDep,
                          settings: SettingsDep, signed: SignedInDep) -> Response:
    """Start a process (the form's key is the start's request_id: sent twice, it starts one)."""
    data = await form(request, signed)
    _ = translator(settings.locale)
    template = text(data, "template")
    if not template:
        return await render_record(request, session, settings, signed, record_id, 422, _("choose a template"))
    try:
        body = StartProcessBody(template=template, record_id=record_id,
                                request_id=text(data, "idempotency_key")[:200] or None)
        started = await start_with(body, Response(), session, temporal, settings, principal(signed),
                                   mark_running=True)
    except StagecoachError as exc:
        await session.rollback()  # the page is drawn from what is committed, not what was refused
        return await render_record(request, session, settings, signed, record_id, exc.status,
                                   said_in(exc, settings.locale))
    except ValueError as exc:  # pydantic's ValidationError: a template key that cannot be one
        return await render_record(request, session, settings, signed, record_id, 422, str(exc).splitlines()[0])
    return redirect(f"/console/processes/{started.workflow_id}?done=start")
