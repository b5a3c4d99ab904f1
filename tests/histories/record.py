"""Record the workflow histories that `tests/workflows/test_replay.py` replays.

    .venv/bin/python -m tests.histories.record            # record the scenarios that have no file yet
    .venv/bin/python -m tests.histories.record --force    # re-record every scenario

Each scenario runs a representative process on the time-skipping test server, with the real
activities on a temporary SQLite database, and saves its event history as `<scenario>.json`
here (workflow id `replay-<scenario>`). The saved files are what older workers wrote: keep
them when the workflow changes, and add new scenarios rather than re-recording old ones, or
the replay test can no longer catch a change that breaks processes already running. Before
re-recording a scenario whose history a `workflow.patched(...)` change affects, keep the old
file as `<scenario>.<tag>.json` (as `skip_and_abort.before-abort-patch.json`): the script
never touches those, and the replay test replays them too. `*.before-carry.json` are the
histories of the activity-per-line engine, before the `phase-steps-carry-bookkeeping` patch.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from starlette.responses import JSONResponse, Response
from temporalio.testing import WorkflowEnvironment

from crm.db import make_engine, make_sessionmaker
from crm.migrate import upgrade_database
from crm import pipeline_store, template_store
from crm.client_requests import store as request_store
from crm.client_requests.questions import RequestTemplate
from crm.models import Record
from crm.process_runs import ProcessOrigin, ProcessRun
from crm.record_events import add_record_events
from processes.instance import (
    AbortRequest,
    ChangeOwnerRequest,
    ClientRequestEnded,
    ClientRequestSubmitted,
    CompletePhaseRequest,
    PhaseStatus,
    ProcessInput,
    ProcessState,
    ProcessStatus,
    ResolveIncidentRequest,
    SignatureCompleted,
    SkipPhaseRequest,
    StageRef,
)
from processes.pipeline import Pipeline
from processes.validation import validate_template
from tests.channels.receivers import Received, Receiver
from tests.factories import Factory
from tests.serving import serving
from tests.time_skipping import start_test_server
from tests.workflows.helpers import final_state, running_worker, template, until
from workflows.process import ProcessWorkflow
from workflows.client import RecordEventsInput, start_process
from workflows import first_attempt
from workflows.record_events import RecordEventsWorkflow

HERE = Path(__file__).parent
TASK_QUEUE = "record-histories"
Handle = WorkflowHandle[ProcessWorkflow, ProcessState]


class Run:
    """What a scenario gets: the test server, the database and a way to start a process."""

    def __init__(self, env: WorkflowEnvironment, factory: Factory) -> None:
        self.env, self.factory = env, factory

    async def start(self, name: str, *phases: dict[str, Any], email: str | None = "client@example.org") -> Handle:
        owner = await self.factory.user()
        record = await self.factory.record(owner=owner, email=email)
        document = template(*phases, key=name.replace("_", "-"))
        input = ProcessInput(template=validate_template(document), template_version=1, record_id=record.id,
                             owner_id=owner.id, started_by="recorder")
        return await start_process(self.env.client, input, workflow_id=f"replay-{name}", task_queue=TASK_QUEUE)


async def automatic_emails(run: Run) -> Handle:
    handle = await run.start(
        "automatic_emails",
        {"key": "welcome", "name": "Welcome", "actions": [
            {"send_email": {"subject": "Welcome {{ record.title }}", "body": "Hello from {{ owner.name }}"}},
            {"write_values": {"values": {"stage": "welcomed"}}},
            {"set_status": {"status": "Contacted"}},
            {"create_task": {"title": "Check the reply", "due_days": 2}}]},
        {"key": "later", "name": "Two days later", "start": {"after_days": 2}, "actions": [
            {"add_history": {"text": "Two days passed"}},
            {"send_email": {"to": "process_owner", "subject": "Follow up", "body": "{{ record.title }}"}}]})
    await handle.result()
    return handle


async def manual_completed(run: Run) -> Handle:
    handle = await run.start(
        "manual_completed",
        {"key": "call", "name": "Call the client", "completion": "manual", "deadline_days": 4,
         "actions": [{"reminder": {"after_days": 1}}]},
        {"key": "close", "name": "Close", "actions": [{"end_process": {"reason": "called"}}]},
        {"key": "never", "name": "Never runs"})
    await run.env.sleep(timedelta(days=5))  # the reminder and the overdue notice fire
    successor = await run.factory.user(name="Luca Bianchi")
    await handle.execute_update(ProcessWorkflow.change_owner, ChangeOwnerRequest(owner_id=successor.id, actor="anna"))
    await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest(actor="luca"))
    await handle.result()
    return handle


async def skip_and_abort(run: Run) -> Handle:
    handle = await run.start(
        "skip_and_abort",
        {"key": "call", "name": "Call the client", "completion": "manual"},
        {"key": "wait", "name": "Wait", "start": {"after_days": 3}, "actions": [{"add_history": {"text": "waited"}}]},
        {"key": "close", "name": "Close", "actions": [{"add_history": {"text": "closed"}}]})
    await until(handle, lambda s: s.phases[0].task_id is not None)
    await handle.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(phase="close", reason="not needed"))
    await handle.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(reason="unreachable", actor="anna"))
    await until(handle, lambda s: s.phases[1].status is PhaseStatus.waiting)
    await handle.execute_update(ProcessWorkflow.abort, AbortRequest(reason="client withdrew", actor="anna"))
    await final_state(handle)  # aborted: it ends canceled in Temporal
    return handle


async def appointment_cancelled(run: Run) -> Handle:
    """Appointments cancelled with their phase skipped, then with the process aborted."""
    appointment = {"appointment": {"title": "Visit {{ record.title }}", "after_days": 1, "at": "10:00"}}
    handle = await run.start(
        "appointment_cancelled",
        {"key": "visit", "name": "Site visit", "completion": "manual", "actions": [appointment]},
        {"key": "again", "name": "Second visit", "completion": "manual", "actions": [appointment]})
    await until(handle, lambda s: s.phases[0].task_id is not None)
    await handle.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(reason="client away", actor="anna"))
    await until(handle, lambda s: s.phases[1].task_id is not None)
    await handle.execute_update(ProcessWorkflow.abort, AbortRequest(reason="client withdrew", actor="anna"))
    await final_state(handle)
    return handle


async def staff_signals(run: Run) -> Handle:
    """Staff requests as signals: a skip sent twice with one key, a refused skip, then an abort."""
    handle = await run.start(
        "staff_signals",
        {"key": "call", "name": "Call the client", "completion": "manual"},
        {"key": "wait", "name": "Wait for the documents", "completion": "manual"},
        {"key": "close", "name": "Close", "actions": [{"add_history": {"text": "closed"}}]})
    await until(handle, lambda s: s.phases[0].task_id is not None)
    for _ in range(2):
        await handle.signal("skip_phase", {"reason": "called already", "actor": "anna", "Idempotency-Key": "k1"})
    await until(handle, lambda s: s.phases[1].task_id is not None)
    await handle.signal("skip_phase", {"phase": "call"})  # already skipped: refused, written to the history
    await handle.signal("abort", {"reason": "client withdrew"})
    await final_state(handle)  # aborted: it ends canceled in Temporal
    return handle


async def signal_nul(run: Run) -> Handle:
    """A skip sent as a signal whose reason holds the NUL character (refused since `signal-texts-without-nul`; applied
    before it, so the completion of the same phase that follows was refused instead), then the next phase completed."""
    handle = await run.start(
        "signal_nul",
        {"key": "call", "name": "Call the client", "completion": "manual"},
        {"key": "wait", "name": "Wait for the documents", "completion": "manual"},
        {"key": "close", "name": "Close", "actions": [{"add_history": {"text": "closed"}}]})
    await until(handle, lambda s: s.phases[0].task_id is not None)
    await handle.signal("skip_phase", {"phase": "call", "reason": "a\x00b", "actor": "anna"})
    await handle.signal("complete_phase", {"phase": "call", "actor": "anna"})
    await until(handle, lambda s: s.phases[1].task_id is not None)
    await handle.signal("complete_phase", {"phase": "wait", "actor": "anna"})
    await final_state(handle)
    return handle


async def signal_large_answer(run: Run) -> Handle:
    """A phase completed by a signal whose answer is a whole number past 2**53 (refused since
    `signal-answers-exact-integers`; applied before it, so the completion that follows was refused instead)."""
    handle = await run.start(
        "signal_large_answer",
        {"key": "call", "name": "Call the client", "completion": "manual"},
        {"key": "close", "name": "Close", "actions": [{"add_history": {"text": "closed"}}]})
    await until(handle, lambda s: s.phases[0].task_id is not None)
    await handle.signal("complete_phase", {"phase": "call", "actor": "anna", "answers": {"units": 2**60}})
    await handle.signal("complete_phase", {"phase": "call", "actor": "anna", "answers": {"units": 12}})
    await final_state(handle)
    return handle


async def incident_retry(run: Run) -> Handle:
    handle = await run.start(
        "incident_retry",
        {"key": "welcome", "name": "Welcome", "actions": [
            {"send_email": {"subject": "Welcome", "body": "Hello {{ record.title }}"}},
            {"add_history": {"text": "Welcomed"}}]},
        {"key": "close", "name": "Close", "actions": [{"set_status": {"status": "Contacted"}}]},
        email=None)
    state = await until(handle, lambda s: s.status is ProcessStatus.incident)
    async with run.factory.sessions() as session:
        record = await session.get(Record, state.record_id)
        assert record is not None
        record.email = "found@example.org"
        session.add(record)
        await session.commit()
    await handle.execute_update(ProcessWorkflow.resolve_incident, ResolveIncidentRequest(action="retry"))
    await handle.result()
    return handle


async def responsible_missing(run: Run) -> Handle:
    """The record has no owner to be responsible: an incident at "responsible", which staff skip."""
    owner = await run.factory.user()
    record = await run.factory.record(owner=None)
    document = template({"key": "call", "name": "Call", "responsible": "record_owner", "deadline_days": 2,
                         "actions": [{"add_history": {"text": "called"}}]}, key="responsible-missing")
    input = ProcessInput(template=validate_template(document), template_version=1, record_id=record.id,
                         owner_id=owner.id, started_by="recorder")
    handle = await start_process(run.env.client, input, workflow_id="replay-responsible_missing",
                                 task_queue=TASK_QUEUE)
    await until(handle, lambda s: s.status is ProcessStatus.incident)
    await handle.execute_update(ProcessWorkflow.resolve_incident, ResolveIncidentRequest(action="skip"))
    await handle.result()
    return handle


async def decision_merge(run: Run) -> Handle:
    handle = await run.start(
        "decision_merge",
        {"key": "ask", "name": "Ask", "completion": "manual"},
        {"key": "route", "name": "Route", "decision": [{"when": "answers.interested == 'yes'", "goto": "offer"}],
         "next": "thanks"},
        {"key": "offer", "name": "Offer", "actions": [{"set_status": {"status": "Offer"}}], "next": "wrap"},
        {"key": "thanks", "name": "Thanks", "actions": [{"add_history": {"text": "not now"}}]},
        {"key": "wrap", "name": "Wrap up"})
    await until(handle, lambda s: s.phases[0].task_id is not None)
    await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest(answers={"interested": "yes"}))
    await handle.result()
    return handle


async def decision_after_step(run: Run) -> Handle:
    """An automatic phase whose last step writes "phase done", then its decision (the
    `decide-after-the-step-that-ended-the-phase` patch; before it, the decision was passed over)."""
    handle = await run.start(
        "decision_after_step",
        {"key": "call", "name": "Call", "actions": [{"add_history": {"text": "called"}}],
         "decision": [{"when": "true", "goto": "offer"}], "next": "thanks"},
        {"key": "thanks", "name": "Thanks", "actions": [{"add_history": {"text": "not now"}}]},
        {"key": "offer", "name": "Offer", "actions": [{"set_status": {"status": "Offer"}}]})
    await handle.result()
    return handle


async def follow_up(run: Run) -> Handle:
    child = template({"key": "greet", "name": "Greet", "actions": [{"add_history": {"text": "followed up"}}]},
                     key="follow-up-child")
    async with run.factory.sessions() as session:
        await template_store.save(session, validate_template(child), "recorder")
    handle = await run.start(
        "follow_up",
        {"key": "plan", "name": "Plan", "actions": [
            {"start_follow_up": {"template": "follow-up-child", "start": {"after_hours": 2}}}]})
    await handle.result()
    return handle


async def loop_continue_as_new(run: Run) -> Handle:
    owner = await run.factory.user()
    record = await run.factory.record(owner=owner)
    document = template(
        {"key": "call", "name": "Call", "completion": "manual", "actions": [{"add_history": {"text": "call"}}]},
        {"key": "check", "name": "Check", "decision": [{"when": "answers.reached != 'yes'", "goto": "call"}]},
        key="loop-continue-as-new")
    input = ProcessInput(template=validate_template(document), template_version=1, record_id=record.id,
                         owner_id=owner.id, started_by="recorder", history_limit=40)
    handle = await start_process(run.env.client, input, workflow_id="replay-loop_continue_as_new",
                                 task_queue=TASK_QUEUE)
    for attempt in range(3):
        await until(handle, lambda s, n=attempt: s.phases[0].iteration == n and s.phases[0].task_id is not None
                    and s.phases[0].status is PhaseStatus.running)
        await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest(
            answers={"reached": "yes" if attempt == 2 else "no"}))
    await handle.result()
    return handle  # its run_id is the first run: the history saved ends with the continue-as-new


async def loop_guard_cancelled(run: Run) -> Handle:
    owner = await run.factory.user()
    record = await run.factory.record(owner=owner)
    document = template({"key": "again", "name": "Again"}, key="loop-guard")
    async with run.factory.sessions() as session:
        for n in range(1, 12):
            session.add(ProcessRun(workflow_id=f"replay-loop_guard_cancelled{'' if n == 11 else f'-{n}'}",
                                   template_key="loop-guard", template_version=1, record_id=record.id, sequence=n,
                                   owner_id=owner.id, origin=ProcessOrigin.follow_up))
        await session.commit()
    input = ProcessInput(template=validate_template(document), template_version=1, record_id=record.id,
                         owner_id=owner.id, started_by="recorder", origin="follow_up")
    handle = await start_process(run.env.client, input, workflow_id="replay-loop_guard_cancelled",
                                 task_queue=TASK_QUEUE)
    await final_state(handle)  # cancelled by the loop guard: it ends canceled in Temporal
    return handle


async def record_events_dispatch(run: Run) -> WorkflowHandle[RecordEventsWorkflow, None]:
    """The dispatcher: two records created, two signals, two processes autostarted, then continue-as-new."""
    document = template({"key": "welcome", "name": "Welcome", "actions": [{"add_history": {"text": "welcome"}}]},
                        key="welcome-new-lead", autostart=[{"on": "record_created"}])
    async with run.factory.sessions() as session:
        await template_store.save(session, validate_template(document), "recorder")
    handle = None
    for n in range(2):
        async with run.factory.sessions() as session:
            record = Record(kind="lead", title=f"Lead {n}", owner_id=(await run.factory.user()).id)
            session.add(record)
            await session.flush()
            add_record_events(session, None, record, actor="recorder", actor_user_id=None)
            await session.commit()
        started = await run.env.client.start_workflow(
            RecordEventsWorkflow.run, RecordEventsInput(sweep_seconds=3600, rounds_per_run=2),
            id="replay-record_events_dispatch", task_queue=TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, start_signal="events_recorded")
        if handle is None:  # the first run, which ends with the continue-as-new
            handle = run.env.client.get_workflow_handle_for(RecordEventsWorkflow.run, started.id,
                                                            run_id=started.result_run_id)
        async with asyncio.timeout(30):
            while len(await _runs_of(run, "welcome-new-lead")) <= n:
                await asyncio.sleep(0.05)
    assert handle is not None
    async with asyncio.timeout(30):  # the first run's history ends with its continue-as-new
        while (await handle.fetch_history()).events[-1].event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            await asyncio.sleep(0.05)
    await run.env.client.get_workflow_handle(handle.id).terminate("recorded")
    return handle


async def _runs_of(run: Run, template_key: str) -> list[ProcessRun]:
    async with run.factory.sessions() as session:
        return list((await session.exec(select(ProcessRun).where(ProcessRun.template_key == template_key))).all())


async def stage_automations(run: Run) -> Handle:
    """A status's automations as a process (processes/stage_templates.py): a role assigned, users notified, a
    substate opened and closed, a scheduled phase after minutes; then aborted as the record leaves the status."""
    async with run.factory.sessions() as session:
        await pipeline_store.save(session, Pipeline.model_validate({
            "key": "replay", "name": "Replay", "record_kind": "lead", "controller_email": "controller@agency.example",
            "statuses": [{"name": "New", "substates": [{"name": "Documents pending"}]}, {"name": "Contacted"}],
            "types": [{"name": "Replay lead"}]}), "recorder")
    owner = await run.factory.user(role="agent")
    record = await run.factory.record(owner=owner, type="Replay lead", status="New")
    document = template(
        {"key": "entered", "name": "Entered New", "actions": [
            {"assign": {"role": "agent", "strategy": "least_loaded"}},
            {"notify": {"roles": ["agent"], "message": "{{ record.title }} is new."}},
            {"open_substate": {"substate": "Documents pending"}},
            {"close_substate": {"substate": "Documents pending"}}]},
        {"key": "after-1", "name": "30 minutes in New", "start": {"after_minutes": 30},
         "actions": [{"add_history": {"text": "half an hour in New"}}]},
        {"key": "after-2", "name": "2 days in New", "start": {"after_days": 2},
         "actions": [{"add_history": {"text": "two days in New"}}]}, key="stage-replay")
    input = ProcessInput(template=validate_template(document), template_version=1, record_id=record.id,
                         owner_id=owner.id, started_by="pipeline replay", origin="autostart",
                         stage=StageRef(pipeline="replay", status="New"))
    handle = await start_process(run.env.client, input, workflow_id="replay-stage_automations",
                                 task_queue=TASK_QUEUE)
    await run.env.sleep(timedelta(hours=1))
    await until(handle, lambda s: s.phases[2].status is PhaseStatus.waiting)
    await handle.execute_update(ProcessWorkflow.abort, AbortRequest(reason=f"record {record.id} left 'New'",
                                                                    actor="pipeline replay"))
    await final_state(handle)
    return handle


async def _request_template(run: Run) -> None:
    async with run.factory.sessions() as session:  # the same content again saves nothing
        await request_store.save_template(session, RequestTemplate.model_validate({
            "key": "replay-documents", "language": "it", "title": "Documenti", "questions": [
                {"key": "iban", "type": "text", "label": "IBAN", "required": True}]}), "recorder")


async def client_request_answered(run: Run) -> Handle:
    """A phase that sent a client request with auto-move waits for the answers; they come twice (one counts)."""
    await _request_template(run)
    handle = await run.start(
        "client_request_answered",
        {"key": "ask", "name": "Missing information", "actions": [
            {"send_client_request": {"template": "replay-documents"}}]},
        {"key": "later", "name": "Later", "actions": [{"add_history": {"text": "answered"}}]})
    state = await until(handle, lambda s: bool(s.phases[0].waiting_requests))
    await run.env.sleep(timedelta(days=1))
    for _ in range(2):
        await handle.signal(ProcessWorkflow.client_request_submitted, ClientRequestSubmitted(
            request_id=state.phases[0].waiting_requests[0], submitted_at=datetime(2026, 3, 2, tzinfo=UTC)))
    await handle.result()
    return handle


async def client_request_office_time(run: Run) -> Handle:
    """A manual phase with a deadline waits five days for the client's answers: its deadline pauses meanwhile."""
    await _request_template(run)
    handle = await run.start("client_request_office_time", {
        "key": "ask", "name": "Missing information", "completion": "manual", "deadline_days": 2,
        "actions": [{"send_client_request": {"template": "replay-documents"}}]})
    state = await until(handle, lambda s: bool(s.phases[0].waiting_requests))
    await run.env.sleep(timedelta(days=5))
    await handle.signal(ProcessWorkflow.client_request_submitted, ClientRequestSubmitted(
        request_id=state.phases[0].waiting_requests[0], submitted_at=datetime(2026, 3, 6, tzinfo=UTC)))
    await handle.result()
    return handle


