"""The process list from Stagecoach's own database: every process run, of any age, newest first.

Temporal's visibility forgets a closed workflow after the namespace's retention; the `process_run` rows
do not: a finished process keeps its end there (`crm/process_runs.py`). What only a live process has (the
phase it is in, an open incident) the API adds from Temporal for the page's running processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.access import Viewer, record_visible, sees_everything
from crm.models import Record
from crm.process_runs import ProcessRun, RunStatus


@dataclass(frozen=True)
class RunFilter:
    template: str | None = None
    record_id: int | None = None
    owner_id: int | None = None
    status: RunStatus | None = None


async def list_runs(session: AsyncSession, viewer: Viewer, where: RunFilter, *, before_id: int | None,
                    limit: int) -> list[ProcessRun]:
    """The runs `where` selects that `viewer` may see, newest first, from below `before_id` (a page's last)."""
    query = select(ProcessRun).where(col(ProcessRun.status) != RunStatus.not_started)
    if where.template is not None:
        query = query.where(ProcessRun.template_key == where.template)
    if where.record_id is not None:
        query = query.where(ProcessRun.record_id == where.record_id)
    if where.owner_id is not None:
        query = query.where(ProcessRun.owner_id == where.owner_id)
    if where.status is not None:
        query = query.where(ProcessRun.status == where.status)
    if before_id is not None:
        query = query.where(col(ProcessRun.id) < before_id)
    if not sees_everything(viewer):
        visible = select(Record.id).where(Record.id == ProcessRun.record_id, record_visible(viewer)).exists()
        query = query.where(visible)
    rows = await session.exec(query.order_by(sa.desc(col(ProcessRun.id))).limit(limit))
    return list(rows.all())
