"""A process phase that sends a client request with auto-move waits for the answers; the signal counts once, whenever
it comes; the request's reminders are durable timers (time-skipping server, real activities and database)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sqlmodel import col, select
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.deps import Deps
from activities.mailer import Mailer
from activities.registry import all_activities
from activities.send_client_request import SendClientRequestActivities, SendClientRequestInput
from activities.step import ActionResult
from crm.client_requests import store
from crm.client_requests.models import AutoMove, ClientRequest, ClientRequestSubmission, RequestStatus
from crm.client_requests.questions import RequestTemplate
from crm.models import HistoryKind, OutboxMessage
from crm.types import utcnow
from processes.instance import ClientRequestSubmitted, PhaseStatus, ProcessInput, ProcessStatus, SkipPhaseRequest
from processes.validation import validate_template
from settings import Settings
from tests.factories import Factory
from tests.polling import eventually
from tests.workflows.helpers import final_state, history, outbox, running_worker, start, template, until
from worker import RUNNER
from workflows.client import notify_dispatcher, request_workflow_id, start_process
from workflows.client_requests import ClientRequestWorkflow
from workflows.process import ProcessWorkflow
from workflows.registry import ALL_WORKFLOWS
from workflows.request_delivery import deliver

LATER = {"key": "later", "name": "Later", "actions": [{"add_history": {"text": "after the answers"}}]}


async def request_template(sessions: Any) -> str:
    key = f"docs-{uuid.uuid4().hex[:8]}"
    async with sessions() as session:
        await store.save_template(session, RequestTemplate.model_validate({
            "key": key, "language": "it", "title": "Documenti 730", "message": "Ci servono questi documenti.",
            "questions": [{"key": "iban", "type": "text", "label": "IBAN", "required": True}]}), "test")
    return key


def ask(key: str, **options: Any) -> dict[str, Any]:
    return {"key": "ask", "name": "Missing information",
            "actions": [{"send_client_request": {"template": key, **options}}]}


async def requests_of(sessions: Any, workflow_id: str) -> list[ClientRequest]:
    async with sessions() as session:
        return list((await session.exec(select(ClientRequest).where(
            ClientRequest.waiting_workflow_id == workflow_id).order_by(col(ClientRequest.id)))).all())


async def answer(sessions: Any, request_id: int) -> ClientRequestSubmission:
    """What the form's submission writes: the request submitted, with its outbox row (not delivered yet)."""
    async with sessions() as session:
        request = await session.get(ClientRequest, request_id)
        assert request is not None
        request.status, request.submitted_at, request.answers = RequestStatus.submitted, utcnow(), {"iban": "IT60"}
        session.add(request)
        submission = ClientRequestSubmission(request_id=request_id)
        session.add(submission)
        await session.commit()
        return submission