async def client_request_closed(run: Run) -> Handle:
    """An automatic phase with a deadline waits for the client's answers; the request expires unanswered (told twice,
    one counts): the deadline goes on, the responsible gets a task, and completing it completes the phase."""
    await _request_template(run)
    handle = await run.start(
        "client_request_closed",
        {"key": "ask", "name": "Missing information", "deadline_days": 2, "actions": [
            {"send_client_request": {"template": "replay-documents"}}]},
        {"key": "later", "name": "Later", "actions": [{"add_history": {"text": "decided"}}]})
    state = await until(handle, lambda s: bool(s.phases[0].waiting_requests))
    await run.env.sleep(timedelta(days=3))
    for _ in range(2):
        await handle.signal(ProcessWorkflow.client_request_closed, ClientRequestEnded(
            request_id=state.phases[0].waiting_requests[0], outcome="expired", at=datetime(2026, 3, 4, tzinfo=UTC)))
    state = await until(handle, lambda s: s.phases[0].task_id is not None)
    await run.env.sleep(timedelta(days=1))
    await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest(
        phase="ask", task_id=state.phases[0].task_id, actor="recorder"))
    await handle.result()
    return handle


async def client_request_skipped(run: Run) -> Handle:
    """Staff skip a phase waiting for the client's answers: its request is cancelled (since
    `client-requests-cancelled-with-their-phase`; it stayed pending before), and the process goes on."""
    await _request_template(run)
    handle = await run.start(
        "client_request_skipped",
        {"key": "ask", "name": "Missing information", "actions": [
            {"send_client_request": {"template": "replay-documents"}}]},
        {"key": "later", "name": "Later", "actions": [{"add_history": {"text": "went on"}}]})
    await until(handle, lambda s: bool(s.phases[0].waiting_requests))
    await handle.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(reason="documents brought in",
                                                                             actor="recorder"))
    await handle.result()
    return handle


