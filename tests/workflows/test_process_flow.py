"""Follow-ups, decisions, merges and loops with continue-as-new (time-skipping server)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from crm import template_store
from crm.models import HistoryKind
from crm.process_runs import ProcessOrigin, ProcessRun, RunStatus
from processes.instance import (
    ChangeOwnerRequest,
    CompletePhaseRequest,
    PhaseStatus,
    ProcessInput,
    ProcessState,
    ProcessStatus,
    SkipPhaseRequest,
)
from processes.validation import validate_template
from tests.factories import Factory
from tests.workflows.helpers import final_state, history, outbox, running_worker, start, template, until
from workflows.client import start_process
from workflows.process import ProcessWorkflow


def key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def save(sessions: Any, document: dict[str, Any]) -> dict[str, Any]:
    async with sessions() as session:
        await template_store.save(session, validate_template(document), "test")
    return document


async def follow_ups_of(sessions: Any, parent: str) -> list[ProcessRun]:
    async with sessions() as session:
        query = select(ProcessRun).where(ProcessRun.parent_workflow_id == parent).order_by(col(ProcessRun.id))
        return list((await session.exec(query)).all())


async def terminate_if_running(client: Client, workflow_id: str) -> None:
    try:
        await client.get_workflow_handle(workflow_id).terminate("the test is over")
    except RPCError as error:  # it had ended
        if error.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise


async def finished(client: Client, workflow_id: str) -> ProcessState:
    return await final_state(client.get_workflow_handle_for(ProcessWorkflow.run, workflow_id))


EMAIL = {"send_email": {"subject": "{{ process.template }} for {{ record.title }}", "body": "Hello"}}


@pytest.mark.parametrize(("start_rule", "delay"), [({}, timedelta(0)), ({"after_hours": 5}, timedelta(hours=5)),
                                                   ({"after_days": 3}, timedelta(days=3))])
async def test_a_follow_up_starts_when_its_parent_ends_and_lives_on(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str,
        start_rule: dict[str, int], delay: timedelta) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    child_doc = await save(sessions, template({"key": "greet", "name": "Greet", "actions": [EMAIL]}, key=key("child")))
    parent_doc = template({"key": "plan", "name": "Plan", "actions": [
        {"start_follow_up": {"template": child_doc["key"], "start": start_rule}}]}, key=key("parent"))
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        parent = await start(client, task_queue, parent_doc, record.id, owner.id)
        parent_state = await parent.result()
        [run] = await follow_ups_of(sessions, parent.id)
        child = client.get_workflow_handle_for(ProcessWorkflow.run, run.workflow_id)
        child_state = await until(child, lambda s: s.parent_workflow_id == parent.id and (
            s.status is ProcessStatus.completed or bool(delay)))
        # the time-skipping server does not fire timers of abandoned children reliably: the child's own
        # history shows the start delay it waits for instead (once its "process started" line is written)
        async with asyncio.timeout(30):
            while not (timers := [e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
                                  for e in (await child.fetch_history()).events
                                  if e.HasField("timer_started_event_attributes")]) and delay:
                await asyncio.sleep(0.02)
    assert parent_state.status is ProcessStatus.completed
    assert [(f.template, f.status, f.workflow_id) for f in parent_state.follow_ups] == [
        (child_doc["key"], "started", run.workflow_id)]
    assert run.origin is ProcessOrigin.follow_up and run.workflow_id == f"process-{child_doc['key']}-{record.id}-1"
    assert child_state.lineage == [parent.id] and child_state.origin == "follow_up"
    assert timers == ([delay] if delay else [])
    if not delay:
        assert [m.subject for m in await outbox(sessions, run.workflow_id)] == [
            f"{child_doc['key']} for Flat in Via Roma 3"]
    assert HistoryKind.follow_up_started in [e.kind for e in await history(sessions, parent.id)]


async def test_a_follow_up_chain_three_deep_on_the_contact(time_skipping_env: WorkflowEnvironment, sessions,
                                                           factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    contact = await factory.record(owner=owner, kind="contact", title="Giulia Verdi")
    lead = await factory.record(owner=owner, contact_id=contact.id)
    third = await save(sessions, template({"key": "c", "name": "C", "actions": [EMAIL]},
                                          key=key("third"), record_kind="contact"))
    second = await save(sessions, template({"key": "b", "name": "B", "actions": [
        EMAIL, {"start_follow_up": {"template": third["key"]}}]}, key=key("second"), record_kind="contact"))
    first = template({"key": "a", "name": "A", "actions": [
        {"start_follow_up": {"template": second["key"], "record": "contact", "owner": "record_owner"}}]},
        key=key("first"))
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        root = await start(client, task_queue, first, lead.id, owner.id)
        await root.result()
        [b] = await follow_ups_of(sessions, root.id)
        await finished(client, b.workflow_id)
        [c] = await follow_ups_of(sessions, b.workflow_id)
        c_state = await finished(client, c.workflow_id)
    assert (b.record_id, c.record_id) == (contact.id, contact.id)
    assert c_state.lineage == [root.id, b.workflow_id] and c_state.status is ProcessStatus.completed
    assert [m.to_address for m in await outbox(sessions, c.workflow_id)] == ["client@example.org"]


async def test_an_aborted_process_starts_no_follow_up(time_skipping_env: WorkflowEnvironment, sessions,
                                                      factory: Factory, task_queue: str) -> None:
    from processes.instance import AbortRequest

    owner = await factory.user()
    record = await factory.record(owner=owner)
    child = await save(sessions, template({"key": "x", "name": "X"}, key=key("child")))
    doc = template({"key": "plan", "name": "Plan", "actions": [{"start_follow_up": {"template": child["key"]}}]},
                   {"key": "wait", "name": "Wait", "completion": "manual"}, key=key("parent"))
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, doc, record.id, owner.id)
        await until(handle, lambda s: s.phases[1].status is PhaseStatus.running)
        await handle.execute_update(ProcessWorkflow.abort, AbortRequest(reason="stop", actor="test"))
        state = await final_state(handle)
    assert [f.status for f in state.follow_ups] == ["dropped"]
    assert await follow_ups_of(sessions, handle.id) == []


async def test_a_follow_up_whose_start_fails_is_a_line_not_a_failed_process(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    """Temporal refuses the child's start (its id is taken: here by a workflow started outside Stagecoach, as
    after a database restored from a backup): the parent completes, its history says the follow-up did not
    start and why, and the follow-up's run is `not_started`, never a process that ends as Failed."""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    child = await save(sessions, template({"key": "x", "name": "Wait", "completion": "manual"}, key=key("child")))
    doc = template({"key": "plan", "name": "Plan", "actions": [{"start_follow_up": {"template": child["key"]}}]},
                   key=key("parent"))
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        squatter = await start_process(client, ProcessInput(
            template=validate_template(child), template_version=1, record_id=record.id, owner_id=owner.id,
            started_by="outside"), workflow_id=f"process-{child['key']}-{record.id}-1", task_queue=task_queue)
        handle = await start(client, task_queue, doc, record.id, owner.id)
        state = await final_state(handle)
        description = await handle.describe()
        await terminate_if_running(client, squatter.id)
    assert state.status is ProcessStatus.completed
    assert description.status is WorkflowExecutionStatus.COMPLETED
    [follow_up] = state.follow_ups
    assert (follow_up.status, follow_up.workflow_id) == ("failed", squatter.id)
    assert follow_up.error is not None and "already started" in follow_up.error.lower()
    lines = [e for e in await history(sessions, handle.id) if e.kind is HistoryKind.follow_up_failed]
    assert [e.text for e in lines] == [f"Follow-up '{child['key']}' not started: {follow_up.error}"]
    assert [r.status for r in await follow_ups_of(sessions, handle.id)] == [RunStatus.not_started]


