"""How a process ends, as engineers and staff see it (time-skipping server): its end in its run row (Stagecoach's
own database, kept after Temporal's retention), its tasks closed when it is aborted, and an aborted or
cancelled process shown as Canceled in Temporal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlmodel import select
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.process_runs import CancelInTemporalInput, ProcessRunActivities
from activities.step import ActionResult, step_activity
from activities.tasks import CreateTaskInput, TaskActivities
from crm.models import TaskStatus
from crm.process_runs import ProcessRun, RunStatus
from processes.instance import AbortRequest, ChangeOwnerRequest, ProcessState, ProcessStatus
from tests.channels.receivers import receiver
from tests.factories import Factory
from tests.workflows.helpers import activity_types, final_state, running_worker, tasks, template, until
from tests.workflows.test_loop_guard import start_run
from workflows.process import ProcessWorkflow

TODO = {"key": "todo", "name": "Prepare", "actions": [
    {"create_task": {"title": "Send the brochure", "assignee": "process_owner"}}]}
CALL = {"key": "call", "name": "Call the client", "completion": "manual"}


async def run_row(sessions: Any, workflow_id: str) -> ProcessRun:
    async with sessions() as session:
        return (await session.exec(select(ProcessRun).where(ProcessRun.workflow_id == workflow_id))).one()


async def activities_scheduled(handle: WorkflowHandle[Any, Any]) -> list[str]:
    return activity_types((await handle.fetch_history()).events)


@asynccontextmanager
async def started(env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
                  *phases: dict[str, Any],
                  **settings: Any) -> AsyncIterator[WorkflowHandle[ProcessWorkflow, ProcessState]]:
    """A process of `phases`, started through its run row on a new record, while its worker runs."""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    async with running_worker(env.client, sessions, task_queue, **settings):
        workflow_id = await start_run(env.client, sessions, task_queue, template(*phases), record.id, owner.id)
        yield env.client.get_workflow_handle_for(ProcessWorkflow.run, workflow_id)


async def test_an_aborted_process_closes_its_tasks_keeps_its_end_and_is_canceled_in_temporal(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    async with started(time_skipping_env, sessions, factory, task_queue, TODO, CALL) as handle:
        workflow_id = handle.id
        await until(handle, lambda s: s.phases[1].task_id is not None)
        await handle.execute_update(ProcessWorkflow.abort, AbortRequest(reason="client withdrew", actor="anna"))
        state = await final_state(handle)
        description = await handle.describe()
    assert description.status is WorkflowExecutionStatus.CANCELED
    assert (state.status, state.ended_by, state.end_reason) == (ProcessStatus.aborted, "anna", "client withdrew")
    # every task it left open is closed by the abort, saying who and why: the action's task and the phase's
    closed = [(t.title, t.status, t.completed_by, t.close_reason) for t in await tasks(sessions, workflow_id)]
    assert sorted(closed) == sorted([
        ("Send the brochure", TaskStatus.cancelled, "anna", "process aborted: client withdrew"),
        ("Call the client (Follow up new lead)", TaskStatus.cancelled, "anna", "process aborted: client withdrew")])
    run = await run_row(sessions, workflow_id)
    assert (run.status, run.ended_by, run.end_reason) == (RunStatus.aborted, "anna", "client withdrew")
    assert run.ended_at == state.ended_at and run.state is not None
    assert run.state["status"] == "aborted" and run.state["phases"][1]["skip_reason"] == "process aborted"


async def test_an_abort_is_canceled_in_temporal_when_the_cancellation_arrives_before_its_request_returned(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the cancellation reaches the run while the step that asked for it is still running (seen on a busy machine)
    ask = ProcessRunActivities.cancel_in_temporal

    @activity.defn(name="cancel_in_temporal")
    async def asks_then_lingers(self, input: CancelInTemporalInput) -> None:  # type: ignore[no-untyped-def]
        await ask(self, input)
        for _ in range(100):  # until the run has taken its cancellation
            if (await time_skipping_env.client.get_workflow_handle(input.workflow_id).describe()).status is not \
                    WorkflowExecutionStatus.RUNNING:
                return
            await asyncio.sleep(0.05)

    monkeypatch.setattr(ProcessRunActivities, "cancel_in_temporal", asks_then_lingers)
    async with started(time_skipping_env, sessions, factory, task_queue, CALL) as handle:
        await until(handle, lambda s: s.phases[0].task_id is not None)
        await handle.execute_update(ProcessWorkflow.abort, AbortRequest(reason="client withdrew", actor="anna"))
        state = await final_state(handle)
        description = await handle.describe()
    assert description.status is WorkflowExecutionStatus.CANCELED
    assert (state.status, state.ended_by) == (ProcessStatus.aborted, "anna")


async def test_a_cancel_from_temporal_is_an_abort_and_stays_canceled(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    async with started(time_skipping_env, sessions, factory, task_queue, CALL) as handle:
        workflow_id = handle.id
        await until(handle, lambda s: s.phases[0].task_id is not None)
        await handle.cancel()
        state = await final_state(handle)
        description = await handle.describe()
    assert description.status is WorkflowExecutionStatus.CANCELED
    assert (state.status, state.ended_by, state.end_reason) == (
        ProcessStatus.aborted, "temporal", "cancelled through Temporal")
    [task] = await tasks(sessions, workflow_id)
    assert (task.status, task.completed_by) == (TaskStatus.cancelled, "temporal")
    assert (await run_row(sessions, workflow_id)).status is RunStatus.aborted


async def test_a_completed_process_keeps_its_end_in_its_run(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    async with started(time_skipping_env, sessions, factory, task_queue, TODO) as handle:
        workflow_id = handle.id
        state = await handle.result()
    assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED
    run = await run_row(sessions, workflow_id)
    assert (run.status, run.ended_by, run.end_reason, run.ended_at) == (RunStatus.completed, None, None,
                                                                        state.ended_at)
    assert run.state == state.model_dump(mode="json")
    [task] = await tasks(sessions, workflow_id)
    assert task.status is TaskStatus.open  # a completed process leaves its action's tasks to their users


async def test_a_process_ending_with_its_last_step_has_that_step_write_its_end(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    # a step writing its end in a transaction of its own after its effect (create_task), and one writing it in its
    # own last transaction (webhook): either way no activity of its own for the end, and the end is the workflow's
    async with receiver() as target:
        hook = {"key": "post", "name": "Post", "actions": [{"webhook": {"endpoint": "crm"}}]}
        for phase, step in ((TODO, "create_task"), (hook, "webhook")):
            async with started(time_skipping_env, sessions, factory, task_queue, phase,
                               outbound_allowed_hosts=["127.0.0.1"],
                               webhook_endpoints={"crm": {"url": target.url("/hook"), "secret": "whsec_" + "A" * 32}}
                               ) as handle:
                state = await handle.result()
                scheduled = await activities_scheduled(handle)
            assert scheduled == [step]
            run = await run_row(sessions, handle.id)
            assert (run.status, run.ended_at) == (RunStatus.completed, state.ended_at)
            assert run.state == state.model_dump(mode="json")
            assert state.phases[0].finished_at == state.phases[0].actions[0].at == state.ended_at
            assert state.phases[0].responsible_id == state.owner_id and state.phases[0].actions[0].summary
        assert len(target.at("/hook")) == 1


async def test_a_change_while_the_last_step_runs_is_in_the_end_it_writes(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the owner changes while the step that ends the process runs: the end that step wrote is written again
    new_owner = await factory.user()
    create = TaskActivities.create_task.__wrapped__  # type: ignore[attr-defined]

    @step_activity("create_task")
    async def owner_changes_meanwhile(self, input: CreateTaskInput) -> ActionResult:  # type: ignore[no-untyped-def]
        if activity.info().is_local:  # as a slow step's: its local first attempt gives way to a regular activity,
            raise ApplicationError("slow", type="SlowStep")  # during which staff requests are answered
        handle = time_skipping_env.client.get_workflow_handle_for(ProcessWorkflow.run, input.step.workflow_id)
        await handle.execute_update(ProcessWorkflow.change_owner, ChangeOwnerRequest(owner_id=new_owner.id,
                                                                                     actor="anna"))
        return await create(self, input)  # type: ignore[no-any-return]

    monkeypatch.setattr(TaskActivities, "create_task", owner_changes_meanwhile)
    async with started(time_skipping_env, sessions, factory, task_queue, TODO) as handle:
        state = await handle.result()
        scheduled = await activities_scheduled(handle)
    assert state.owner_id == new_owner.id
    assert scheduled[-1] == "record_bookkeeping"  # the end written again, as the workflow has it
    run = await run_row(sessions, handle.id)
    assert run.state == state.model_dump(mode="json") and run.ended_at == state.ended_at