async def _signature(run: Run, scenario: str) -> tuple[Handle, int]:
    """A phase that sends a report for signature (expiring in 3 days) and waits; its decision reads the outcome."""
    handle = await run.start(
        scenario,
        {"key": "offer", "name": "Offer", "actions": [
            {"report": {"name": "Offerta", "html": "<p>Offerta per {{ record.title }}</p>"}},
            {"request_signature": {"document": "Offerta", "expires_days": 3}}],
         "decision": [{"when": "phases.offer.signature != 'signed'", "goto": "lost"}]},
        {"key": "won", "name": "Won", "actions": [{"end_process": {}}]},
        {"key": "lost", "name": "Lost", "actions": [{"add_history": {"text": "not signed"}}]})
    state = await until(handle, lambda s: bool(s.phases[0].waiting_signatures))
    return handle, state.phases[0].waiting_signatures[0]


async def signature_declined(run: Run) -> Handle:
    """The outcome comes twice (one counts): declined, and the decision follows it."""
    handle, signature_id = await _signature(run, "signature_declined")
    await run.env.sleep(timedelta(days=1))
    outcome = SignatureCompleted(signature_id=signature_id, outcome="declined", at=datetime(2026, 3, 2, tzinfo=UTC))
    # at once: one after the other, the second can find the process already ended by the first
    await asyncio.gather(*(handle.signal(ProcessWorkflow.signature_completed, outcome) for _ in range(2)))
    await handle.result()
    return handle