async def test_a_phase_waits_for_the_answers_and_reminds_the_client_until_they_come(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    """A phase that sent a request with auto-move waits; reminders go out on their days; the delivered answers
    complete the phase once, and stop the reminders."""
    client = time_skipping_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = await request_template(sessions)
    settings = Settings(temporal_task_queue=task_queue)
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(ask(key, reminders={"every_days": 2, "count": 3}), LATER),
                             record.id, owner.id)
        state = await until(handle, lambda s: bool(s.phases[0].waiting_requests))
        [request] = await requests_of(sessions, handle.id)
        assert state.phases[0].waiting_requests == [request.id]
        assert (request.auto_move, request.waiting_phase_key, request.record_id) == (AutoMove.on, "ask", record.id)
        [email] = await outbox(sessions, handle.id)
        assert email.to_address == "client@example.org" and email.subject == "Documenti 730"
        assert f"{settings.public_url}/r/" in email.body and request.token_hash not in email.body

        await time_skipping_env.sleep(timedelta(days=4, hours=12))  # two reminders are due

        async def sent() -> list[OutboxMessage]:  # the second one's step may still be finishing
            found = [m for m in await outbox(sessions, handle.id) if "/reminder/" in m.step_key]
            return found if len(found) >= 2 else []
        reminders = await eventually(sent, what="two reminders")
        assert [m.subject for m in reminders] == ["Promemoria: Documenti 730"] * 2
        assert all(email.body in m.body for m in reminders)  # the same link
        assert (await handle.query(ProcessWorkflow.current_state)).phases[0].status is PhaseStatus.running

        submission = await answer(sessions, request.id or 0)
        async with sessions() as session:
            await deliver(client, settings, session, submission)
            assert (await session.get(ClientRequestSubmission, submission.id)).delivered_at is not None
            # a second delivery (a sweep racing the form) counts for nothing, whether the process still runs or not
            await deliver(client, settings, session, submission)
        final = await final_state(handle)
        reminder = await client.get_workflow_handle_for(
            ClientRequestWorkflow.run, request_workflow_id(task_queue, request.id or 0)).result()
        await time_skipping_env.sleep(timedelta(days=10))  # no third reminder after the answers
        reminders_after = [m for m in await outbox(sessions, handle.id) if "/reminder/" in m.step_key]
    assert final.status is ProcessStatus.completed and final.phases[0].status is PhaseStatus.done
    assert reminder.reminders_sent == 2 and reminder.submitted is not None and reminder.outcome == "no auto-move"
    assert len(reminders_after) == 2
    lines = await history(sessions, handle.id)
    assert [e.text for e in lines if e.kind is HistoryKind.phase_done] == [
        "Phase 'Missing information' done: the client answered", "Phase 'Later' done"]
    assert [e.kind for e in lines].count(HistoryKind.client_request_sent) == 1


class AnswersFirst:
    """The real `send_client_request`, whose request is answered (twice) before the step even returns."""

    def __init__(self, deps: Deps, client: Client) -> None:
        self.real, self.client = SendClientRequestActivities(deps), client
        self.calls = 0

    @activity.defn(name="send_client_request")
    async def send_client_request(self, input: SendClientRequestInput) -> ActionResult:
        self.calls += 1
        result = await self.real.send_client_request(input)
        signal = ClientRequestSubmitted(request_id=result.data["client_request_id"], submitted_at=utcnow())
        handle = self.client.get_workflow_handle(input.step.workflow_id)
        for _ in range(2):
            await handle.signal("client_request_submitted", signal)
        if self.calls == 1:  # and the step is retried: the same request, no second email
            raise RuntimeError("the worker stopped before it reported the step")
        return result


@asynccontextmanager
async def worker_answering_first(client: Client, sessions: Any, task_queue: str) -> AsyncIterator[AnswersFirst]:
    config = Settings(temporal_task_queue=task_queue)
    deps = Deps(settings=config, sessions=sessions, mailer=Mailer(config), temporal=client)
    fake = AnswersFirst(deps, client)
    activities = [a for a in all_activities(deps)
                  if getattr(a, "__temporal_activity_definition").name != "send_client_request"]
    async with Worker(client, task_queue=task_queue, workflows=ALL_WORKFLOWS, workflow_runner=RUNNER,
                      activities=[*activities, fake.send_client_request]):
        yield fake


