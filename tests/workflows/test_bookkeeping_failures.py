"""The engine's own bookkeeping failing for good (the database refusing it for minutes) is an incident staff see
and resolve, like a failed step: never a process that retries forever looking `running` (time-skipping server).

The worker runs the real activities, with `record_bookkeeping` and `apply_loop_guard` behind a switch that
makes them fail the way a database that is down does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.bookkeeping import Bookkeeping, BookkeepingActivities, BookkeepingResult
from activities.deps import Deps
from activities.loop_guard import LoopGuardActivities, LoopGuardInput, LoopGuardResult
from activities.mailer import Mailer
from activities.registry import all_activities
from crm.models import HistoryKind
from processes.instance import AbortRequest, ProcessStatus, ResolveIncidentRequest
from settings import Settings
from tests.factories import Factory
from tests.workflows.helpers import final_state, history, start, template, until
from worker import RUNNER
from workflows.process import ProcessWorkflow
from workflows.registry import ALL_WORKFLOWS

RETRIES_OVER = timedelta(minutes=10)  # the bounded retries' backoff, skipped
LATER = {"key": "later", "name": "Later", "start": {"after_hours": 2}, "actions": [{"add_history": {"text": "hi"}}]}


class DatabaseDown:
    """The bookkeeping activities, failing while `down`; how many times each was called."""

    def __init__(self, deps: Deps) -> None:
        self.down = True
        self.calls: dict[str, int] = {}
        self.books = BookkeepingActivities(deps)
        self.guard = LoopGuardActivities(deps)

    def _call(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.down:
            raise ConnectionRefusedError("connection to the database refused")

    @activity.defn(name="record_bookkeeping")
    async def record_bookkeeping(self, books: Bookkeeping) -> BookkeepingResult:
        self._call("record_bookkeeping")
        return await self.books.record_bookkeeping(books)

    @activity.defn(name="apply_loop_guard")
    async def apply_loop_guard(self, input: LoopGuardInput) -> LoopGuardResult:
        self._call("apply_loop_guard")
        return await self.guard.apply_loop_guard(input)


@asynccontextmanager
async def worker_with_database_down(client: Any, sessions: Any, task_queue: str) -> AsyncIterator[DatabaseDown]:
    config = Settings(temporal_task_queue=task_queue)
    deps = Deps(settings=config, sessions=sessions, mailer=Mailer(config), temporal=client)
    down = DatabaseDown(deps)
    replaced = {"record_bookkeeping", "apply_loop_guard"}
    activities = [a for a in all_activities(deps) if getattr(a, "__temporal_activity_definition").name not in replaced]
    async with Worker(client, task_queue=task_queue, workflows=ALL_WORKFLOWS, workflow_runner=RUNNER,
                      activities=[*activities, down.record_bookkeeping, down.apply_loop_guard]):
        yield down


@asynccontextmanager
async def stuck_process(env: WorkflowEnvironment, sessions: Any, factory: Factory,
                        task_queue: str) -> AsyncIterator[tuple[DatabaseDown, WorkflowHandle[Any, Any]]]:
    """A process whose "process started" cannot be written, its bounded retries over: an incident soon."""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    async with worker_with_database_down(env.client, sessions, task_queue) as db:
        handle = await start(env.client, task_queue, template(LATER), record.id, owner.id)
        # "process started" is flushed before the phase waits its two hours: that write fails for good
        await env.sleep(RETRIES_OVER)
        yield db, handle


async def test_history_that_cannot_be_written_becomes_an_incident_staff_retry(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    async with stuck_process(time_skipping_env, sessions, factory, task_queue) as (db, handle):
        state = await until(handle, lambda s: s.status is ProcessStatus.incident)
        assert state.incident is not None
        assert (state.incident.step, state.incident.phase_key) == ("bookkeeping: history", "later")
        assert "connection to the database refused" in state.incident.message
        assert db.calls["record_bookkeeping"] == 10  # bounded
        db.down = False
        await handle.execute_update(ProcessWorkflow.resolve_incident, ResolveIncidentRequest(action="retry"))
        final = await final_state(handle)
    assert final.status is ProcessStatus.completed
    kinds = [e.kind for e in await history(sessions, handle.id)]
    assert kinds.count(HistoryKind.process_started) == 1 and HistoryKind.process_ended in kinds


async def test_an_abort_during_a_bookkeeping_incident_ends_the_process_once_it_can_be_written(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    async with stuck_process(time_skipping_env, sessions, factory, task_queue) as (db, handle):
        await until(handle, lambda s: s.status is ProcessStatus.incident)
        abort = await handle.start_update(ProcessWorkflow.abort, AbortRequest(reason="stop", actor="anna"),
                                          wait_for_stage=2)  # accepted
        # the end cannot be written either: a second incident, which staff can still retry while it is aborted
        await time_skipping_env.sleep(RETRIES_OVER)
        state = await until(handle, lambda s: s.incident is not None and s.incident.at > s.started_at
                            and db.calls["record_bookkeeping"] >= 20)
        assert state.status is ProcessStatus.incident
        db.down = False
        await handle.execute_update(ProcessWorkflow.resolve_incident, ResolveIncidentRequest(action="retry"))
        assert (await abort.result()).status is ProcessStatus.aborted
        final = await final_state(handle)
    assert (final.status, final.ended_by, final.end_reason) == (ProcessStatus.aborted, "anna", "stop")
    kinds = [e.kind for e in await history(sessions, handle.id)]
    assert kinds.count(HistoryKind.process_aborted) == 1 and kinds.count(HistoryKind.process_started) == 1


async def test_a_loop_guard_that_cannot_count_becomes_an_incident(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    from processes.instance import ProcessInput
    from processes.validation import validate_template
    from workflows.client import start_process

    owner = await factory.user()
    record = await factory.record(owner=owner)
    client = time_skipping_env.client
    async with worker_with_database_down(client, sessions, task_queue) as db:
        input = ProcessInput(template=validate_template(template(LATER)), template_version=1, record_id=record.id,
                             owner_id=owner.id, started_by="autostart", origin="autostart")
        handle = await start_process(client, input, workflow_id=f"process-guard-{task_queue}", task_queue=task_queue)
        await time_skipping_env.sleep(RETRIES_OVER)
        state = await until(handle, lambda s: s.status is ProcessStatus.incident)
        assert state.incident is not None and state.incident.step == "bookkeeping: loop guard"
        assert db.calls["apply_loop_guard"] == 10
        db.down = False
        await handle.execute_update(ProcessWorkflow.resolve_incident, ResolveIncidentRequest(action="retry"))
        final = await final_state(handle)
    assert final.status is ProcessStatus.completed