async def signature_expired(run: Run) -> Handle:
    """No outcome comes: the request expires (marked so by a step), and the decision follows it."""
    handle, _ = await _signature(run, "signature_expired")
    await handle.result()
    return handle


async def signature_cancelled(run: Run) -> Handle:
    """A phase with a two-day deadline waits four days for its signer (the deadline pauses meanwhile), then staff
    skip it: the open request is cancelled."""
    handle = await run.start(
        "signature_cancelled",
        {"key": "offer", "name": "Offer", "deadline_days": 2, "actions": [
            {"report": {"name": "Offerta", "html": "<p>Offerta per {{ record.title }}</p>"}},
            {"request_signature": {"document": "Offerta", "expires_days": 10}}]},
        {"key": "later", "name": "Later", "actions": [{"add_history": {"text": "offer withdrawn"}}]})
    await until(handle, lambda s: bool(s.phases[0].waiting_signatures))
    await run.env.sleep(timedelta(days=4))
    await handle.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(reason="price changed", actor="anna"))
    await handle.result()
    return handle


async def signature_ended(run: Run) -> Handle:
    """A phase sends a report for signature and ends the process (`end_process`): the open request is cancelled."""
    handle = await run.start(
        "signature_ended",
        {"key": "offer", "name": "Offer", "actions": [
            {"report": {"name": "Offerta", "html": "<p>Offerta per {{ record.title }}</p>"}},
            {"request_signature": {"document": "Offerta", "expires_days": 10}},
            {"end_process": {"reason": "offer sent"}}]},
        {"key": "later", "name": "Later", "actions": [{"add_history": {"text": "never reached"}}]})
    await handle.result()
    return handle


