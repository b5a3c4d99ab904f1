"""The process list from Stagecoach's own database: every process run, of any age, newest first.

Temporal's visibility forgets a closed workflow after the namespace's retention; the `process_run` rows
do not: a finished process keeps its end there (`crm/process_runs.py`). What only a live process has (the
phase it is in, an open incident) the API adds from Temporal for the page's running processes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.access import Viewer, record_visible, sees_everything
from crm.models import Record, Task, TaskKind, TaskStatus
from crm.process_runs import ProcessRun, RunStatus
from crm.types import utcnow


@dataclass(frozen=True)
class RunFilter:
    template: str | None = None
    record_id: int | None = None
    owner_id: int | None = None
    status: RunStatus | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    overdue: bool | None = None  # waiting on a person past its deadline: an open phase task past due


def overdue_runs() -> sa.Select[tuple[str]]:
    """The workflow ids of the processes whose phase waits on someone past its deadline (an open phase task)."""
    return select(Task.workflow_id).where(Task.kind == TaskKind.phase, Task.status == TaskStatus.open,
                                          col(Task.due_at) < utcnow())


def _selected(viewer: Viewer, where: RunFilter, *columns: Any) -> Any:
    """The runs `where` selects that `viewer` may see (`columns` of them, or the rows)."""
    query = select(*columns) if columns else select(ProcessRun)
    query = query.where(col(ProcessRun.status) != RunStatus.not_started)
    if where.template is not None:
        query = query.where(ProcessRun.template_key == where.template)
    if where.record_id is not None:
        query = query.where(ProcessRun.record_id == where.record_id)
    if where.owner_id is not None:
        query = query.where(ProcessRun.owner_id == where.owner_id)
    if where.status is not None:
        query = query.where(ProcessRun.status == where.status)
    if where.started_after is not None:
        query = query.where(col(ProcessRun.created_at) >= where.started_after)
    if where.started_before is not None:
        query = query.where(col(ProcessRun.created_at) < where.started_before)
    if where.overdue is not None:
        overdue = col(ProcessRun.workflow_id).in_(overdue_runs())
        query = query.where(overdue if where.overdue else sa.not_(overdue))
    if not sees_everything(viewer):
        visible = select(Record.id).where(Record.id == ProcessRun.record_id, record_visible(viewer)).exists()
        query = query.where(visible)
    return query


async def list_runs(session: AsyncSession, viewer: Viewer, where: RunFilter, *, before_id: int | None,
                    limit: int) -> list[ProcessRun]:
    """The runs `where` selects that `viewer` may see, newest first, from below `before_id` (a page's last)."""
    query = _selected(viewer, where)
    if before_id is not None:
        query = query.where(col(ProcessRun.id) < before_id)
    rows = await session.exec(query.order_by(sa.desc(col(ProcessRun.id))).limit(limit))
    return list(rows.all())


COUNT_CAP = 500  # the process list counts each status up to this: "500+" past it, never a count of every run
# the order of the indexes `(status, ended_at, id)`, `(owner_id | template_key, status, ended_at, id)`: a capped
# count walks one of them (a count in no order may be planned as a scan of the table that stops at the cap, or not)
NEWEST_ENDED = (sa.desc(col(ProcessRun.ended_at)), sa.desc(col(ProcessRun.id)))


async def count_runs(session: AsyncSession, viewer: Viewer, where: RunFilter,
                     cap: int = COUNT_CAP) -> dict[RunStatus, int]:
    """How many runs `where` selects that `viewer` may see, by status (`where.status` aside), each counted up to
    `cap` + 1: a count past `cap` means "more than `cap`". Each status's count reads at most that many entries of
    an index, however many runs there are (one statement). The overdue are counted whole: as many as the open
    phase tasks past due, read once (an index of those tasks)."""
    if where.overdue:
        query = _selected(viewer, replace(where, status=None), ProcessRun.status, sa.func.count())
        rows = await session.exec(query.group_by(col(ProcessRun.status)))
        return {status: n for status, n in rows.all() if status not in (RunStatus.starting, RunStatus.not_started)}
    counted = [
        select(sa.literal(status.value).label("status"),
               select(sa.func.count()).select_from(
                   _selected(viewer, replace(where, status=status), ProcessRun.id).order_by(*NEWEST_ENDED)
                   .limit(cap + 1).subquery())
               .scalar_subquery().label("n"))
        for status in RunStatus if status not in (RunStatus.starting, RunStatus.not_started)]
    rows = await session.exec(sa.union_all(*counted))  # type: ignore[call-overload]
    return {RunStatus(status): n for status, n in rows.all() if n}
