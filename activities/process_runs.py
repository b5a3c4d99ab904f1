"""The sweep of process runs: the rows of Stagecoach's database made to match Temporal.

A process writes its own end to its run (`activities/bookkeeping.py`), and its starter marks the run
`running` once Temporal confirms the start (`crm/process_runs.py`). What neither could do, the sweep
does, each time the record-events dispatcher's timer fires (`workflows/record_events.py`):

- **a start never confirmed** (the API stopped between the commit and the start, or Temporal did not
  answer): once `grace_seconds` have passed, a run whose workflow Temporal has is `running`, and one
  Temporal does not have never started (`not_started`: not listed, not counted by the loop guard; a
  retry of its start with the same request id starts it after all);
- **an end the process could not write**: a run still `running` whose workflow has closed (terminated,
  failed or timed out in Temporal, or completed before processes wrote their end) gets its end from
  Temporal, with its final state (the workflow's result, or its state query), so the process list and
  `GET /processes/{id}` keep it after Temporal's retention. `batch_size` runs are compared per sweep,
  the ones compared longest ago first.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from pydantic import BaseModel, Field
from sqlalchemy import nulls_first
from sqlmodel import col, select, update
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.deps import Deps
from crm.process_runs import ProcessRun, RunStatus, mark_not_started, mark_started, write_end
from crm.types import utcnow
from processes.instance import ProcessState, ProcessStatus

log = logging.getLogger("stagecoach.process_runs")

RPC_TIMEOUT = timedelta(seconds=10)
# a run Temporal closed without the process writing its end, as the run's status
CLOSED = {WorkflowExecutionStatus.TERMINATED: RunStatus.terminated, WorkflowExecutionStatus.FAILED: RunStatus.failed,
          WorkflowExecutionStatus.TIMED_OUT: RunStatus.timed_out, WorkflowExecutionStatus.CANCELED: RunStatus.aborted,
          WorkflowExecutionStatus.COMPLETED: RunStatus.completed}


class SweepRunsInput(BaseModel):
    batch_size: int = Field(100, ge=1, le=1000, description="runs of each kind compared with Temporal per sweep")
    grace_seconds: float = Field(120, ge=0, description="a start not confirmed after this long is settled")


class SweepRunsResult(BaseModel):
    confirmed: list[str] = Field(default_factory=list)  # started, though the starter could not confirm it
    not_started: list[str] = Field(default_factory=list)
    ended: list[str] = Field(default_factory=list)  # closed in Temporal: their end written from there
    compared: int = 0


class CancelInTemporalInput(BaseModel):
    workflow_id: str


class ProcessRunActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _temporal(self) -> Client:
        if self.deps.temporal is None:
            raise RuntimeError("sweeping process runs needs a Temporal client in Deps")
        return self.deps.temporal

    @activity.defn(name="cancel_in_temporal")
    async def cancel_in_temporal(self, input: CancelInTemporalInput) -> None:
        """Ask Temporal to cancel a process that has recorded its abort or cancellation, so that it ends as
        Canceled there (`workflows/interpreter.py`). Asking again is harmless."""
        if self.deps.temporal is None:
            raise ApplicationError("no Temporal client in this worker", type="NoTemporalClient", non_retryable=True)
        try:
            await self.deps.temporal.get_workflow_handle(input.workflow_id).cancel(rpc_timeout=RPC_TIMEOUT)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:  # not found: it has closed meanwhile
                raise

    @activity.defn(name="sweep_process_runs")
    async def sweep_process_runs(self, input: SweepRunsInput) -> SweepRunsResult:
        """Settle the starts never confirmed, and write the ends only Temporal saw (see the module)."""
        result = SweepRunsResult()
        now = utcnow()
        async with self.deps.sessions() as session:
            starting = list((await session.exec(
                select(ProcessRun.workflow_id).where(col(ProcessRun.status) == RunStatus.starting,
                                                     col(ProcessRun.created_at) < now - timedelta(
                                                         seconds=input.grace_seconds))
                .order_by(col(ProcessRun.id)).limit(input.batch_size))).all())
            running = list((await session.exec(
                select(ProcessRun.workflow_id).where(col(ProcessRun.status) == RunStatus.running)
                .order_by(nulls_first(col(ProcessRun.checked_at)), col(ProcessRun.id))
                .limit(input.batch_size))).all())
        for workflow_id in starting:
            description = await self._describe(workflow_id)
            async with self.deps.sessions() as session:
                if description is None:
                    await mark_not_started(session, workflow_id)
                    result.not_started.append(workflow_id)
                else:
                    await mark_started(session, workflow_id)
                    result.confirmed.append(workflow_id)
                await session.commit()
            activity.heartbeat()
        for workflow_id in running:
            description = await self._describe(workflow_id)
            ended = description is not None and description.status in CLOSED
            if ended:
                assert description is not None
                await self._write_end(workflow_id, description)
                result.ended.append(workflow_id)
            async with self.deps.sessions() as session:
                await session.exec(update(ProcessRun).where(  # type: ignore[call-overload]
                    col(ProcessRun.workflow_id) == workflow_id).values(checked_at=utcnow()))
                await session.commit()
            result.compared += 1
            activity.heartbeat()
        if result.not_started or result.ended:
            log.info("process runs settled", extra={"not_started": result.not_started, "ended": result.ended})
        return result

    async def _describe(self, workflow_id: str) -> WorkflowExecutionDescription | None:
        """The workflow's latest run, or None when Temporal has none (an error other than that is raised:
        the sweep is retried, and decides nothing on a guess)."""
        try:
            return await self._temporal().get_workflow_handle(workflow_id).describe(rpc_timeout=RPC_TIMEOUT)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    async def _write_end(self, workflow_id: str, description: WorkflowExecutionDescription) -> None:
        handle = self._temporal().get_workflow_handle(workflow_id, result_type=ProcessState)
        state: ProcessState | None = None
        try:
            if description.status is WorkflowExecutionStatus.COMPLETED:
                state = await handle.result(rpc_timeout=RPC_TIMEOUT)
            else:  # its state as it was when it closed, from a replay of its history on a worker
                state = await handle.query("current_state", result_type=ProcessState, rpc_timeout=RPC_TIMEOUT)
        except Exception:
            log.warning("final state not read from Temporal", extra={"workflow_id": workflow_id}, exc_info=True)
        status = CLOSED[description.status]
        ended_by = state.ended_by if state is not None else None
        end_reason = state.end_reason if state is not None else None
        if state is not None and state.status.finished:
            status = RunStatus(state.status.value)  # the process's own word: completed, aborted or cancelled
        else:  # it did not end by itself: terminated, failed or timed out in Temporal
            how = description.status.name.lower().replace("_", " ")
            ended_by, end_reason = ended_by or "temporal", end_reason or f"{how} in Temporal"
            if state is not None:
                state = state.model_copy(update={"status": ProcessStatus(status.value), "current_phase": None,
                                                 "ended_at": description.close_time, "ended_by": ended_by,
                                                 "end_reason": end_reason})
        async with self.deps.sessions() as session:
            await write_end(session, workflow_id, status, ended_at=description.close_time, ended_by=ended_by,
                            end_reason=end_reason, state=state, unless_ended=True)
            await session.commit()