def decision_template(**fields: Any) -> dict[str, Any]:
    return template(
        {"key": "ask", "name": "Ask", "completion": "manual"},
        {"key": "route", "name": "Route", "decision": [
            {"when": "record.fields.budget is defined and record.fields.budget > 100000", "goto": "premium"},
            {"when": "answers.interested == 'no'", "goto": "farewell"},
            {"when": "phases.ask.overdue", "goto": "apologise"}], "next": "standard"},
        {"key": "premium", "name": "Premium", "actions": [{"set_status": {"status": "Premium"}}], "next": "wrap"},
        {"key": "standard", "name": "Standard", "actions": [{"set_status": {"status": "Standard"}}],
         "next": "wrap"},
        {"key": "apologise", "name": "Apologise", "next": "wrap"},
        {"key": "farewell", "name": "Farewell", "actions": [{"end_process": {"reason": "not interested"}}]},
        {"key": "wrap", "name": "Wrap up (the branches merge here)"}, **fields)


@pytest.mark.parametrize(("fields", "answers", "wait", "taken"), [
    ({"budget": 250000}, {}, timedelta(0), ["premium", "wrap"]),
    ({}, {}, timedelta(0), ["standard", "wrap"]),
    ({}, {"interested": "no"}, timedelta(0), ["farewell"]),
])
async def test_a_decision_picks_the_branch_and_branches_merge(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str,
        fields: dict[str, Any], answers: dict[str, Any], wait: timedelta, taken: list[str]) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner, fields=fields)
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, decision_template(), record.id, owner.id)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest(answers=answers))
        state = await final_state(handle)
    ran = [p.key for p in state.phases if p.status is PhaseStatus.done and p.key not in ("ask", "route")]
    assert ran == taken and state.phases[1].went_to == taken[0]
    assert state.answers == answers
    texts = [e.text for e in await history(sessions, handle.id) if e.kind is HistoryKind.decision]
    chosen = "no condition held, go to" if taken[0] == "standard" else "go to"
    assert texts == [f"Decision in phase 'Route': {chosen} '{taken[0]}'"]


