"""Processes: start one on a record, list them (the database, with Temporal for live detail), read one, and
staff requests."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Principal
from api.deps import ClientDep, SessionDep, SettingsDep, StaffDep, TemporalDep
from api.fields import KEY_PATTERN, Flag, Key, WorkflowIdPath
from api.idempotency import IdempotencyKeyHeader, claim
from api.references import named_in_body
from api.routers.records import get_record_or_404
from api.routers.users import get_user_or_404
from api.start_allocation import StartProcessBody, allocate
from api.temporal_errors import query_state, send_update, temporal_errors
from crm import template_store
from crm.process_list import RunFilter, list_runs, overdue_runs
from crm.process_runs import UNCONFIRMED, NewRun, ProcessRun, RunStatus, mark_started
from crm.access import hidden_process_records
from crm.db import end_reads
from crm.models import ApiRole, Task
from processes.sent_values import WrittenDatetime
from processes.errors import ProcessNotFound, RecordNotFound, ServiceUnavailable
from processes.instance import ProcessInput, ProcessState, ProcessStatus
from settings import Settings
from workflows import search_attributes as sa
from workflows.client import StartNotConfirmed, start_once
from workflows.process import ProcessWorkflow
from workflows.staff_requests import STAFF_REQUESTS, StaffRequestKind

router = APIRouter(prefix="/processes", tags=["processes"])
log = logging.getLogger("stagecoach.api")

DB_TOKEN = b"db:"  # a next_page_token of the list from the database: the page's last run id follows

class ProcessStarted(BaseModel):
    workflow_id: str
    template: str
    version: int
    record_id: int
    owner_id: int
    temporal_ui_url: str


class ProcessSummary(BaseModel):
    workflow_id: str
    template: str | None
    record_id: int | None
    owner_id: int | None
    status: str
    current_phase: str | None
    started_at: datetime
    closed_at: datetime | None
    ended_by: str | None = Field(None, description="who ended it: a user's key, `loop guard`, `temporal`")
    end_reason: str | None = Field(None, description="why it ended (an abort's reason, the loop guard's count...)")
    temporal_ui_url: str


class ProcessPage(BaseModel):
    items: list[ProcessSummary]
    next_page_token: str | None


class ProcessView(ProcessState):
    temporal_ui_url: str


@router.post("", status_code=201, response_model=ProcessStarted, responses={
    200: {"model": ProcessStarted, "description": "a start with a request_id already used: the process it started"}})
async def start(body: StartProcessBody, request: Request, response: Response, principal: ClientDep) -> ProcessStarted:
    """Start a process of a template version on a record."""
    # The app's state read here and the session opened here, not as dependencies: FastAPI's solving of each costs
    # CPU on the API's busiest route (a generator dependency most: its exit stack).
    state = request.app.state
    async with state.sessions() as session:
        return await start_with(body, response, session, state.temporal, state.settings, principal)


async def start_with(body: StartProcessBody, response: Response, session: AsyncSession, temporal: Client,
                     settings: Settings, principal: Principal, *, mark_running: bool = False) -> ProcessStarted:
    """`start` with what it needs given (the console's start form calls it with its own). The run is `running` once
    the process's first step marks it, milliseconds after the answer while a worker polls the task queue (until then
    `starting`, as a run started by a move or autostart is); with `mark_running` the start marks it itself before it
    answers: the console's form, whose person goes on to the process's page."""
    run, created, template, version = await allocate(body, session, principal)
    if not created and run.status not in UNCONFIRMED:
        response.status_code = 200
        return _started(run, settings)
    # A new run, or one whose start was never confirmed (the API stopped between the commit and the start, or
    # Temporal did not answer): start it as allocated.
    if run.template_version != version:  # a retry, after a new version was saved
        template, _ = await template_store.for_start(session, run.template_key, run.template_version)
        await session.commit()  # no transaction (and connection) left open while Temporal is asked
    input = ProcessInput(template=template, template_version=run.template_version, record_id=run.record_id,
                         owner_id=run.owner_id, started_by=run.started_by,
                         triggered_by_user_id=run.triggered_by_user_id)
    try:
        started = await start_once(temporal, input, workflow_id=run.workflow_id,
                                   task_queue=settings.temporal_task_queue)
    except StartNotConfirmed as exc:
        retry = ("send the same request again with the same request_id: it starts the process once"
                 if body.request_id else "send it again (give a request_id, so that a retry starts it once)")
        raise ServiceUnavailable(f"process {run.workflow_id} is not started ({exc}); {retry}. A start not "
                                 "retried is dropped once Temporal shows it has no such process") from None
    if mark_running:
        try:
            await mark_started(session, run.workflow_id)
            await session.commit()
        except SQLAlchemyError:  # the database went away after Temporal took the start: its first step marks it
            await session.rollback()
            log.warning("process %s started; its run not marked running yet", run.workflow_id, exc_info=True)
    response.status_code = 201 if started else 200
    return _started(run, settings)


def _started(run: ProcessRun | NewRun, settings: Settings) -> ProcessStarted:
    return ProcessStarted(workflow_id=run.workflow_id, template=run.template_key, version=run.template_version,
                          record_id=run.record_id, owner_id=run.owner_id,
                          temporal_ui_url=settings.temporal_run_url(run.workflow_id))


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _summary(execution: WorkflowExecution, settings: Settings) -> ProcessSummary:
    attrs = execution.typed_search_attributes
    record, owner = attrs.get(sa.RECORD), attrs.get(sa.OWNER)
    status = attrs.get(sa.STATUS) or ProcessStatus.running.value
    if execution.status not in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED,
                                WorkflowExecutionStatus.CANCELED):
        status = execution.status.name.lower() if execution.status else "unknown"  # terminated, failed, timed out
    return ProcessSummary(
        workflow_id=execution.id, template=attrs.get(sa.TEMPLATE), record_id=int(record) if record else None,
        owner_id=int(owner) if owner else None, status=status,
        current_phase=attrs.get(sa.PHASE) if execution.status == WorkflowExecutionStatus.RUNNING else None,
        started_at=execution.start_time, closed_at=execution.close_time,
        temporal_ui_url=settings.temporal_run_url(execution.id))


def _run_summary(run: ProcessRun, live: WorkflowExecution | None, settings: Settings) -> ProcessSummary:
    """A run from the database; a running one with its phase and status (an incident) from Temporal."""
    status = run.status.value
    phase = None
    if live is not None and live.status == WorkflowExecutionStatus.RUNNING:
        status = live.typed_search_attributes.get(sa.STATUS) or status
        phase = live.typed_search_attributes.get(sa.PHASE)
    return ProcessSummary(workflow_id=run.workflow_id, template=run.template_key, record_id=run.record_id,
                          owner_id=run.owner_id, status=status, current_phase=phase, started_at=run.created_at,
                          closed_at=run.ended_at, ended_by=run.ended_by, end_reason=run.end_reason,
                          temporal_ui_url=settings.temporal_run_url(run.workflow_id))


async def _live(temporal: TemporalDep, workflow_ids: list[str]) -> dict[str, WorkflowExecution]:
    """The running processes' executions in Temporal visibility (none when it cannot be asked: the list then
    shows them from the database alone)."""
    if not workflow_ids:
        return {}
    query = f"WorkflowId IN ({', '.join(_quote(w) for w in workflow_ids)})"
    try:
        return {e.id: e async for e in temporal.list_workflows(query, page_size=len(workflow_ids))}
    except RPCError:
        log.warning("process list without live detail: Temporal visibility did not answer", exc_info=True)
        return {}


@router.get("", response_model=ProcessPage)
async def list_processes(
    session: SessionDep, temporal: TemporalDep, settings: SettingsDep, principal: StaffDep,
    template: Key | None = None, record_id: int | None = None, owner_id: int | None = None,
    status: ProcessStatus | None = None,
    phase: Annotated[str | None, Query(pattern=KEY_PATTERN, max_length=63)] = None,
    started_after: Annotated[WrittenDatetime | None, Query(description="started at or after this time")] = None,
    started_before: Annotated[WrittenDatetime | None, Query(description="started before this time")] = None,
    overdue: Annotated[Flag | None, Query(description="true: only processes whose phase waits on someone past "
                                                      "its deadline; false: none of them")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str | None, Query(max_length=4000)] = None,
) -> ProcessPage:
    """Processes of any age, newest first, from Stagecoach's database (a finished process is kept there after
    Temporal's retention), each running one with its phase and status from Temporal. Filtering by `phase`,
    or by status `running` or `incident`, asks Temporal visibility: only live processes have them (a page of
    theirs filtered by `overdue` may hold fewer items than `limit`, with a next page).

    Processes of restricted records the caller may not see are left out.
    """
    started_after, started_before = _aware(started_after), _aware(started_before)
    bad_token = RequestValidationError([{"loc": ("query", "page_token"), "type": "value_error",
                                         "msg": "not a next_page_token this API gave"}])
    try:
        token = _page_token(page_token) if page_token else None
    except ValueError:  # binascii.Error, not ASCII, or not a token this API gave
        raise bad_token from None
    if phase is None and status not in (ProcessStatus.running, ProcessStatus.incident):
        if token is not None and not token.startswith(DB_TOKEN):
            raise bad_token
        before_id = int(token[len(DB_TOKEN):]) if token else None
        where = RunFilter(template=template, record_id=record_id, owner_id=owner_id,
                          status=RunStatus(status.value) if status else None, started_after=started_after,
                          started_before=started_before, overdue=overdue)
        runs = await list_runs(session, principal, where, before_id=before_id, limit=limit + 1)
        page = runs[:limit]
        live = await _live(temporal, [r.workflow_id for r in page if r.status is RunStatus.running])
        more = len(runs) > limit and page[-1].id is not None
        return ProcessPage(items=[_run_summary(r, live.get(r.workflow_id), settings) for r in page],
                           next_page_token=_page_token_text(DB_TOKEN + str(page[-1].id).encode()) if more else None)
    if token is not None and token.startswith(DB_TOKEN):
        raise bad_token
    conditions = [f"WorkflowType = {_quote('ProcessWorkflow')}", "ExecutionStatus = 'Running'"]
    for key, value in ((sa.TEMPLATE, template), (sa.RECORD, record_id), (sa.OWNER, owner_id),
                       (sa.STATUS, status.value if status else None), (sa.PHASE, phase)):
        if value is not None:
            conditions.append(f"{key.name} = {_quote(str(value))}")
    for operator, moment in ((">=", started_after), ("<", started_before)):
        if moment is not None:
            conditions.append(f"StartTime {operator} {_quote(moment.isoformat())}")
    if hidden := await hidden_process_records(session, principal, owner_id):
        conditions.append(f"{sa.RECORD.name} NOT IN ({', '.join(_quote(str(i)) for i in hidden)})")
    try:
        async with temporal_errors("(list)"):
            executions = temporal.list_workflows(" AND ".join(conditions), page_size=limit, next_page_token=token)
            await executions.fetch_next_page(page_size=limit)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.UNKNOWN) and token:
            raise bad_token from None
        raise
    next_token = executions.next_page_token
    items = executions.current_page
    if overdue is not None and items:
        late = set((await session.exec(overdue_runs().where(col(Task.workflow_id).in_([e.id for e in items])))).all())
        items = [e for e in items if (e.id in late) == overdue]
    return ProcessPage(items=[_summary(e, settings) for e in items],
                       next_page_token=_page_token_text(next_token) if next_token else None)


def _aware(moment: datetime | None) -> datetime | None:
    """A time without a zone is UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _page_token_text(token: bytes) -> str:
    """Temporal's page token with a checksum, so a token we never gave is refused before Temporal sees it."""
    return base64.urlsafe_b64encode(hashlib.sha256(token).digest()[:8] + token).decode()


