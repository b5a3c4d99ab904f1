"""Staff requests sent as signals (the Temporal UI's "Send a Signal", `temporal workflow signal`).

Accepted: the same handler as the update, so the same history lines and task closing. Refused: a
"refused request" line in the record's history, a log line, and nothing else changes; the workflow
task never fails. An `Idempotency-Key` field applies a request once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from crm.models import HistoryKind, TaskStatus
from processes.instance import CompletePhaseRequest, PhaseStatus, ProcessInput, ProcessStatus
from processes.validation import validate_template
from tests.factories import Factory
from tests.workflows.helpers import final_state, history, running_worker, start, tasks, template, until
from workflows.client import start_process
from workflows.process import ProcessWorkflow

BIN = Path(sys.executable).parent
CALL = {"key": "call", "name": "Call the client", "completion": "manual"}
WAIT = {"key": "wait", "name": "Wait for the documents", "completion": "manual"}
CLOSE = {"key": "close", "name": "Close", "actions": [{"add_history": {"text": "Closed"}}]}


async def events(handle: Any) -> list[int]:
    return [e.event_type for e in (await handle.fetch_history()).events]


async def refusals(sessions: Any, workflow_id: str, count: int) -> list[Any]:
    """The refused-request lines of a process, once there are `count` of them."""
    async with asyncio.timeout(30):
        while len(lines := [e for e in await history(sessions, workflow_id)
                            if e.kind is HistoryKind.request_refused]) < count:
            await asyncio.sleep(0.05)
    return lines


async def test_a_skip_by_signal_moves_the_process_on_and_a_key_applies_it_once(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(CALL, WAIT, CLOSE), record.id, owner.id)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        skip = {"reason": "called already", "actor": "anna", "Idempotency-Key": "skip-once"}
        await handle.signal("skip_phase", skip)
        await handle.signal("skip_phase", skip)  # the same key: nothing more (it would skip "wait")
        state = await until(handle, lambda s: s.phases[1].task_id is not None)
        assert [p.status for p in state.phases] == [PhaseStatus.skipped, PhaseStatus.running, PhaseStatus.pending]
        await handle.signal("complete_phase", {"phase": "wait", "answers": {"documents": "yes"}})
        result = await final_state(handle)
    assert result.status is ProcessStatus.completed and result.answers == {"documents": "yes"}
    assert [p.status for p in result.phases] == [PhaseStatus.skipped, PhaseStatus.done, PhaseStatus.done]
    call_task, wait_task = await tasks(sessions, handle.id)
    assert (call_task.status, call_task.completed_by) == (TaskStatus.cancelled, "anna")
    assert (wait_task.status, wait_task.completed_by) == (TaskStatus.done, client.identity)  # who sent it
    entries = await history(sessions, handle.id)
    [skipped] = [e for e in entries if e.kind is HistoryKind.phase_skipped]
    assert (skipped.text, skipped.actor) == ("Phase 'Call the client' skipped: called already", "anna")
    assert not [e for e in entries if e.kind is HistoryKind.request_refused]
    kinds = await events(handle)
    assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) == 3
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in kinds


async def test_an_abort_by_signal_aborts(time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory,
                                         task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(CALL, CLOSE), record.id, owner.id)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        await handle.signal("abort", {})  # reason and actor are optional
        result = await final_state(handle)
    assert result.status is ProcessStatus.aborted
    assert (result.end_reason, result.ended_by) == ("aborted through Temporal", client.identity)
    [task] = await tasks(sessions, handle.id)
    assert task.status is TaskStatus.cancelled
    [aborted] = [e for e in await history(sessions, handle.id) if e.kind is HistoryKind.process_aborted]
    assert aborted.text == "Process 'Follow up new lead' aborted: aborted through Temporal"


async def test_a_refused_signal_leaves_a_refused_line_and_changes_nothing(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        caplog: pytest.LogCaptureFixture) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    client = time_skipping_env.client
    caplog.set_level(logging.WARNING, logger="temporalio.workflow")
    sent = [("skip_phase", {"phase": "cal", "actor": "anna", "reason": "typo"}),  # unknown phase
            ("resolve_incident", {"action": "retry"}),  # no incident
            ("complete_phase", {"phase": "close"}),  # not running
            ("skip_phase", {"phsae": "close"}),  # a misspelt field: refused, not "skip the current phase"
            ("abort", "withdrew"),  # not an object
            ("resolve_incident", {"action": "later"}),
            ("skip_phase", {"reason": "a\x00b", "actor": "x\x00y"}),  # NUL, which the API refuses in any text
            ("complete_phase", {"answers": {"esito": "x\x00y"}}),
            ("complete_phase", {"answers": {"units": 2**60}})]  # past what JSON readers keep exactly
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(CALL, CLOSE), record.id, owner.id)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        for name, body in sent:
            await handle.signal(name, body)
        with pytest.raises(WorkflowUpdateFailedError) as refused:  # the same as an update (the Temporal UI's)
            await handle.execute_update(ProcessWorkflow.complete_phase,
                                        CompletePhaseRequest(answers={"units": -(2**60)}, actor="anna"))
        assert isinstance(refused.value.cause, ApplicationError) and refused.value.cause.type == "AnswersInvalid"
        lines = await refusals(sessions, handle.id, len(sent))
        state = await handle.query(ProcessWorkflow.current_state)
        assert state.status is ProcessStatus.running
        assert [p.status for p in state.phases] == [PhaseStatus.running, PhaseStatus.pending]
        await handle.signal("complete_phase", {})  # the process goes on
        result = await final_state(handle)
    assert result.status is ProcessStatus.completed
    assert sorted(line.text for line in lines) == sorted([  # each signal's line is written by a step of its own
        "Request 'skip_phase' sent as a signal refused: no phase 'cal' in template "
        f"'{state.template_key}' (did you mean 'call'?) (sent because: typo)",
        "Request 'resolve_incident' sent as a signal refused: the process has no open incident",
        "Request 'complete_phase' sent as a signal refused: phase 'close' is pending, not running",
        "Request 'skip_phase' sent as a signal refused: phsae: Extra inputs are not permitted",
        "Request 'abort' sent as a signal refused: input: Input should be a valid dictionary or instance of "
        "AbortSignal",
        "Request 'resolve_incident' sent as a signal refused: action: Input should be 'retry' or 'skip'",
        "Request 'skip_phase' sent as a signal refused: reason: holds the NUL character (\\u0000), which no text may "
        "hold; actor: holds the NUL character (\\u0000), which no text may hold",
        "Request 'complete_phase' sent as a signal refused: answers.esito: holds the NUL character (\\u0000), which "
        "no text may hold",
        "Request 'complete_phase' sent as a signal refused: answers.units: a whole number answer is at most "
        "9007199254740991 either way (a larger one loses digits)"])
    assert not any("\x00" in (line.text + line.actor) for line in lines)
    by_type = {line.data["error_type"]: (line.actor, line.phase_key) for line in lines}
    assert by_type["PhaseNotFound"] == ("anna", "call") and by_type["NoIncident"] == (client.identity, "call")
    logged = [r.getMessage() for r in caplog.records if "sent as a signal" in r.getMessage() or "refused" in
              r.getMessage()]
    assert len([m for m in logged if m.startswith("signal ")]) == len(sent)
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in await events(handle)


async def test_other_signals_are_still_dropped(time_skipping_env: WorkflowEnvironment, sessions: Any,
                                               factory: Factory, task_queue: str,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """change_owner is an update only: as a signal it is unknown, logged and dropped like any other name"""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    client = time_skipping_env.client
    caplog.set_level(logging.WARNING, logger="temporalio.workflow")
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(CALL, CLOSE), record.id, owner.id)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        await handle.signal("change_owner", {"owner_id": owner.id})
        async with asyncio.timeout(30):
            while not any("unknown signal 'change_owner' dropped" in r.getMessage() for r in caplog.records):
                await asyncio.sleep(0.05)
        await handle.execute_update(ProcessWorkflow.abort, {"reason": "done"})
    assert not [e for e in await history(sessions, handle.id) if e.kind is HistoryKind.request_refused]


# --- on the dev server, with the real `temporal` CLI -----------------------------------------------------------

async def cli_signal(env: WorkflowEnvironment, workflow_id: str, name: str, body: dict[str, Any],
                     *, may_find_it_closed: bool = False) -> None:
    """`temporal workflow signal` as an engineer types it, and types again when Temporal answers that the run is
    closing: a run continuing as new refuses signals for that moment (the sender is told; nothing is lost), and
    the next try reaches the new run.

    `may_find_it_closed`: the signal may come after the process ended (Temporal refuses it then)."""
    for _ in range(50):
        process = await asyncio.create_subprocess_exec(
            str(BIN / "temporal"), "workflow", "signal", "--address", env.client.service_client.config.target_host,
            "--namespace", env.client.namespace, "--workflow-id", workflow_id, "--name", name,
            "--input", json.dumps(body), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await process.communicate()
        closing = "workflow is closing" in output.decode()
        if process.returncode == 0 or not closing or may_find_it_closed:
            break
        await asyncio.sleep(0.1)  # the new run is being made: a person would send it again
    closed = closing or "already completed" in output.decode()
    assert process.returncode == 0 or (may_find_it_closed and closed), output.decode()


async def test_signals_from_the_temporal_cli(dev_env: WorkflowEnvironment, sessions: Any, factory: Factory,
                                            task_queue: str) -> None:
    """skip, a refusal, a key sent twice and abort, each typed as `temporal workflow signal`"""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    client = dev_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(CALL, WAIT, CLOSE), record.id, owner.id)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        await cli_signal(dev_env, handle.id, "skip_phase", {"reason": "called already", "Idempotency-Key": "k1"})
        await cli_signal(dev_env, handle.id, "skip_phase", {"reason": "called already", "Idempotency-Key": "k1"})
        await until(handle, lambda s: s.phases[1].task_id is not None)
        await cli_signal(dev_env, handle.id, "skip_phase", {"phase": "call"})  # done already: refused
        [refused] = await refusals(sessions, handle.id, 1)
        await cli_signal(dev_env, handle.id, "abort", {"reason": "client withdrew", "actor": "luca"})
        result = await final_state(handle)
    assert [p.status for p in result.phases] == [PhaseStatus.skipped, PhaseStatus.skipped, PhaseStatus.pending]
    assert (result.status, result.end_reason, result.ended_by) == (ProcessStatus.aborted, "client withdrew", "luca")
    assert refused.text == "Request 'skip_phase' sent as a signal refused: phase 'call' is already skipped"
    assert refused.actor.startswith("temporal-cli:")  # the CLI's identity, as Temporal recorded it
    entries = await history(sessions, handle.id)
    assert [e.phase_key for e in entries if e.kind is HistoryKind.phase_skipped] == ["call"]
    kinds = await events(handle)
    assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) == 4


async def test_signals_arriving_while_the_process_continues_as_new_are_not_lost(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    """A process that continues as new after every phase, and skips sent (twice each) as fast as the CLI goes"""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    client = dev_env.client
    phases = [{"key": f"p{i}", "name": f"Phase {i}", "completion": "manual",
               "actions": [{"add_history": {"text": f"phase {i}"}}]} for i in range(1, 5)]
    doc = template(*phases)
    input = ProcessInput(template=validate_template(doc), template_version=1, record_id=record.id,
                         owner_id=owner.id, started_by="test", history_limit=1)  # continue as new at each boundary
    async with running_worker(client, sessions, task_queue):
        handle = await start_process(client, input, workflow_id=f"process-{doc['key']}-{record.id}",
                                     task_queue=task_queue)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        for i in range(1, 5):
            for attempt in range(2):  # the second skip of the last phase may come once the process has ended
                await cli_signal(dev_env, handle.id, "skip_phase", {"phase": f"p{i}", "Idempotency-Key": f"k{i}"},
                                 may_find_it_closed=(i, attempt) == (4, 1))
        result = await final_state(client.get_workflow_handle_for(ProcessWorkflow.run, handle.id))
    assert result.status is ProcessStatus.completed and result.runs >= 4
    assert [p.status for p in result.phases] == [PhaseStatus.skipped] * 4
    entries = await history(sessions, handle.id)
    skipped = [e for e in entries if e.kind is HistoryKind.phase_skipped]
    assert [e.phase_key for e in skipped] == ["p1", "p2", "p3", "p4"]
    assert all(e.actor.startswith("temporal-cli:") for e in skipped)  # each sender found in its own run
    assert not [e for e in entries if e.kind is HistoryKind.request_refused]