async def test_a_decision_after_a_phase_that_ends_with_its_last_step(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    """An automatic phase's last step writes "phase done"; its decision still picks what comes next"""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    doc = template({"key": "call", "name": "Call", "actions": [{"add_history": {"text": "called"}}],
                    "decision": [{"when": "true", "goto": "offer"}], "next": "thanks"},
                   {"key": "thanks", "name": "Thanks", "actions": [{"add_history": {"text": "not now"}}]},
                   {"key": "offer", "name": "Offer", "actions": [{"add_history": {"text": "offered"}}]})
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, doc, record.id, owner.id)
        state = await handle.result()
    assert [(p.key, p.status, p.went_to) for p in state.phases] == [
        ("call", PhaseStatus.done, "offer"), ("thanks", PhaseStatus.pending, None), ("offer", PhaseStatus.done, None)]
    assert [e.text for e in await history(sessions, handle.id) if e.kind is not HistoryKind.phase_started] == [
        "Process 'Follow up new lead' (version 1) started", "called", "Phase 'Call' done",
        "Decision in phase 'Call': go to 'offer'", "offered", "Phase 'Offer' done",
        "Process 'Follow up new lead' ended"]


async def test_a_decision_on_an_earlier_phase_outcome(time_skipping_env: WorkflowEnvironment, sessions,
                                                      factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    doc = decision_template()
    doc["phases"][0]["deadline_days"] = 1
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, doc, record.id, owner.id)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        await time_skipping_env.sleep(timedelta(days=2))
        await until(handle, lambda s: s.phases[0].overdue)
        await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest())
        state = await final_state(handle)
    assert state.phases[1].went_to == "apologise"


