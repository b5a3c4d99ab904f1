"""What closing or deleting a case does to what runs on it: its running processes, its pending reminders."""

from __future__ import annotations

import asyncio
import contextlib

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.temporal_errors import send_update
from crm.process_runs import ProcessRun, RunStatus
from processes.errors import ProcessFinished, ProcessNotFound
from processes.instance import AbortRequest
from workflows.process import ProcessWorkflow


async def running_processes(session: AsyncSession, record_id: int) -> list[str]:
    """The workflow ids of the record's processes not known to have ended."""
    query = select(ProcessRun.workflow_id).where(ProcessRun.record_id == record_id,
                                                 col(ProcessRun.status).in_((RunStatus.starting, RunStatus.running)))
    return list((await session.exec(query.order_by(col(ProcessRun.id)))).all())


ENDING_SECONDS = 30.0


async def abort_processes(temporal: Client, workflow_ids: list[str], reason: str, actor: str, *, within: float,
                          wait: bool = False) -> list[str]:
    """Abort each process (the same staff request as POST /processes/{id}/abort); those aborted now.

    One that has ended meanwhile, or never started, is passed over; Temporal unreachable is a 503
    before anything else is done. With `wait`, each is given time to end (its end written to its run
    row) before this returns: what is deleted next is not written to again."""
    aborted = []
    for workflow_id in workflow_ids:
        handle = temporal.get_workflow_handle_for(ProcessWorkflow.run, workflow_id)
        try:
            await send_update(handle, ProcessWorkflow.abort, AbortRequest(reason=reason[:500], actor=actor),
                              within=within, update_id=f"case-abort-{workflow_id}")
            aborted.append(workflow_id)
        except (ProcessFinished, ProcessNotFound):
            continue
        if wait:
            with contextlib.suppress(Exception):  # it ends as Canceled: an error, which is its end
                await asyncio.wait_for(handle.result(), ENDING_SECONDS)
    return aborted