CUT_OFF = timedelta(seconds=2)  # the local attempt's limit in `local_attempt_retried`


async def _slow_then_ok(received: Received, n: int) -> Response:
    if n == 1:  # longer than the local attempt may take
        await asyncio.sleep(CUT_OFF.total_seconds() + 1)
    return JSONResponse({"ok": True})


async def _busy_then_ok(received: Received, n: int) -> Response:
    return JSONResponse({"busy": True}, status_code=503) if n == 1 else JSONResponse({"ok": True})


async def local_attempt_retried(run: Run) -> Handle:
    """Steps whose local first attempt times out (an endpoint slower than a limit set for this scenario) or fails (a
    503), each then retried as a regular activity."""
    RECEIVER.answers.update({"/slow": _slow_then_ok, "/busy": _busy_then_ok})
    first_attempt.LOCAL_LIMIT = CUT_OFF
    try:
        handle = await run.start(
            "local_attempt_retried",
            {"key": "slow", "name": "Slow endpoint", "actions": [{"webhook": {"endpoint": "slow"}}]},
            {"key": "busy", "name": "Busy endpoint", "actions": [{"webhook": {"endpoint": "busy"}}]})
        await handle.result()
    finally:
        first_attempt.LOCAL_LIMIT = None
    return handle


RECEIVER = Receiver()  # the webhooks' endpoints, served while recording

