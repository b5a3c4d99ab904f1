"""Signals, updates and queries a workflow does not know, sent straight with the Temporal client (dev server)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError

from processes.instance import CompletePhaseRequest, PhaseStatus, ProcessStatus
from settings import Settings
from tests.factories import Factory
from tests.figures import Figures
from tests.workflows.helpers import running_worker, start, template, until
from workflows.process import ProcessWorkflow
from workflows.client import dispatcher_id, notify_dispatcher
from workflows.record_events import RecordEventsWorkflow

CALL = {"key": "call", "name": "Call the client", "completion": "manual"}
CLOSE = {"key": "close", "name": "Close", "actions": [{"add_history": {"text": "Closed {{ record.title }}"}}]}
SWEEP_SECONDS = 30 * 24 * 3600  # no sweep during the test: every dispatch is a signal's


async def _events(handle: WorkflowHandle[Any, Any]) -> list[EventType.ValueType]:
    return [event.event_type async for event in handle.fetch_history_events()]


async def _refused_update(handle: WorkflowHandle[Any, Any], name: str, *args: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(name, args=list(args))
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError), cause
    return cause.message


async def _refused_query(handle: WorkflowHandle[Any, Any], name: str) -> str:
    with pytest.raises(WorkflowQueryFailedError) as failed:
        await handle.query(name)
    return str(failed.value)


def _dropped(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("temporalio.workflow") and "unknown signal" in r.getMessage()]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_process_refuses_unknown_updates_and_drops_unknown_signals(
        dev_env: Any, sessions: Any, factory: Factory, task_queue: str, caplog: pytest.LogCaptureFixture,
        figures: Figures) -> None:
    """A running process refuses unknown and malformed updates, drops unknown signals, and completes normally"""
    owner = await factory.user()
    record = await factory.record(owner)
    client = dev_env.client
    caplog.set_level(logging.WARNING, logger="temporalio.workflow")
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(CALL, CLOSE), record.id, owner.id)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        # names a process does not take as signals: staff requests are signals too (tests/workflows/test_staff_signals.py),
        # change_owner is an update only, and a misspelt name is nothing
        signals = [("nonexistent", {"x": 1}), ("change_owner", {"owner_id": owner.id}), ("skip-phase", {}),
                   ("events_recorded", "not a request")]
        for name, arg in signals:
            await handle.signal(name, arg)
        refusals = [
            await _refused_update(handle, "nonexistent", {"x": 1}),
            await _refused_update(handle, "complete_phase", {"phase": 5, "answers": "not a mapping"}),
            await _refused_update(handle, "complete_phase", "not a request"),
            await _refused_update(handle, "abort", {}),  # no reason
            await _refused_update(handle, "change_owner", {"owner_id": "maria"}),
            await _refused_update(handle, "skip_phase", {"phase": "nope"}),  # the validator's refusal
            await _refused_update(handle, "resolve_incident", {"action": "retry"}),  # no incident
        ]
        queries = [await _refused_query(handle, "nonexistent"), await _refused_query(handle, "complete_phase")]
        assert "nonexistent" in refusals[0] and "known updates" in refusals[0]
        assert all(refusals) and all(queries)
        # the process is as it was: the unknown signals did nothing
        state = await handle.query(ProcessWorkflow.current_state)
        assert state.status is ProcessStatus.running
        assert [p.status for p in state.phases] == [PhaseStatus.running, PhaseStatus.pending]
        async with asyncio.timeout(30):
            while len(_dropped(caplog)) < len(signals):
                await asyncio.sleep(0.05)
        await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest(phase="call", actor="test"))
        result = await handle.result()
    assert result.status is ProcessStatus.completed
    assert [p.status for p in result.phases] == [PhaseStatus.done, PhaseStatus.done]
    events = await _events(handle)
    failed_tasks = events.count(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)
    accepted = events.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    assert failed_tasks == 0
    assert accepted == 1  # only the real completion: refused updates are not in the history
    assert events.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) == len(signals)
    assert {message.split("'")[1] for message in _dropped(caplog)} == {name for name, _ in signals}
    figures["unknown signals sent"] = len(signals)
    figures["signals logged and dropped"] = len(_dropped(caplog))
    figures["bad updates refused"] = len(refusals)
    figures["unknown queries refused"] = len(queries)
    figures["updates accepted in history"] = accepted
    figures["workflow tasks failed"] = failed_tasks
    figures["outcome"] = result.status.value


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_dispatcher_drops_unknown_signals_and_refuses_updates(
        dev_env: Any, sessions: Any, task_queue: str, caplog: pytest.LogCaptureFixture, figures: Figures) -> None:
    """The record-events dispatcher drops unknown signals, refuses updates and queries it lacks, and goes on"""
    client = dev_env.client
    caplog.set_level(logging.WARNING, logger="temporalio.workflow")
    settings = Settings(temporal_task_queue=task_queue, record_events_sweep_seconds=SWEEP_SECONDS)
    async with running_worker(client, sessions, task_queue):
        await notify_dispatcher(client, settings)
        handle = client.get_workflow_handle_for(RecordEventsWorkflow.run, dispatcher_id(task_queue))

        async def rounds() -> int:
            return (await handle.query(RecordEventsWorkflow.current_state)).rounds

        async with asyncio.timeout(30):
            while await rounds() < 1:
                await asyncio.sleep(0.05)
        signals = [("nonexistent", [{"x": 1}]), ("dispatch", []), ("events_recorded", ["unexpected", 42])]
        for name, args in signals:
            await handle.signal(name, args=args)
        refusals = [await _refused_update(handle, "nonexistent", {"x": 1}),
                    await _refused_update(handle, "events_recorded")]
        queries = [await _refused_query(handle, "nonexistent")]
        async with asyncio.timeout(30):
            while len(_dropped(caplog)) < 2:
                await asyncio.sleep(0.05)
        before = await rounds()
        await handle.signal(RecordEventsWorkflow.events_recorded)
        async with asyncio.timeout(30):
            while await rounds() <= before:
                await asyncio.sleep(0.05)
        description = await handle.describe()
        events = await _events(handle)
    assert description.status is not None and description.status.name == "RUNNING"
    assert events.count(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) == 0
    assert events.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) == 0
    assert {message.split("'")[1] for message in _dropped(caplog)} == {"nonexistent", "dispatch"}
    figures["unknown signals sent"] = 2
    figures["signals logged and dropped"] = len(_dropped(caplog))
    figures["known signal with extra arguments"] = "dispatched as usual"
    figures["bad updates refused"] = len(refusals)
    figures["unknown queries refused"] = len(queries)
    figures["workflow tasks failed"] = 0
