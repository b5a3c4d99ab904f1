"""The process list from Stagecoach's own database: every process run, of any age, newest first.

Temporal's visibility forgets a closed workflow after the namespace's retention; the `process_run` rows
do not: a finished process keeps its end there (`crm/process_runs.py`). What only a live process has (the
phase it is in, an open incident) the API adds from Temporal for the page's running processes.
"""

from __future__ import annotations

from dataclasses import dataclass
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


async def count_runs(session: AsyncSession, viewer: Viewer, where: RunFilter) -> dict[RunStatus, int]:
    """How many runs `where` selects that `viewer` may see, by status."""
    query = _selected(viewer, where, ProcessRun.status, sa.func.count()).group_by(col(ProcessRun.status))
    return {status: count for status, count in (await session.exec(query)).all()}
