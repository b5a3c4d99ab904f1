"""The registry of process instances: allocating `process-{template}-{record}-{n}` ids, once per request id,
and following a run from its allocation to its confirmed start.

A run is allocated (`starting`) and committed before Temporal is asked to start its workflow, so the id is
never started twice and a retry with the same request id finds it. Whoever learns that the workflow
exists marks the run `running` (`mark_started`): the starter once Temporal confirms, the process itself
with its first step, and the sweep (`activities/process_runs.py`) for a start whose answer was lost. A
run whose workflow Temporal still does not have a while later never started (`not_started`); a retry
with its request id starts it after all.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.models import FINISHED_RUNS, ProcessOrigin, ProcessRun, RunStatus
from crm.types import utcnow
from processes.instance import ProcessState

UNCONFIRMED = (RunStatus.starting, RunStatus.not_started)  # a run whose workflow is not known to exist


def process_workflow_id(template_key: str, record_id: int, sequence: int) -> str:
    return f"process-{template_key}-{record_id}-{sequence}"


async def by_request_id(session: AsyncSession, request_id: str) -> ProcessRun | None:
    return (await session.exec(select(ProcessRun).where(ProcessRun.request_id == request_id))).first()


async def allocate_run(session: AsyncSession, *, template_key: str, template_version: int, record_id: int,
                       owner_id: int, started_by: str, request_id: str | None = None,
                       origin: ProcessOrigin = ProcessOrigin.manual, parent_workflow_id: str | None = None,
                       triggered_by_user_id: int | None = None) -> tuple[ProcessRun, bool]:
    """Reserve the next id for this template and record; with a known request id, the run it already has.

    Returns the run and whether it is new. Commits.
    """
    for _ in range(10):
        if request_id is not None and (existing := await by_request_id(session, request_id)) is not None:
            return existing, False
        query = select(func.max(ProcessRun.sequence)).where(ProcessRun.template_key == template_key,
                                                           ProcessRun.record_id == record_id)
        sequence = ((await session.exec(query)).one() or 0) + 1
        run = ProcessRun(workflow_id=process_workflow_id(template_key, record_id, sequence),
                         template_key=template_key, template_version=template_version, record_id=record_id,
                         sequence=sequence, owner_id=owner_id, started_by=started_by, request_id=request_id,
                         origin=origin, parent_workflow_id=parent_workflow_id,
                         triggered_by_user_id=triggered_by_user_id)
        session.add(run)
        try:
            await session.commit()
            return run, True
        except IntegrityError:  # a concurrent allocation took this number, or this request id
            await session.rollback()
    raise RuntimeError(f"could not allocate a process id for template '{template_key}' on record {record_id}")


async def mark_started(session: AsyncSession, workflow_id: str) -> None:
    """The workflow exists: its run is `running`, unless it has ended meanwhile. No commit."""
    await session.exec(update(ProcessRun).where(col(ProcessRun.workflow_id) == workflow_id,  # type: ignore[call-overload]
                                                col(ProcessRun.status).in_(UNCONFIRMED))
                       .values(status=RunStatus.running))


async def mark_not_started(session: AsyncSession, workflow_id: str) -> None:
    """Temporal has no such workflow and its start is over: the run never started. No commit."""
    await session.exec(update(ProcessRun).where(col(ProcessRun.workflow_id) == workflow_id,  # type: ignore[call-overload]
                                                col(ProcessRun.status) == RunStatus.starting)
                       .values(status=RunStatus.not_started))


async def write_end(session: AsyncSession, workflow_id: str, status: RunStatus, *, ended_at: datetime | None,
                    ended_by: str | None, end_reason: str | None, state: ProcessState | None,
                    unless_ended: bool = False) -> None:
    """The run has ended: how, when, by whom, why, and its final state. No commit.

    The process's own account wins: with `unless_ended` (the sweep, reading Temporal), a run whose end the
    process wrote is left as it is."""
    query = update(ProcessRun).where(col(ProcessRun.workflow_id) == workflow_id)
    if unless_ended:
        query = query.where(col(ProcessRun.status).not_in(FINISHED_RUNS))
    await session.exec(query.values(  # type: ignore[call-overload]
        status=status, ended_at=ended_at or utcnow(), ended_by=ended_by, end_reason=end_reason,
        state=state.model_dump(mode="json") if state is not None else None))
