"""A client request a process phase waits for that ends unanswered (expired, cancelled): the process learns it from
the closure's outbox row (delivered at once or by the sweep), its deadline counts office time again, a history line
says so, its responsible gets a task (or the manual phase's task says so), and the phase waits for staff
(time-skipping server, real activities and database)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from activities.client_requests import ClientRequestActivities, DeliverSubmissionsInput
from activities.deps import Deps
from activities.mailer import Mailer
from crm.client_requests import closing
from crm.client_requests.models import ClientRequest, ClientRequestClosure, RequestStatus
from crm.models import HistoryKind, TaskKind, TaskStatus
from crm.types import utcnow
from processes.instance import (AbortRequest, CompletePhaseRequest, PhaseStatus, ProcessInput, ProcessState, ProcessStatus,
                                SkipPhaseRequest)
from processes.validation import validate_template
from settings import Settings
from tests.factories import Factory
from tests.polling import eventually
from tests.workflows.helpers import final_state, history, outbox, running_worker, start, tasks, template, until
from tests.workflows.test_client_requests import LATER, ask, request_template
from workflows import continuing
from workflows.client import notify_dispatcher
from workflows.process import ProcessWorkflow
from workflows.request_delivery import closures_stored


async def past_expiry(sessions: Any, request_id: int) -> None:
    """The request's expiry has passed (the database's clock, not the skipped workflow time, says when)."""
    async with sessions() as session:
        await session.exec(update(ClientRequest).where(  # type: ignore[call-overload]
            col(ClientRequest.id) == request_id).values(expires_at=utcnow() - timedelta(minutes=1)))
        await session.commit()


async def closures(sessions: Any, request_id: int) -> list[ClientRequestClosure]:
    async with sessions() as session:
        return list((await session.exec(select(ClientRequestClosure).where(
            ClientRequestClosure.request_id == request_id))).all())


async def test_an_expired_request_resumes_the_deadline_and_gives_the_responsible_a_task(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    """An automatic phase (two-day deadline) waits five days, then its request expires: the sweep marks it expired
    once and tells the process; the phase opens a task for its responsible and becomes overdue two office days
    later; completing the task completes the phase."""
    client = time_skipping_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = await request_template(sessions)
    config = Settings(temporal_task_queue=task_queue)
    sweep = ClientRequestActivities(Deps(settings=config, sessions=sessions, mailer=Mailer(config), temporal=client))
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template({**ask(key), "deadline_days": 2}, LATER), record.id,
                             owner.id)
        started = await until(handle, lambda s: bool(s.phases[0].waiting_requests))
        [request_id] = started.phases[0].waiting_requests
        await time_skipping_env.sleep(timedelta(days=5))
        assert not (await handle.query(ProcessWorkflow.current_state)).phases[0].overdue

        await past_expiry(sessions, request_id)
        swept = await sweep.deliver_submissions(DeliverSubmissionsInput())
        assert swept.expired >= 1  # (with whatever other tests left past its expiry in the database)
        state = await until(handle, lambda s: s.phases[0].task_id is not None)
        await sweep.deliver_submissions(DeliverSubmissionsInput())  # marks it no second time (one line, below)
        phase = state.phases[0]
        assert phase.status is PhaseStatus.running and phase.requests_closed == {request_id: "expired"}
        [task] = await tasks(sessions, handle.id)
        assert (task.kind, task.assignee_id, task.status) == (TaskKind.phase, owner.id, TaskStatus.open)
        assert task.title.endswith(f": client request #{request_id} unanswered"), task.title
        assert task.due_at is not None and phase.deadline_at is not None
        assert abs(task.due_at - phase.deadline_at) < timedelta(minutes=1)
        assert phase.deadline_at - started.phases[0].deadline_at >= timedelta(days=4, hours=23)  # paused 5 days

        await time_skipping_env.sleep(timedelta(days=2, hours=1))  # office time counts again
        assert (await handle.query(ProcessWorkflow.current_state)).phases[0].overdue
        await handle.execute_update(ProcessWorkflow.complete_phase,
                                    CompletePhaseRequest(phase="ask", task_id=task.id, actor="anna"))
        final = await final_state(handle)
        overdue = [m for m in await outbox(sessions, handle.id) if "overdue" in m.step_key]
    assert final.status is ProcessStatus.completed and final.phases[0].status is PhaseStatus.done
    assert len(overdue) == 1
    async with sessions() as session:
        request = await session.get(ClientRequest, request_id)
        assert request is not None and request.status is RequestStatus.expired
    [closure] = await closures(sessions, request_id)
    assert closure.outcome is RequestStatus.expired and closure.delivered_at is not None
    lines = await history(sessions, handle.id)
    kinds = [e.kind for e in lines]
    assert kinds.count(HistoryKind.client_request_expired) == 1 and kinds.count(HistoryKind.task_created) == 1
    [unanswered] = [e for e in lines if e.kind is HistoryKind.client_request_unanswered]
    assert unanswered.text == (f"Phase 'Missing information': client request #{request_id} expired: the client did "
                               "not answer; the phase waits for its responsible to complete or skip it")
    assert [e.text for e in lines if e.kind is HistoryKind.phase_done][0] == "Phase 'Missing information' done"
    [done] = await tasks(sessions, handle.id)
    assert done.status is TaskStatus.done and done.completed_by == "anna"


@pytest.mark.parametrize(("locale", "note"), [
    ("en", "Client request #{id} was cancelled: decide without the client's answers"),
    ("it", "La richiesta al cliente #{id} è stata annullata: decidere senza le risposte del cliente")])
async def test_a_cancelled_request_is_told_to_the_manual_phase_task(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str, locale: str,
        note: str) -> None:
    """Staff cancel the request a manual phase waits for: the process is told at once; the phase's task says so (in
    LOCALE's language) and is due when the resumed deadline falls; the phase still waits for its task."""
    client = time_skipping_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = await request_template(sessions)
    config = Settings(temporal_task_queue=task_queue)
    async with running_worker(client, sessions, task_queue, locale=locale):
        handle = await start(client, task_queue, template(
            {**ask(key), "deadline_days": 2, "completion": "manual"}, LATER), record.id, owner.id)
        started = await until(handle, lambda s: bool(s.phases[0].waiting_requests) and s.phases[0].task_id is not None)
        [request_id] = started.phases[0].waiting_requests
        await time_skipping_env.sleep(timedelta(days=3))
        async with sessions() as session:
            request = await session.get(ClientRequest, request_id)
            assert request is not None
            await closing.cancel(session, request, "anna", "en")
            await closures_stored(client, config, session, request_id)
        note = note.format(id=request_id)

        async def noted() -> list[Any]:
            return [t for t in await tasks(sessions, handle.id) if note in t.description]
        [task] = await eventually(noted, what="the note on the phase's task")
        state = await handle.query(ProcessWorkflow.current_state)
        assert task.id == state.phases[0].task_id and task.status is TaskStatus.open
        assert state.phases[0].requests_closed == {request_id: "cancelled"}
        assert task.due_at is not None and state.phases[0].deadline_at is not None
        assert abs(task.due_at - state.phases[0].deadline_at) < timedelta(minutes=1)
        assert state.phases[0].status is PhaseStatus.running
        await handle.execute_update(ProcessWorkflow.complete_phase,
                                    CompletePhaseRequest(phase="ask", task_id=task.id, actor="anna"))
        final = await final_state(handle)
    assert final.status is ProcessStatus.completed and not final.phases[0].overdue
    [closure] = await closures(sessions, request_id)
    assert closure.outcome is RequestStatus.cancelled and closure.delivered_at is not None
    kinds = [e.kind for e in await history(sessions, handle.id)]
    assert kinds.count(HistoryKind.client_request_cancelled) == 1
    assert kinds.count(HistoryKind.client_request_unanswered) == 1