def _page_token(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text.encode("ascii"))
    if len(raw) <= 8 or hashlib.sha256(raw[8:]).digest()[:8] != raw[:8]:
        raise ValueError("not a page token this API gave")
    return raw[8:]


async def _check_reader(session: SessionDep, workflow_id: str, principal: Principal) -> ProcessRun:
    """Staff reach the processes of every record they see; a client key, the processes it started."""
    run = (await session.exec(select(ProcessRun).where(ProcessRun.workflow_id == workflow_id))).first()
    if run is None or (not principal.has(ApiRole.staff) and run.started_by != principal.actor):
        raise ProcessNotFound.worded("no process {id}", id=workflow_id)
    try:
        await get_record_or_404(session, run.record_id, principal)
    except RecordNotFound:
        raise ProcessNotFound.worded("no process {id}", id=workflow_id) from None
    return run


@router.get("/{workflow_id}", response_model=ProcessView)
async def get_process(workflow_id: WorkflowIdPath, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                      principal: ClientDep) -> ProcessView:
    """One process: each phase with its status, times, responsible user and actions done. A finished process is
    read from its row in Stagecoach's database (at any age, with no worker running); a live one from Temporal."""
    run = await _check_reader(session, workflow_id, principal)
    if run.status.finished and run.state is not None:
        return ProcessView(**run.state, temporal_ui_url=settings.temporal_run_url(workflow_id))
    handle = temporal.get_workflow_handle_for(ProcessWorkflow.run, workflow_id)
    await end_reads(session)
    state = await query_state(handle, ProcessWorkflow.current_state, settings.process_answer_seconds)
    return ProcessView(**state.model_dump(), temporal_ui_url=settings.temporal_run_url(workflow_id))