SCENARIOS: dict[str, Callable[[Run], Awaitable[WorkflowHandle[Any, Any]]]] = {
    f.__name__: f for f in (automatic_emails, manual_completed, skip_and_abort, incident_retry, decision_merge,
                            decision_after_step,
                            follow_up, loop_continue_as_new, loop_guard_cancelled, record_events_dispatch,
                            responsible_missing, staff_signals, signal_large_answer, appointment_cancelled, stage_automations,
                            client_request_answered, client_request_office_time, signature_declined,
                            signature_expired, client_request_closed, client_request_skipped, signature_cancelled, signature_ended,
                            signal_nul, local_attempt_retried)}


async def record(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/stagecoach.db"
        upgrade_database(url)
        engine = make_engine(url)
        env = await start_test_server()
        try:
            client: Client = env.client
            run = Run(env, Factory(make_sessionmaker(engine)))
            endpoints = {name: {"url": RECEIVER.url(f"/{name}"), "secret": "whsec_" + "A" * 32} for name in ("slow", "busy")}
            async with serving(RECEIVER.app(), RECEIVER.port), \
                    running_worker(client, run.factory.sessions, TASK_QUEUE, documents_dir=Path(tmp) / "documents",
                                   outbound_allowed_hosts=["127.0.0.1"], webhook_endpoints=endpoints):
                for name in names:
                    handle = await SCENARIOS[name](run)
                    history = await handle.fetch_history()
                    (HERE / f"{name}.json").write_text(history.to_json() + "\n")
                    print(f"{name}.json: {len(history.events)} events")
        finally:
            await env.shutdown()
            await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", help=f"some of {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--force", action="store_true", help="overwrite histories already saved")
    args = parser.parse_args()
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; scenarios are {', '.join(SCENARIOS)}")
    names = args.scenarios or list(SCENARIOS)
    if not args.force:
        names = [n for n in names if not (HERE / f"{n}.json").exists()]
    if not names:
        print("every history is already saved (use --force to re-record)")
        return
    asyncio.run(record(names))


if __name__ == "__main__":
    main()