async def test_answers_that_come_before_the_phase_waits_count_once(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    """The answers arrive while the step that sent the request still runs, twice, and the step is retried: one
    request, one email, the phase done once; across continue-as-new (before every phase) nothing is lost."""
    client = time_skipping_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = await request_template(sessions)
    async with worker_answering_first(client, sessions, task_queue) as fake:
        parsed = validate_template(template(ask(key), LATER))
        handle = await start_process(client, ProcessInput(template=parsed, template_version=1, record_id=record.id,
                                                          owner_id=owner.id, history_limit=1),
                                     workflow_id=f"process-{parsed.key}-{record.id}", task_queue=task_queue)
        final = await final_state(handle)
    assert fake.calls == 2
    assert final.status is ProcessStatus.completed and final.runs >= 2
    assert len(await requests_of(sessions, handle.id)) == 1 and len(await outbox(sessions, handle.id)) == 1
    lines = await history(sessions, handle.id)
    assert [e.kind for e in lines].count(HistoryKind.phase_done) == 2


async def test_a_skip_ends_the_wait_and_cancels_the_request(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    client = time_skipping_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = await request_template(sessions)
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(ask(key), LATER), record.id, owner.id)
        await until(handle, lambda s: bool(s.phases[0].waiting_requests))
        await handle.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(phase="ask", actor="anna"))
        final = await final_state(handle)
    assert final.status is ProcessStatus.completed and final.phases[0].status is PhaseStatus.skipped
    [request] = await requests_of(sessions, handle.id)  # it had stayed pending (test_client_request_ends.py)
    assert request.status is RequestStatus.cancelled
    assert [e.text for e in await history(sessions, handle.id) if e.kind is HistoryKind.client_request_cancelled] == [
        "Client request cancelled: Documenti 730 (phase 'Missing information' skipped)"]


async def test_a_request_without_auto_move_does_not_hold_the_phase(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    client = time_skipping_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = await request_template(sessions)
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(ask(key, auto_move=False, to="other@example.org")),
                             record.id, owner.id)
        final = await final_state(handle)
    assert final.status is ProcessStatus.completed and final.phases[0].waiting_requests == []
    [email] = await outbox(sessions, handle.id)
    assert email.to_address == "other@example.org"
    async with sessions() as session:
        assert (await session.exec(select(OutboxMessage).where(OutboxMessage.step_key == email.step_key))).one()


async def test_answers_the_form_could_not_deliver_are_delivered_by_the_sweep(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    """The API stored the answers and died before delivering them: the record-events dispatcher's timer sweep
    delivers them, and the phase completes."""
    client = time_skipping_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = await request_template(sessions)
    async with running_worker(client, sessions, task_queue, record_events_sweep_seconds=60):
        handle = await start(client, task_queue, template(ask(key), LATER), record.id, owner.id)
        state = await until(handle, lambda s: bool(s.phases[0].waiting_requests))
        submission = await answer(sessions, state.phases[0].waiting_requests[0])
        await notify_dispatcher(client, Settings(temporal_task_queue=task_queue, record_events_sweep_seconds=60))
        await time_skipping_env.sleep(timedelta(minutes=3))
        final = await final_state(handle)
    assert final.status is ProcessStatus.completed and final.phases[0].status is PhaseStatus.done
    async with sessions() as session:
        delivered = await session.get(ClientRequestSubmission, submission.id, populate_existing=True)
    assert delivered is not None and delivered.delivered_at is not None and delivered.attempts == 1


async def test_the_deadline_counts_office_time_only(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    """A phase with a two-day deadline waits five days for the client: not overdue, no overdue notice; its
    deadline moves on by the time the client took."""
    client = time_skipping_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner)
    key = await request_template(sessions)
    waiting = {**ask(key), "deadline_days": 2, "completion": "manual"}
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(waiting, LATER), record.id, owner.id)
        started = await until(handle, lambda s: bool(s.phases[0].waiting_requests))
        first_deadline = started.phases[0].deadline_at
        await time_skipping_env.sleep(timedelta(days=5))
        assert not (await handle.query(ProcessWorkflow.current_state)).phases[0].overdue
        await handle.signal(ProcessWorkflow.client_request_submitted, ClientRequestSubmitted(
            request_id=started.phases[0].waiting_requests[0], submitted_at=utcnow()))
        final = await final_state(handle)
    assert final.status is ProcessStatus.completed and not final.phases[0].overdue
    assert first_deadline is not None and final.phases[0].deadline_at is not None
    assert final.phases[0].deadline_at - first_deadline >= timedelta(days=4, hours=23)
    assert not [m for m in await outbox(sessions, handle.id) if "overdue" in m.step_key]