async def _start_with_history_limit(client: Client, task_queue: str, doc: dict[str, Any], record_id: int,
                                    owner_id: int, history_limit: int) -> Any:
    """A process that continues as new at the first phase boundary past `history_limit` events."""
    from processes.instance import ProcessInput
    from workflows.client import start_process

    parsed = validate_template(doc)
    return await start_process(client, ProcessInput(template=parsed, template_version=1, record_id=record_id,
                                                    owner_id=owner_id, history_limit=history_limit),
                               workflow_id=f"process-{parsed.key}-{record_id}-1", task_queue=task_queue)


async def test_looping_back_continues_as_new_and_keeps_everything(
        dev_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    # On the dev server: the time-skipping server can leave a query unanswered for good when it
    # arrives as the run continues as new (seen under load); this test waits on no timer anyway.
    owner = await factory.user()
    record = await factory.record(owner=owner)
    doc = template(
        {"key": "call", "name": "Call", "actions": [{"add_history": {"text": "call {{ phase.key }}"}}],
         "completion": "manual"},
        {"key": "check", "name": "Check", "decision": [{"when": "answers.reached != 'yes'", "goto": "call"}]},
        {"key": "done", "name": "Done", "actions": [{"add_history": {"text": "reached"}}]})
    client = dev_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await _start_with_history_limit(client, task_queue, doc, record.id, owner.id, 40)
        for attempt in range(6):
            await until(handle, lambda s, n=attempt: s.phases[0].iteration == n and s.phases[0].task_id is not None
                        and s.phases[0].status is PhaseStatus.running)
            answer = "yes" if attempt == 5 else "no"
            await handle.execute_update(ProcessWorkflow.complete_phase,
                                        CompletePhaseRequest(answers={"reached": answer, f"try{attempt}": True}))
        state = await final_state(handle)
    assert state.status is ProcessStatus.completed and state.runs > 1
    assert state.phases[0].iteration == 5 and state.answers["reached"] == "yes" and state.answers["try0"] is True
    notes = [e.text for e in await history(sessions, handle.id) if e.kind is HistoryKind.note]
    assert notes == ["call call"] * 6 + ["reached"]
    kinds = [e.kind for e in await history(sessions, handle.id)]
    assert kinds.count(HistoryKind.process_started) == 1 and kinds.count(HistoryKind.process_ended) == 1


async def test_a_request_retried_after_continue_as_new_is_answered_not_applied_again(
        dev_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    """A skip with an Idempotency-Key ends a phase and the process continues as new: the same skip sent
    again reaches a run the server has not told of it, and must not skip the next phase."""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    doc = template({"key": "call", "name": "Call", "completion": "manual"},
                   {"key": "visit", "name": "Visit", "completion": "manual"},
                   {"key": "done", "name": "Done", "actions": [{"add_history": {"text": "done"}}]})
    client = dev_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await _start_with_history_limit(client, task_queue, doc, record.id, owner.id, 5)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        skip = SkipPhaseRequest(reason="called already")
        first = await handle.execute_update(ProcessWorkflow.skip_phase, skip, id="skip-call-once")
        await until(handle, lambda s: s.runs == 2 and s.phases[1].task_id is not None)
        again = await handle.execute_update(ProcessWorkflow.skip_phase, skip, id="skip-call-once")
        other = await handle.execute_update(ProcessWorkflow.change_owner,
                                            ChangeOwnerRequest(owner_id=owner.id), id="same-owner")
        await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest(), id="complete-visit")
        state = await final_state(handle)
    assert first.phases[0].status is PhaseStatus.skipped and first.runs == 1
    assert again.runs == 2 and again.phases[1].status is PhaseStatus.running  # answered, nothing applied
    assert other.runs == 2  # a new ID in the new run is applied as usual
    assert [p.status for p in state.phases] == [PhaseStatus.skipped, PhaseStatus.done, PhaseStatus.done]
    kinds = [e.kind for e in await history(sessions, handle.id)]
    assert kinds.count(HistoryKind.phase_skipped) == 1