async def test_an_end_not_delivered_at_once_is_delivered_by_the_sweep(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    """The API cancelled the request and stopped before telling the process: the record-events dispatcher's sweep
    delivers the closure; the phase gives its responsible a task, and a skip closes it."""
    client = time_skipping_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = await request_template(sessions)
    async with running_worker(client, sessions, task_queue, record_events_sweep_seconds=60):
        handle = await start(client, task_queue, template(ask(key), LATER), record.id, owner.id)
        started = await until(handle, lambda s: bool(s.phases[0].waiting_requests))
        [request_id] = started.phases[0].waiting_requests
        async with sessions() as session:
            request = await session.get(ClientRequest, request_id)
            assert request is not None
            await closing.cancel(session, request, "anna", "en")
        assert (await closures(sessions, request_id))[0].delivered_at is None
        await notify_dispatcher(client, Settings(temporal_task_queue=task_queue, record_events_sweep_seconds=60))
        await time_skipping_env.sleep(timedelta(minutes=3))
        state = await until(handle, lambda s: s.phases[0].task_id is not None)
        assert state.phases[0].requests_closed == {request_id: "cancelled"}
        await handle.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(phase="ask", actor="anna"))
        final = await final_state(handle)
    assert final.status is ProcessStatus.completed and final.phases[0].status is PhaseStatus.skipped
    [closure] = await closures(sessions, request_id)
    assert closure.delivered_at is not None and closure.attempts == 1
    [task] = await tasks(sessions, handle.id)
    assert task.status is TaskStatus.cancelled


