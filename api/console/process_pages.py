"""The Processes pages: the list (filters, counts, paging) and one process (timeline, actions, incident, forms).

Both read through the API's own functions (`api/routers/processes.py`), as the signed-in user: what the
API would refuse or hide from them, the pages refuse and hide too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from sqlmodel import col, select
from temporalio.service import RPCError

from api.console.decisions_read import phase_reads, said_reads
from api.console.i18n import translator
from api.console.process_names import template_names
from api.console.refusals import refusal
from api.console.web import SignedInDep, principal, render
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.fields import KEY_PATTERN, digits
from api.routers.processes import ProcessView, get_process, list_processes
from crm import template_store
from crm.models import HistoryEntry, HistoryKind, OutboxMessage, Record, Task, TaskKind, TaskStatus, User
from crm.access import hidden_process_records
from crm.process_list import COUNT_CAP, RunFilter, count_runs
from processes.errors import StagecoachError
from processes.instance import PhaseStatus, ProcessStatus
from settings import Settings
from workflows import search_attributes as sa

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE_SIZE = 25
FILTERS = ("template", "record", "owner", "status", "phase", "overdue", "incident", "started_from", "started_to")


async def users_by_id(session: SessionDep) -> dict[int, User]:
    return {u.id: u for u in (await session.exec(select(User).order_by(col(User.name)).limit(2000))).all()
            if u.id is not None}


async def record_titles(session: SessionDep, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.exec(select(Record.id, Record.title).where(col(Record.id).in_(ids)))
    return {record_id: title for record_id, title in rows.all()}


def _day(value: str, settings: Settings, end: bool) -> datetime:
    day = datetime.strptime(value, "%Y-%m-%d").date() + (timedelta(days=1) if end else timedelta())
    return datetime.combine(day, time(), tzinfo=settings.zone)


def _filters(query: dict[str, str], settings: Settings) -> tuple[dict[str, Any], dict[str, str]]:
    """The list's filters from the page's query, and what is wrong with each (by field)."""
    _ = translator(settings.locale)
    args: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if value := query.get("template", "")[:100]:
        args["template"] = value
        if not re.match(KEY_PATTERN, value):
            errors["template"] = _("not a template key")
    for name, arg in (("record", "record_id"), ("owner", "owner_id")):
        if value := query.get(name, "")[:20]:
            if digits(value) and int(value) < 2**31:
                args[arg] = int(value)
            else:
                errors[name] = _("no such number: too large") if digits(value) else _("not a number")
    if value := query.get("status", ""):
        try:
            args["status"] = ProcessStatus(value)
        except ValueError:
            errors["status"] = _("not a status")
    if query.get("incident"):
        args["status"] = ProcessStatus.incident
    if value := query.get("phase", "")[:100]:
        args["phase"] = value
        if not re.match(KEY_PATTERN, value):
            errors["phase"] = _("not a phase key")
    if query.get("overdue"):
        args["overdue"] = True
    for name, arg, end in (("started_from", "started_after", False), ("started_to", "started_before", True)):
        if value := query.get(name, "")[:20]:
            try:
                args[arg] = _day(value, settings, end)
            except ValueError:
                errors[name] = _("a date like 2026-12-31")
    return args, errors


@router.get("/processes", response_class=HTMLResponse)
async def processes_page(request: Request, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                         signed: SignedInDep) -> HTMLResponse:
    query = {name: request.query_params.get(name, "").strip() for name in (*FILTERS, "page")}
    args, errors = _filters(query, settings)
    who = principal(signed)
    items: list[Any] = []
    next_token = None
    if not errors:
        try:
            page = await list_processes(session, temporal, settings, who, limit=PAGE_SIZE,
                                        page_token=query["page"][:4000] or None, **args)
            items, next_token = page.items, page.next_page_token
        except RequestValidationError:
            errors["page"] = translator(settings.locale)("this page of the list is out of date: start again")
        except StagecoachError as exc:
            errors["page"] = refusal(exc, translator(settings.locale))
    counts = await _counts(session, temporal, who, args)
    workflow_ids = [item.workflow_id for item in items]
    tasks = {t.workflow_id: t for t in (await session.exec(
        select(Task).where(col(Task.workflow_id).in_(workflow_ids), Task.kind == TaskKind.phase,
                           Task.status == TaskStatus.open))).all()}
    filters = {name: value for name, value in query.items() if value and name != "page"}
    return render(request, settings, "processes.html", status=422 if errors else 200, items=items, tasks=tasks,
                  users=await users_by_id(session), titles=await record_titles(session, {i.record_id for i in items
                                                                                        if i.record_id}),
                  templates=[(t.key, t.name) for t in await template_store.summaries(session, limit=500)],
                  names=await template_names(session, settings.locale),
                  statuses=list(ProcessStatus), query=query, filters=filters, errors=errors, counts=counts,
                  next_token=next_token, now=datetime.now(settings.zone))


async def _counts(session: SessionDep, temporal: TemporalDep, who: Any, args: dict[str, Any]) -> dict[str, int | str]:
    """How many processes of the list's filters (the status filter aside) there are, by status, up to
    `COUNT_CAP` ("1000+" past it); incidents are counted by Temporal (only a live process has one)."""
    where = RunFilter(template=args.get("template"), record_id=args.get("record_id"), owner_id=args.get("owner_id"),
                      started_after=args.get("started_after"), started_before=args.get("started_before"),
                      overdue=args.get("overdue"))
    counts: dict[str, int | str] = {status.value: count if count <= COUNT_CAP else f"{COUNT_CAP}+"
                                    for status, count in (await count_runs(session, who, where)).items()}
    conditions = ["WorkflowType = 'ProcessWorkflow'", "ExecutionStatus = 'Running'",
                  f"{sa.STATUS.name} = 'incident'"]
    for key, name in ((sa.TEMPLATE, "template"), (sa.RECORD, "record_id"), (sa.OWNER, "owner_id")):
        if args.get(name) is not None:
            conditions.append(f"{key.name} = '{args[name]}'")
    if hidden := await hidden_process_records(session, who, args.get("owner_id")):
        conditions.append(f"{sa.RECORD.name} NOT IN ({', '.join(repr(str(i)) for i in hidden)})")
    try:
        counts["incident"] = (await temporal.count_workflows(" AND ".join(conditions))).count
    except RPCError:  # Temporal unreachable: the page still shows the database's counts
        pass
    return counts


@dataclass(frozen=True)
class Skip:
    """Who skipped a phase and why; `by_the_end`: the process's end closed it (an abort), with no skip of its own."""

    by: str
    reason: str
    by_the_end: bool = False


