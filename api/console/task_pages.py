"""My tasks in the console: every open task of the signed-in user across records, overdue first; making one by
hand on a record (category, due time, a reminder before it) and closing one.

Through the API's own functions (api/routers/tasks.py) as the signed-in user: a task of a record they may not
see is not listed, and a record they may not see takes no task. Closing goes through the Today page's form
(api/console/actions.py), sent back here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.console.case_pages import render_case
from api.console.form_once import apply_once
from api.console.decisions_read import said_reads, task_reads
from api.console.i18n import translator
from api.console.process_pages import record_titles, users_by_id
from api.console.refusals import field_error, said_in
from api.console.web import SignedInDep, form, principal, redirect, render, text, with_param
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.fields import digits
from api.paging import Page
from api.routers.tasks import create_task, list_tasks
from crm.models import TaskStatus
from crm.task_forms import TaskCreate
from processes.errors import StagecoachError
from settings import Settings

router = APIRouter(prefix="/console/tasks", include_in_schema=False)
LIMIT = 200
_CASE = re.compile(r"/console/cases/(\d{1,15})")


async def render_tasks(request: Request, session: SessionDep, settings: Settings, signed: Any, status: int = 200,
                       error: str = "", values: dict[str, str] | None = None, list_error: str = "") -> HTMLResponse:
    """The user's open tasks and the new-task form; `error` is the form's, `list_error` a task's of the list (closed
    meanwhile in another tab)."""
    who = principal(signed)
    tasks = await list_tasks(session, who, Page(LIMIT, 0, request, Response()), assignee_id=who.user_id,
                             status=TaskStatus.open)
    tasks.sort(key=lambda t: not t.overdue)  # overdue first, each group in the API's order (by due time)
    _ = translator(settings.locale)
    reads = {task_id: said_reads(read, _) for task_id, read in (await task_reads(session, tasks)).items()}
    return render(request, settings, "tasks.html", status=status, tasks=tasks, error=error, values=values or {},
                  reads=reads,
                  list_error=list_error,
                  titles=await record_titles(session, {t.record_id for t in tasks if t.record_id}),
                  categories=settings.task_categories, users=await users_by_id(session), more=len(tasks) >= LIMIT,
                  done=request.query_params.get("done", "")[:20])


@router.get("", response_class=HTMLResponse)
async def tasks_page(request: Request, session: SessionDep, settings: SettingsDep,
                     signed: SignedInDep) -> HTMLResponse:
    return await render_tasks(request, session, settings, signed)


def due_time(value: str, settings: Settings) -> datetime | None:
    """A form's `datetime-local` (2026-12-03T15:00), in the office's time zone; one that names its own offset (sent by
    something else than the form) at that offset, not taken as the office's time."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=settings.zone)
    except ValueError:
        _ = translator(settings.locale)
        raise ValueError(_("due: write the date and time as 2026-12-03T15:00")) from None


def _labels(settings: Settings) -> dict[str, str]:
    """The task form's fields as it labels them."""
    _ = translator(settings.locale)
    return {"record_id": _("Record number"), "title": _("Title"), "category": _("Category"), "due_at": _("Due"),
            "remind_minutes_before": _("Reminder, minutes before"), "description": _("Description")}


def task_body(data: Any, settings: Settings) -> TaskCreate:
    record, remind = text(data, "record_id"), text(data, "remind_minutes_before")
    _ = translator(settings.locale)
    if not digits(record) or len(record) > 15:
        raise ValueError(_("record: write the number of the record the task is about"))
    if remind and (not digits(remind) or len(remind) > 9):
        raise ValueError(_("reminder: write a number of minutes"))
    return TaskCreate.model_validate({
        "record_id": int(record), "title": text(data, "title"), "category": text(data, "category"),
        "due_at": due_time(text(data, "due_at"), settings), "remind_minutes_before": int(remind) if remind else None,
        "description": text(data, "description")})


@router.post("")
async def create(request: Request, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                 signed: SignedInDep) -> Response:
    """A task by hand, the signed-in user's; sent back to `back` (a case's page) or to this page."""
    data = await form(request, signed)
    back = text(data, "back")
    back = back if back.startswith("/console/") and not back.startswith("//") else "/console/tasks"
    try:
        body = task_body(data, settings)
        who = principal(signed)
        await apply_once(session, data, who, "create_task", "tasks", body,  # a form sent twice makes one task
                         lambda: create_task(body, session, temporal, settings, who))
    except (ValueError, StagecoachError) as exc:
        await session.rollback()  # the page below is drawn from what is committed, not from what was refused
        message = (field_error(exc, translator(settings.locale), _labels(settings))
                   if isinstance(exc, ValidationError) else said_in(exc, settings.locale))
        status = exc.status if isinstance(exc, StagecoachError) else 422
        values = {name: text(data, name) for name in ("record_id", "title", "category", "due_at",
                                                      "remind_minutes_before", "description")}
        if case := _CASE.fullmatch(back):  # the case page shows the form it came from
            return await render_case(request, session, settings, signed, int(case[1]), status, task_error=message,
                                     task_values=values)
        return await render_tasks(request, session, settings, signed, status, message, values)
    return redirect(with_param(back, "done", "task_added"))  # the tasks page or a case's