def test_the_ends_of_requests_are_carried_into_the_next_run() -> None:
    """Continue-as-new carries the requests that ended unanswered, as it carries those answered."""
    parsed = validate_template(template(LATER))
    state = ProcessState(workflow_id="w", template_key=parsed.key, template_name=parsed.name, template_version=1,
                         record_id=1, owner_id=1, phases=[], started_at=utcnow())
    run: Any = SimpleNamespace(
        input=ProcessInput(template=parsed, template_version=1, record_id=1, owner_id=1), state=state, incidents=0,
        owner_changes=0, skip_requests={}, update_ids={}, requests_answered={}, signatures={},
        requests_closed={7: "expired", 8: "cancelled"})
    carried = continuing._carried(run, 0)  # type: ignore[arg-type]
    assert carried.resume is not None
    decoded = ProcessInput.model_validate_json(carried.model_dump_json())
    assert decoded.resume is not None and decoded.resume.requests_closed == {7: "expired", 8: "cancelled"}


async def test_a_skip_or_an_abort_cancels_the_request_the_phase_waits_for(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    """Staff skip the phase waiting for the client's answers, or abort the process: the request is cancelled (its
    link says it was withdrawn), a line says why, and no reminder goes out after. They had stayed pending, the client
    reminded every few days of a request nothing would read."""
    client = time_skipping_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = await request_template(sessions)
    asked = template(ask(key, reminders={"every_days": 2, "count": 3}), LATER)
    async with running_worker(client, sessions, task_queue):
        skipped = await start(client, task_queue, asked, record.id, owner.id)
        aborted = await start(client, task_queue, asked, record.id, owner.id)
        for handle in (skipped, aborted):
            await until(handle, lambda s: bool(s.phases[0].waiting_requests))
        await skipped.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(
            reason="documenti consegnati in ufficio", actor="anna"))
        await aborted.execute_update(ProcessWorkflow.abort, AbortRequest(reason="altro installatore", actor="anna"))
        assert (await final_state(skipped)).status is ProcessStatus.completed
        assert (await final_state(aborted)).status is ProcessStatus.aborted
        await time_skipping_env.sleep(timedelta(days=7))  # three reminders would have gone out
        sent = [m for h in (skipped, aborted) for m in await outbox(sessions, h.id) if "/reminder/" in m.step_key]
    assert sent == []
    for handle, why in ((skipped, "phase 'Missing information' skipped: documenti consegnati in ufficio"),
                        (aborted, "process aborted: altro installatore")):
        async with sessions() as session:
            [request] = (await session.exec(select(ClientRequest).where(
                ClientRequest.waiting_workflow_id == handle.id))).all()
        assert (request.status, request.closed_by) == (RequestStatus.cancelled, "anna")
        assert await closures(sessions, request.id or 0) == []  # the process cancelled it: nobody to tell
        lines = [e.text for e in await history(sessions, handle.id) if e.kind is HistoryKind.client_request_cancelled]
        assert lines == [f"Client request cancelled: Documenti 730 ({why})"], lines
