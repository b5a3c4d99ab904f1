"""Staff requests on a running process: skip, abort, refusals, owner change, incidents, version pinning."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.deps import Deps
from activities.mailer import Mailer
from activities.registry import all_activities
from crm.models import HistoryKind, MessageStatus, Record, TaskStatus
from processes.instance import (
    AbortRequest,
    ChangeOwnerRequest,
    CompletePhaseRequest,
    PhaseStatus,
    ProcessStatus,
    ResolveIncidentRequest,
    SkipPhaseRequest,
)
from settings import Settings
from tests.factories import Factory
from tests.workflows.helpers import final_state, history, outbox, running_worker, start, tasks, template, until
from worker import RUNNER
from workflows.process import ProcessWorkflow

CALL = {"key": "call", "name": "Call the client", "completion": "manual"}
CLOSE = {"key": "close", "name": "Close", "actions": [{"add_history": {"text": "Closed {{ record.title }}"}}]}
WELCOME = {"key": "welcome", "name": "Welcome", "actions": [
    {"send_email": {"subject": "Welcome", "body": "Hello {{ record.title }}"}},
    {"add_history": {"text": "Welcomed"}}]}


async def refused(handle: Any, update: Any, request: Any) -> ApplicationError:
    """Send an update that must be refused by its validator; return the refusal."""
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(update, request)
    assert isinstance(failed.value.cause, ApplicationError)
    return failed.value.cause


@activity.defn(dynamic=True)
async def unavailable(args: Sequence[RawValue]) -> None:
    raise ApplicationError("the database is unavailable", type="Unavailable")


def uncached_worker(client: Any, sessions: Any, task_queue: str, *, activities: bool) -> Worker:
    """A worker that caches no workflow, so that another worker can take over right after it stops.

    (The test server keeps sending a cached workflow's tasks to the stopped worker's sticky queue.)
    Without `activities`, every step's local attempt fails and its regular attempt waits for a worker that runs
    activities: a step that cannot run yet.
    """
    config = Settings(temporal_task_queue=task_queue)
    deps = Deps(settings=config, sessions=sessions, mailer=Mailer(config))
    return Worker(client, task_queue=task_queue, workflows=[ProcessWorkflow], max_cached_workflows=0,
                  workflow_runner=RUNNER, activities=all_activities(deps) if activities else [unavailable],
                  no_remote_activities=not activities)


def all_updates() -> list[tuple[Any, Any]]:
    return [(ProcessWorkflow.skip_phase, SkipPhaseRequest()),
            (ProcessWorkflow.abort, AbortRequest(reason="again")),
            (ProcessWorkflow.complete_phase, CompletePhaseRequest()),
            (ProcessWorkflow.change_owner, ChangeOwnerRequest(owner_id=1)),
            (ProcessWorkflow.resolve_incident, ResolveIncidentRequest(action="retry"))]


async def test_skip_current_manual_phase_cancels_its_task_and_runs_the_next(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(CALL, CLOSE), record.id, owner.id)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        state = await handle.execute_update(ProcessWorkflow.skip_phase,
                                            SkipPhaseRequest(reason="client unreachable", actor="anna"))
        assert (state.phases[0].status, state.phases[0].skip_reason) == (PhaseStatus.skipped, "client unreachable")
        [task] = await tasks(sessions, handle.id)  # closed by the time the skip answers
        assert task.status is TaskStatus.cancelled and task.completed_by == "anna"
        state = await final_state(handle)
    assert state.status is ProcessStatus.completed
    assert [p.status for p in state.phases] == [PhaseStatus.skipped, PhaseStatus.done]
    entries = await history(sessions, handle.id)
    [skipped] = [e for e in entries if e.kind is HistoryKind.phase_skipped]
    assert skipped.text == "Phase 'Call the client' skipped: client unreachable" and skipped.actor == "anna"
    assert [e.kind for e in entries][-3:] == [HistoryKind.note, HistoryKind.phase_done, HistoryKind.process_ended]


async def test_skip_a_future_phase_and_the_phase_waiting_on_its_offset(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    doc = template({"key": "wait", "name": "Wait three days", "start": {"after_days": 3},
                    "actions": [{"add_history": {"text": "three days passed"}}]},
                   WELCOME, {**CLOSE, "key": "later"})
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, doc, record.id, owner.id)
        await until(handle, lambda s: s.phases[0].status is PhaseStatus.waiting)
        state = await handle.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(phase="later"))
        assert [p.status for p in state.phases] == [PhaseStatus.waiting, PhaseStatus.pending, PhaseStatus.pending]
        await handle.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(phase="wait", reason="now"))
        state = await final_state(handle)
    assert [p.status for p in state.phases] == [PhaseStatus.skipped, PhaseStatus.done, PhaseStatus.skipped]
    assert state.phases[1].started_at - state.started_at < timedelta(days=1)  # did not wait the 3 days
    assert [m.subject for m in await outbox(sessions, handle.id)] == ["Welcome"]
    entries = await history(sessions, handle.id)
    assert [e.phase_key for e in entries if e.kind is HistoryKind.phase_skipped] == ["wait", "later"]
    assert [e.text for e in entries if e.kind is HistoryKind.note] == ["Welcomed"]


async def test_abort_cancels_the_task_then_every_request_is_refused(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    client = time_skipping_env.client
    async with uncached_worker(client, sessions, task_queue, activities=True):
        handle = await start(client, task_queue, template(CALL, CLOSE), record.id, owner.id)
        await until(handle, lambda s: s.phases[0].task_id is not None)
    # Without activities the abort is accepted but its bookkeeping cannot run: the process stays open
    # (aborting) and its own validators refuse what comes next.
    async with uncached_worker(client, sessions, task_queue, activities=False):
        aborting = await handle.start_update(ProcessWorkflow.abort,
                                             AbortRequest(reason="client withdrew", actor="anna"),
                                             wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        for update, request in all_updates():
            assert (await refused(handle, update, request)).type == "ProcessFinished"
    async with running_worker(client, sessions, task_queue):
        state = await aborting.result()
        # when the abort answers, its task is cancelled and its history written
        [task] = await tasks(sessions, handle.id)
        assert task.status is TaskStatus.cancelled
        last = (await history(sessions, handle.id))[-1]
        assert last.kind is HistoryKind.process_aborted and "client withdrew" in last.text and last.actor == "anna"
        assert await final_state(handle) == state
    assert (state.status, state.end_reason, state.ended_by) == (ProcessStatus.aborted, "client withdrew", "anna")
    assert [(p.status, p.skip_reason) for p in state.phases] == [
        (PhaseStatus.skipped, "process aborted"), (PhaseStatus.pending, None)]
    # Once the workflow has closed, the server itself rejects updates with NOT_FOUND (the API must map
    # that to 409 ProcessFinished for a process it knows, not 404).
    for update, request in all_updates():
        with pytest.raises(RPCError) as closed:
            await handle.execute_update(update, request)
        assert closed.value.status is RPCStatusCode.NOT_FOUND


async def test_refusals_change_nothing(time_skipping_env: WorkflowEnvironment, sessions, factory: Factory,
                                       task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(WELCOME, CALL, CLOSE), record.id, owner.id)
        before = await until(handle, lambda s: s.phases[1].task_id is not None)
        entries_before = [e.id for e in await history(sessions, handle.id)]

        unknown = await refused(handle, ProcessWorkflow.skip_phase, SkipPhaseRequest(phase="cal"))
        assert unknown.type == "PhaseNotFound" and "did you mean 'call'" in unknown.message
        done = await refused(handle, ProcessWorkflow.skip_phase, SkipPhaseRequest(phase="welcome"))
        assert done.type == "InvalidPhaseState" and "already done" in done.message
        pending = await refused(handle, ProcessWorkflow.complete_phase, CompletePhaseRequest(phase="close"))
        assert pending.type == "InvalidPhaseState" and "pending" in pending.message
        wrong_task = await refused(handle, ProcessWorkflow.complete_phase, CompletePhaseRequest(task_id=-1))
        assert wrong_task.type == "InvalidPhaseState"
        no_incident = await refused(handle, ProcessWorkflow.resolve_incident, ResolveIncidentRequest(action="skip"))
        assert no_incident.type == "NoIncident"

        assert await handle.query(ProcessWorkflow.current_state) == before
        assert [e.id for e in await history(sessions, handle.id)] == entries_before
        await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest())
        state = await final_state(handle)
    assert [p.status for p in state.phases] == [PhaseStatus.done] * 3


async def test_change_owner_reassigns_the_open_task_and_later_phases(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    successor = await factory.user(name="Luca Bianchi")
    record = await factory.record(owner=owner)
    doc = template({**CALL, "responsible": "process_owner"},
                   {"key": "report", "name": "Report", "responsible": "process_owner", "actions": [
                       {"send_email": {"to": "responsible", "subject": "Report", "body": "{{ responsible.name }}"}}]})
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, doc, record.id, owner.id)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        [task] = await tasks(sessions, handle.id)
        assert task.assignee_id == owner.id
        state = await handle.execute_update(ProcessWorkflow.change_owner,
                                            ChangeOwnerRequest(owner_id=successor.id, actor="anna"))
        assert state.owner_id == successor.id and state.phases[0].responsible_id == successor.id
        [task] = await tasks(sessions, handle.id)
        assert task.assignee_id == successor.id and task.status is TaskStatus.open
        await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest(task_id=task.id))
        state = await final_state(handle)
    assert state.phases[1].responsible_id == successor.id
    [mail] = await outbox(sessions, handle.id)
    assert (mail.to_address, mail.body) == (successor.email, "Luca Bianchi")
    [changed] = [e for e in await history(sessions, handle.id) if e.kind is HistoryKind.owner_changed]
    assert changed.data == {"from": owner.id, "to": successor.id} and changed.actor == "anna"
    assert changed.text == f"Process owner changed from {owner.name} to Luca Bianchi"  # names, not user ids


async def _incident_process(env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
                            *phases: dict[str, Any]) -> tuple[Any, Record]:
    """Start a process whose first email has no recipient; return once it is in an incident."""
    owner = await factory.user()
    record = await factory.record(owner=owner, email=None)
    handle = await start(env.client, task_queue, template(WELCOME, *phases), record.id, owner.id)
    state = await until(handle, lambda s: s.status is ProcessStatus.incident)
    assert state.incident is not None
    assert (state.incident.phase_key, state.incident.step, state.incident.error_type) == (
        "welcome", "actions[0].send_email", "RecipientMissing")
    assert "no email address" in state.incident.message
    return handle, record


async def test_incident_then_retry_sends_the_email_once(time_skipping_env: WorkflowEnvironment, sessions,
                                                        factory: Factory, task_queue: str) -> None:
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        handle, record = await _incident_process(time_skipping_env, sessions, factory, task_queue, CLOSE)
        async with asyncio.timeout(10):  # the history line follows the incident status within a workflow task
            while HistoryKind.incident not in [e.kind for e in await history(sessions, handle.id)]:
                await asyncio.sleep(0.02)
        async with sessions() as session:
            stored = await session.get(Record, record.id)
            stored.email = "found@example.org"
            session.add(stored)
            await session.commit()
        state = await handle.execute_update(ProcessWorkflow.resolve_incident,
                                            ResolveIncidentRequest(action="retry", actor="anna"))
        assert state.incident is None
        state = await final_state(handle)
    assert state.status is ProcessStatus.completed
    assert [a.status for a in state.phases[0].actions] == ["done", "done"]
    assert [(m.to_address, m.status) for m in await outbox(sessions, handle.id)] == [
        ("found@example.org", MessageStatus.held)]
    kinds = [e.kind for e in await history(sessions, handle.id)]
    assert kinds.count(HistoryKind.incident) == 1 and kinds.count(HistoryKind.incident_resolved) == 1
    assert kinds.count(HistoryKind.email_sent) == 1


async def test_incident_then_skip_continues_without_the_step(time_skipping_env: WorkflowEnvironment, sessions,
                                                             factory: Factory, task_queue: str) -> None:
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        handle, _ = await _incident_process(time_skipping_env, sessions, factory, task_queue, CLOSE)
        automatic = await refused(handle, ProcessWorkflow.complete_phase, CompletePhaseRequest())
        assert automatic.type == "InvalidPhaseState" and "completes by itself" in automatic.message
        await handle.execute_update(ProcessWorkflow.resolve_incident, ResolveIncidentRequest(action="skip"))
        state = await final_state(handle)
    assert state.status is ProcessStatus.completed
    assert [p.status for p in state.phases] == [PhaseStatus.done, PhaseStatus.done]
    assert [(a.kind, a.status) for a in state.phases[0].actions] == [("send_email", "skipped"),
                                                                     ("add_history", "done")]
    assert await outbox(sessions, handle.id) == []


async def test_incident_then_abort(time_skipping_env: WorkflowEnvironment, sessions, factory: Factory,
                                   task_queue: str) -> None:
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        handle, _ = await _incident_process(time_skipping_env, sessions, factory, task_queue, CLOSE)
        await handle.execute_update(ProcessWorkflow.abort, AbortRequest(reason="wrong lead"))
        state = await final_state(handle)
    assert (state.status, state.incident, state.end_reason) == (ProcessStatus.aborted, None, "wrong lead")
    assert [p.status for p in state.phases] == [PhaseStatus.skipped, PhaseStatus.pending]
    kinds = [e.kind for e in await history(sessions, handle.id)]
    assert kinds == [HistoryKind.process_started, HistoryKind.phase_started, HistoryKind.incident,
                     HistoryKind.process_aborted]


async def test_each_process_keeps_the_template_version_it_started_with(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    mail = {"body": "Hello"}
    v1 = template({"key": "wait", "name": "Wait", "start": {"after_days": 2},
                   "actions": [{"send_email": {"subject": "v1 hello", **mail}}]}, key="onboarding")
    v2 = template({"key": "greet", "name": "Greet", "actions": [{"send_email": {"subject": "v2 greet", **mail}}]},
                  {"key": "wrap", "name": "Wrap up", "actions": [{"send_email": {"subject": "v2 wrap", **mail}}]},
                  key="onboarding")
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        first = await start(client, task_queue, v1, record.id, owner.id, version=1)
        await until(first, lambda s: s.phases[0].status is PhaseStatus.waiting)
        second = await start(client, task_queue, v2, record.id, owner.id, version=2)
        results = [await first.result(), await second.result()]
    assert [(s.template_version, [p.key for p in s.phases]) for s in results] == [
        (1, ["wait"]), (2, ["greet", "wrap"])]
    assert [m.subject for m in await outbox(sessions, first.id)] == ["v1 hello"]
    assert [m.subject for m in await outbox(sessions, second.id)] == ["v2 greet", "v2 wrap"]


async def test_the_same_skip_sent_five_times_applies_once(time_skipping_env: WorkflowEnvironment, sessions,
                                                          factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(CALL, CLOSE), record.id, owner.id)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        states = await asyncio.gather(*(
            handle.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(reason="dup"), id="same-id")
            for _ in range(5)))
        assert all(s.phases[0].status is PhaseStatus.skipped for s in states)
        state = await final_state(handle)
    assert [p.status for p in state.phases] == [PhaseStatus.skipped, PhaseStatus.done]
    kinds = [e.kind for e in await history(sessions, handle.id)]
    assert kinds.count(HistoryKind.phase_skipped) == 1
    events = (await handle.fetch_history()).events
    assert sum(e.HasField("workflow_execution_update_accepted_event_attributes") for e in events) == 1


@pytest.mark.parametrize("action", ["retry", "skip"])
async def test_a_responsible_that_cannot_be_found_waits_for_staff(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        action: str) -> None:
    """The record has no owner to be responsible: an incident at "responsible", before the phase's action runs.
    Staff give the record an owner and retry (the phase is theirs), or skip the lookup (nobody's)."""
    owner, agent = await factory.user(), await factory.user(name="Luca Bianchi")
    record = await factory.record(owner=None)
    doc = template({"key": "call", "name": "Call the client", "responsible": "record_owner", "actions": [
        {"add_history": {"text": "Call {{ responsible.name if responsible else 'somebody' }}"}}]})
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        handle = await start(time_skipping_env.client, task_queue, doc, record.id, owner.id)
        state = await until(handle, lambda s: s.status is ProcessStatus.incident)
        assert state.incident is not None
        assert (state.incident.step, state.incident.error_type) == ("responsible", "ResponsibleNotFound")
        assert state.incident.message == (f"responsible of phase 'call': record {record.id} has no owner to be "
                                           "responsible")
        # nothing of the phase ran, and its start is not written yet: it waits for the responsible. (The status
        # turns to incident before the incident's line is written, by the step that parks the process.)
        async with asyncio.timeout(30):
            while len(entries := await history(sessions, handle.id)) < 2:
                await asyncio.sleep(0.02)
        assert [e.kind for e in entries] == [HistoryKind.process_started, HistoryKind.incident]
        if action == "retry":
            async with sessions() as session:
                stored = await session.get(Record, record.id)
                assert stored is not None
                stored.owner_id = agent.id
                session.add(stored)
                await session.commit()
        await handle.execute_update(ProcessWorkflow.resolve_incident, ResolveIncidentRequest(action=action))
        final = await final_state(handle)
    entries = await history(sessions, handle.id)
    assert [e.kind for e in entries] == [HistoryKind.process_started, HistoryKind.incident,
                                         HistoryKind.incident_resolved, HistoryKind.phase_started, HistoryKind.note,
                                         HistoryKind.phase_done, HistoryKind.process_ended]
    responsible = agent.id if action == "retry" else None
    assert final.status is ProcessStatus.completed and final.phases[0].responsible_id == responsible
    assert entries[3].data["responsible_id"] == responsible
    assert entries[4].text == ("Call Luca Bianchi" if action == "retry" else "Call somebody")
