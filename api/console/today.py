"""Today: the signed-in user's open tasks and the phases waiting on them (overdue first, due today, later),
and the incidents of the processes they own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api.console.decisions_read import said_reads, task_reads
from api.console.i18n import translator
from api.console.process_pages import record_titles
from api.console.web import SignedInDep, principal, render
from api.console.refusals import said_in
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.paging import Page
from api.routers.processes import list_processes
from api.routers.tasks import list_tasks
from crm.models import TaskKind, TaskPublic, TaskStatus
from processes.errors import StagecoachError
from processes.instance import ProcessStatus
from settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)
LIMIT = 200


def _groups(tasks: list[TaskPublic], settings: Settings) -> dict[str, list[TaskPublic]]:
    today = datetime.now(settings.zone).date()
    groups: dict[str, list[TaskPublic]] = {"overdue": [], "today": [], "later": []}
    for task in tasks:
        if task.overdue:
            groups["overdue"].append(task)
        elif task.due_at is not None and task.due_at.astimezone(settings.zone).date() == today:
            groups["today"].append(task)
        else:
            groups["later"].append(task)
    return groups


async def render_today(request: Request, session: SessionDep, temporal: TemporalDep, settings: Settings,
                       signed: Any, status: int = 200, error: str = "", error_task: int | None = None,
                       done: str = "", answers: str = "") -> HTMLResponse:
    who = principal(signed)
    tasks = await list_tasks(session, who, Page(LIMIT, 0, request, Response()), assignee_id=who.user_id,
                             status=TaskStatus.open)
    incidents: list[Any] = []
    incident_error = ""
    try:
        incidents = (await list_processes(session, temporal, settings, who, owner_id=who.user_id,
                                          status=ProcessStatus.incident, limit=50)).items
    except StagecoachError as exc:
        incident_error = said_in(exc, settings.locale)
    if error_task not in {t.id for t in tasks}:  # closed meanwhile (in another tab): the message above the lists
        error_task = None
    phases = [t for t in tasks if t.kind is TaskKind.phase]
    others = [t for t in tasks if t.kind is not TaskKind.phase]  # made by an action or by staff
    titles = await record_titles(session, {t.record_id for t in tasks if t.record_id} |
                                 {i.record_id for i in incidents if i.record_id})
    _ = translator(settings.locale)
    reads = {task_id: said_reads(read, _) for task_id, read in (await task_reads(session, phases)).items()}
    return render(request, settings, "today.html", status=status, phases=_groups(phases, settings), reads=reads,
                  tasks=_groups(others, settings), incidents=incidents, incident_error=incident_error,
                  titles=titles, error=error, error_task=error_task, answers=answers, done=done, more=len(tasks) >= LIMIT)


@router.get("", response_class=HTMLResponse)
async def today_page(request: Request, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                     signed: SignedInDep, done: str = "") -> HTMLResponse:
    return await render_today(request, session, temporal, settings, signed, done=done[:20])
