"""Running processes against a Temporal test server with the real activities on a test database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.deps import Deps
from activities.mailer import Mailer
from crm.models import HistoryEntry, OutboxMessage, RecordEvent, Task
from crm.types import utcnow
from processes.instance import ProcessInput, ProcessState
from processes.validation import validate_template
from renderer.pool import RenderPool, shared_pool
from settings import Settings
from worker import build_worker
from workflows.process import ProcessWorkflow
from workflows.client import dispatcher_id, start_process
from workflows.record_events import RecordEventsWorkflow


@asynccontextmanager
async def running_worker(client: Client, sessions: async_sessionmaker[AsyncSession], task_queue: str,
                         renderer: RenderPool | None = None, **settings: Any) -> AsyncIterator[Worker]:
    """A worker on `task_queue` (its render pool: `renderer`, else the process's shared one)."""
    # a sweep every minute would run thousands of times while a test skips days on the time-skipping server
    settings.setdefault("record_events_sweep_seconds", 30 * 24 * 3600)
    config = Settings(temporal_task_queue=task_queue, **settings)
    deps = Deps(settings=config, sessions=sessions, mailer=Mailer(config), temporal=client,
                renderer=renderer or shared_pool())
    worker = build_worker(client, config, deps)
    if (began := _began.pop(task_queue, None)) is not None:
        await leave_earlier_events(sessions, began)
    try:
        async with worker:
            try:
                yield worker
            finally:
                await stop_dispatcher(client, task_queue)
    finally:
        await terminate_leftovers(task_queue)


# when each test's task queue was named (the `task_queue` fixture): the test began just before
_began: dict[str, datetime] = {}


def new_task_queue() -> str:
    name = f"tq-{uuid.uuid4().hex[:10]}"
    _began[name] = utcnow()
    return name


async def leave_earlier_events(sessions: async_sessionmaker[AsyncSession], began: datetime) -> None:
    """Mark dispatched the record events earlier tests left undispatched (an import's, a move's without a worker).

    The tests of a process share one database, and a test's dispatcher reads every undispatched event, oldest
    first: it would work through all its predecessors' (hundreds after the imports' tests) before its own, for
    longer than a test waits on a busy machine. The events this test made before its worker started stay.
    """
    async with sessions() as session:
        await session.exec(update(RecordEvent)  # type: ignore[call-overload]
                           .where(col(RecordEvent.dispatched_at).is_(None), col(RecordEvent.created_at) < began)
                           .values(dispatched_at=utcnow()))
        await session.commit()


# processes started per task queue, so a test's unfinished ones end with its worker
_started: dict[str, list[WorkflowHandle[Any, Any]]] = {}


async def terminate_leftovers(task_queue: str) -> None:
    """Terminate the test's processes still running once its worker is gone.

    Left running, their timers fire while later tests skip time, and the time-skipping
    server stops skipping while it waits for a workflow task that no worker will take.
    """
    for handle in _started.pop(task_queue, []):
        try:
            await handle.terminate("the test is over")
        except RPCError as error:  # it had finished already
            if error.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise


async def stop_dispatcher(client: Client, task_queue: str, timeout: float = 30.0) -> None:
    """End the record-events dispatcher of a test's task queue (if a record change started it) once idle.

    Ended while the worker still runs, so that no task of it is left for a queue nobody polls
    (the time-skipping server would stop skipping time for good).
    """
    handle = client.get_workflow_handle_for(RecordEventsWorkflow.run, dispatcher_id(task_queue))
    try:
        async with asyncio.timeout(timeout):
            while (state := await handle.query(RecordEventsWorkflow.current_state)).dispatching or state.signalled:
                await asyncio.sleep(0.02)
        await handle.terminate("the test is over")
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise


def template(*phases: dict[str, Any], key: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"key": key or f"t{uuid.uuid4().hex[:8]}", "name": "Follow up new lead",
            "controller_email": "controller@agency.example", "record_kind": "lead",
            "phases": list(phases), **fields}


async def start(client: Client, task_queue: str, document: dict[str, Any], record_id: int, owner_id: int,
                version: int = 1) -> WorkflowHandle[ProcessWorkflow, ProcessState]:
    parsed = validate_template(document)
    input = ProcessInput(template=parsed, template_version=version, record_id=record_id, owner_id=owner_id,
                         started_by="test")
    handle = await start_process(client, input, task_queue=task_queue,
                                 workflow_id=f"process-{parsed.key}-{record_id}-{uuid.uuid4().hex[:6]}")
    _started.setdefault(task_queue, []).append(handle)
    return handle


async def rows(sessions: async_sessionmaker[AsyncSession], model: type[Any], workflow_id: str) -> list[Any]:
    async with sessions() as session:
        result = await session.exec(select(model).where(model.workflow_id == workflow_id).order_by(model.id))
        return list(result.all())


async def history(sessions: async_sessionmaker[AsyncSession], workflow_id: str) -> list[HistoryEntry]:
    return await rows(sessions, HistoryEntry, workflow_id)


async def outbox(sessions: async_sessionmaker[AsyncSession], workflow_id: str) -> list[OutboxMessage]:
    return await rows(sessions, OutboxMessage, workflow_id)


async def tasks(sessions: async_sessionmaker[AsyncSession], workflow_id: str) -> list[Task]:
    return await rows(sessions, Task, workflow_id)


async def final_state(handle: WorkflowHandle[ProcessWorkflow, ProcessState]) -> ProcessState:
    """The state a process ended with: its result, or its state query when it was aborted or cancelled (it
    then ends as Canceled in Temporal, with no result). Needs a worker, to answer the query."""
    try:
        return await handle.result()
    except WorkflowFailureError as err:
        if not isinstance(err.cause, CancelledError):
            raise
        return await handle.query(ProcessWorkflow.current_state)


async def until(handle: WorkflowHandle[ProcessWorkflow, ProcessState], check: Callable[[ProcessState], bool],
                timeout: float = 30.0) -> ProcessState:
    """Query the process until `check` holds for its state (no workflow time passes meanwhile)."""
    async with asyncio.timeout(timeout):
        while True:
            state = await handle.query(ProcessWorkflow.current_state)
            if check(state):
                return state
            await asyncio.sleep(0.02)

LOCAL_ACTIVITY_MARKER = "core_local_activity"  # the marker the SDK records for a local activity's result


def step_events(events: Iterable[HistoryEvent]) -> list[HistoryEvent]:
    """The events that record a step in a history, in order: each regular activity scheduled, and each local
    activity's marker (a step's first attempt in runs of engine generation 2, `workflows/first_attempt.py`)."""
    return [e for e in events if e.HasField("activity_task_scheduled_event_attributes") or (
        e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER)]


def activity_types(events: Iterable[HistoryEvent]) -> list[str]:
    """The activity type of every step in a history, in order, whether it ran as a regular or a local activity."""
    return [e.activity_task_scheduled_event_attributes.activity_type.name
            if e.HasField("activity_task_scheduled_event_attributes") else local_activity(e)["activity_type"]
            for e in step_events(events)]


def local_activity(event: HistoryEvent) -> dict[str, Any]:
    """What a local activity's marker says of it: its `activity_type`, `attempt`, `seq` and times."""
    return json.loads(event.marker_recorded_event_attributes.details["data"].payloads[0].data)


def step_workers(events: Iterable[HistoryEvent]) -> list[tuple[str, int]]:
    """Who ran each step attempt a history records, and which attempt it was: the identity (pid@host) of the worker
    that started a regular activity, or that completed the workflow task a local activity's marker belongs to."""
    events = list(events)
    completed = {e.event_id: e.workflow_task_completed_event_attributes.identity for e in events
                 if e.HasField("workflow_task_completed_event_attributes")}
    ran = []
    for e in events:
        if e.HasField("activity_task_started_event_attributes"):
            ran.append((e.activity_task_started_event_attributes.identity, e.activity_task_started_event_attributes.attempt))
        elif e.HasField("marker_recorded_event_attributes") and \
                e.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER:
            ran.append((completed[e.marker_recorded_event_attributes.workflow_task_completed_event_id],
                        local_activity(e)["attempt"]))
    return ran