async def staff_request(kind: StaffRequestKind, workflow_id: str, body: BaseModel, session: SessionDep,
                        temporal: TemporalDep, settings: SettingsDep, principal: Principal,
                        idempotency_key: str | None = None) -> ProcessView:
    """A staff request from the API or the console: the caller's body becomes the request, with the caller as its
    actor; a key is claimed for it first (api/idempotency.py)."""
    if kind.user_field is not None:
        await named_in_body(f"body.{kind.user_field}", get_user_or_404(session, getattr(body, kind.user_field)))
    request = kind.request(**body.model_dump(), actor=principal.actor)
    await _check_reader(session, workflow_id, principal)
    if idempotency_key is not None:
        await claim(session, idempotency_key, principal, kind.name, workflow_id, body)
    handle = temporal.get_workflow_handle_for(ProcessWorkflow.run, workflow_id)
    await end_reads(session)
    state = await send_update(handle, getattr(ProcessWorkflow, kind.name), request,
                              within=settings.process_answer_seconds, update_id=idempotency_key)
    return ProcessView(**state.model_dump(), temporal_ui_url=settings.temporal_run_url(workflow_id))


def _staff_route(kind: StaffRequestKind) -> Callable[..., Awaitable[ProcessView]]:
    """The route of a staff request (`staff_request`)."""
    async def route(workflow_id: WorkflowIdPath, body: BaseModel, session: SessionDep, temporal: TemporalDep,
                    settings: SettingsDep, principal: StaffDep,
                    idempotency_key: IdempotencyKeyHeader = None) -> ProcessView:
        return await staff_request(kind, workflow_id, body, session, temporal, settings, principal, idempotency_key)

    route.__annotations__["body"] = kind.body  # FastAPI reads the body's model from here
    route.__name__ = route.__qualname__ = kind.name
    return route


for _kind in STAFF_REQUESTS:
    router.add_api_route(f"/{{workflow_id}}/{_kind.route}", _staff_route(_kind), methods=["POST"],
                         response_model=ProcessView, name=_kind.name, description=_kind.description)
