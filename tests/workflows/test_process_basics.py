"""ProcessWorkflow on the time-skipping server: offsets, deadlines, reminders, manual phases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from crm.models import HistoryKind, MessageStatus, TaskStatus
from processes.instance import CompletePhaseRequest, PhaseStatus, ProcessStatus
from processes.errors import TemplateInvalid
from processes.validation import validate_template
from tests.factories import Factory
from workflows.process import ProcessWorkflow
from tests.workflows.helpers import history, outbox, running_worker, start, tasks, template


async def test_automatic_phases_run_their_actions_in_order(time_skipping_env: WorkflowEnvironment, sessions,
                                                          factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    doc = template(
        {"key": "welcome", "name": "Welcome", "actions": [
            {"send_email": {"subject": "Welcome {{ record.title }}", "body": "Hello from {{ owner.name }}"}},
            {"write_values": {"values": {"stage": "welcomed"}}},
            {"set_status": {"status": "Contacted"}},
        ]},
        {"key": "later", "name": "Two days later", "start": {"after_days": 2}, "actions": [
            {"add_history": {"text": "Two days passed for {{ record.title }}"}},
        ]},
    )
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, doc, record.id, owner.id)
        state = await handle.result()
    assert state.status is ProcessStatus.completed
    assert [p.status for p in state.phases] == [PhaseStatus.done, PhaseStatus.done]
    assert state.phases[1].started_at - state.phases[0].finished_at >= timedelta(days=2)
    mails = await outbox(sessions, handle.id)
    assert [(m.to_address, m.subject, m.body, m.status) for m in mails] == [
        ("client@example.org", "Welcome Flat in Via Roma 3", "Hello from Maria Rossi", MessageStatus.held)]
    stored = await factory.get(type(record), record.id)
    assert stored.status == "Contacted" and stored.fields == {"stage": "welcomed"}
    kinds = [e.kind for e in await history(sessions, handle.id)]
    assert kinds == [HistoryKind.process_started, HistoryKind.phase_started, HistoryKind.email_sent,
                     HistoryKind.values_written, HistoryKind.status_changed, HistoryKind.phase_done,
                     HistoryKind.phase_started, HistoryKind.note, HistoryKind.phase_done, HistoryKind.process_ended]


async def test_a_phase_may_count_its_start_from_the_process_start(time_skipping_env: WorkflowEnvironment, sessions,
                                                                   factory: Factory, task_queue: str) -> None:
    """`since: process_start`: a phase already due when the phases before it end starts right away; a later one at
    its own time from the process's start, however long the phases before it took."""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    doc = template(
        {"key": "call", "name": "Call", "completion": "manual"},
        {"key": "due", "name": "Due on day 2", "start": {"after_days": 2, "since": "process_start"}},
        {"key": "later", "name": "Day 5", "start": {"after_days": 5, "since": "process_start"}},
    )
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, doc, record.id, owner.id)
        await time_skipping_env.sleep(timedelta(days=3))
        [task] = await tasks(sessions, handle.id)
        await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest(task_id=task.id, actor="x"))
        state = await handle.result()
    assert state.status is ProcessStatus.completed
    call, due, later = state.phases
    assert due.starts_at is None and due.started_at - call.finished_at < timedelta(minutes=1)
    assert later.starts_at == state.started_at + timedelta(days=5)
    assert timedelta() <= later.started_at - later.starts_at < timedelta(minutes=1)


def test_a_start_counted_from_the_process_start_needs_a_span() -> None:
    with pytest.raises(TemplateInvalid) as refused:
        validate_template(template({"key": "a", "name": "A", "start": {"since": "process_start"}}))
    assert [(e.path, e.message) for e in refused.value.details] == [
        ("phases[0].start", "since: process_start needs after_minutes, after_hours or after_days")]


async def test_manual_phase_waits_for_its_task_then_deadline_and_reminder_fire(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    agent = await factory.user(name="Luca Bianchi")
    record = await factory.record(owner=agent)
    doc = template(
        {"key": "call", "name": "Call the client", "completion": "manual", "responsible": "record_owner",
         "deadline_days": 4, "actions": [{"reminder": {"after_days": 1}}]},
        {"key": "close", "name": "Close", "actions": [{"end_process": {"reason": "done"}}]},
        {"key": "never", "name": "Never runs"},
    )
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, doc, record.id, owner.id)
        await time_skipping_env.sleep(timedelta(days=5))
        state = await handle.query(ProcessWorkflow.current_state)
        assert state.current_phase == "call" and state.phases[0].overdue
        assert state.phases[0].responsible_id == agent.id
        [task] = await tasks(sessions, handle.id)
        assert task.assignee_id == agent.id and task.status is TaskStatus.open
        await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest(task_id=task.id, actor="luca"))
        state = await handle.result()
    assert state.status is ProcessStatus.completed and state.end_reason == "done"
    assert [p.status for p in state.phases] == [PhaseStatus.done, PhaseStatus.done, PhaseStatus.pending]
    [task] = await tasks(sessions, handle.id)
    assert task.status is TaskStatus.done and task.completed_by == "luca"
    mails = await outbox(sessions, handle.id)
    assert sorted((m.to_address, m.subject) for m in mails) == sorted([
        (agent.email, "Reminder: Call the client"),
        ("controller@agency.example", "Overdue: Call the client (Follow up new lead)")])
