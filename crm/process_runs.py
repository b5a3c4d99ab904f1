"""The registry of process instances: allocating `process-{template}-{record}-{n}` ids, once per request id."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.models import ProcessOrigin, ProcessRun


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