def skips(view: ProcessView, lines: Sequence[HistoryEntry]) -> dict[str, Skip]:
    """Each skipped phase's skip: its history line's actor and its reason, or else the end of the process that
    closed it (who aborted it, and their reason: the phase's own reason is the workflow's "process aborted")."""
    actors = {line.phase_key: line.actor for line in lines if line.kind is HistoryKind.phase_skipped}
    found = {}
    for phase in view.phases:
        if phase.status is not PhaseStatus.skipped:
            continue
        if phase.key in actors or not view.status.finished:
            found[phase.key] = Skip(actors.get(phase.key) or "", phase.skip_reason or "")
        else:
            found[phase.key] = Skip(view.ended_by or "", view.end_reason or "", by_the_end=True)
    return found


async def process_context(session: SessionDep, view: ProcessView) -> dict[str, Any]:
    """What the page of one process shows besides its state: its tasks, its email, who skipped what."""
    tasks = (await session.exec(select(Task).where(Task.workflow_id == view.workflow_id)
                                .order_by(col(Task.id)))).all()
    emails = (await session.exec(select(OutboxMessage).where(OutboxMessage.workflow_id == view.workflow_id)
                                 .order_by(col(OutboxMessage.id)).limit(200))).all()
    lines = (await session.exec(select(HistoryEntry).where(HistoryEntry.workflow_id == view.workflow_id)
                                .order_by(col(HistoryEntry.id)).limit(500))).all()
    return {"tasks": tasks, "emails": emails, "skips": skips(view, lines), "users": await users_by_id(session),
            "titles": await record_titles(session, {view.record_id})}


async def render_process(request: Request, session: SessionDep, temporal: TemporalDep, settings: Settings,
                         signed: Any, workflow_id: str, status: int = 200, error: str = "", error_for: str = "",
                         done: str = "", posted: Mapping[str, str] | None = None) -> HTMLResponse:
    """The process's page; a refused form (`error_for`: its action) shown again with what was `posted` in it. A
    request the process did not answer (503: no worker took it) is not followed by a read, which would wait as long."""
    if status == 503:
        return render(request, settings, "not_found.html", status=status, what=workflow_id[:255], message=error)
    try:
        view = await get_process(workflow_id, session, temporal, settings, principal(signed))
    except StagecoachError as exc:
        said = refusal(exc, translator(settings.locale))
        return render(request, settings, "not_found.html", status=exc.status, what=workflow_id[:255],
                      message=f"{error} {said}".strip() if error else said)
    later = [p for p in view.phases if not p.status.finished]
    forms = forms_drawn(view, later)
    read = await phase_reads(session, workflow_id, view.current_phase) if "complete" in forms else {}
    return render(request, settings, "process.html", status=status, view=view, later=later, error=error,
                  error_for=error_for, forms=forms, posted=posted or {}, done=done,
                  finished=view.status.finished, reads=said_reads(read, translator(settings.locale)),
                  **await process_context(session, view))


def forms_drawn(view: ProcessView, later: Sequence[Any]) -> set[str]:
    """The actions whose form the page draws: a refusal is shown next to its form, or at the top of the page when
    the form is gone (a stale tab: the process ended, the phase closed, the incident resolved meanwhile)."""
    drawn = {"incident"} if view.incident else set()
    if view.status.finished:
        return drawn
    drawn |= {"owner", "abort"} | ({"skip"} if later else set())
    current = view.phase(view.current_phase) if view.current_phase else None
    if current and current.manual and current.status is PhaseStatus.running:
        drawn.add("complete")
    return drawn


@router.get("/processes/{workflow_id}", response_class=HTMLResponse)
async def process_page(workflow_id: str, request: Request, session: SessionDep, temporal: TemporalDep,
                       settings: SettingsDep, signed: SignedInDep, done: str = "") -> HTMLResponse:
    if len(workflow_id) > 255:
        return render(request, settings, "not_found.html", status=404, what=workflow_id[:60])
    return await render_process(request, session, temporal, settings, signed, workflow_id, done=done[:20])
