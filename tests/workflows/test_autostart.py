"""Autostart: record events, their dispatch (exactly once per event and template), the dispatcher workflow.

Time-skipping server, real activities on the test databases. Every template here filters
on a record type of its own, so events of other tests' records never start it.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio import activity
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.autostart import AutostartActivities, DispatchInput, DispatchResult
from activities.deps import Deps
from activities.mailer import Mailer
from activities.record_values import RecordValuesActivities, SetStatusInput, WriteValuesInput
from activities.step import StepInput
from crm import template_store
from crm.models import HistoryEntry, HistoryKind, Record, RecordEvent, RecordEventKind, User
from crm.process_runs import ProcessOrigin, ProcessRun, allocate_run
from crm.record_events import add_record_events, changed_fields, snapshot
from crm.types import utcnow
from processes.instance import ProcessState, ProcessStatus
from processes.action_kinds import SetStatus, WriteValues
from processes.validation import validate_template
from settings import Settings
from tests.factories import Factory
from tests.polling import eventually
from tests.workflows.helpers import running_worker, start, template
from worker import RUNNER
from workflows.process import ProcessWorkflow
from workflows.client import RecordEventsInput, dispatcher_id, notify_dispatcher
from workflows.record_events import RecordEventsWorkflow

Sessions = async_sessionmaker[AsyncSession]
NOTE = {"key": "note", "name": "Note", "actions": [{"add_history": {"text": "started by itself"}}]}


def record_type() -> str:
    return f"type-{uuid.uuid4().hex[:8]}"


async def save_template(sessions: Sessions, *triggers: dict[str, Any], phases: list[dict[str, Any]] | None = None,
                        key: str | None = None) -> str:
    document = template(*(phases or [NOTE]), key=key, autostart=list(triggers))
    async with sessions() as session:
        row, _ = await template_store.save(session, validate_template(document), "test")
    return row.key


async def record_event(sessions: Sessions, record: Record, *, status: str | None = None,
                       fields: dict[str, Any] | None = None, created: bool = False,
                       actor_user_id: int | None = None) -> list[RecordEvent]:
    """Change a record as the API does (the change and its events in one transaction), without signalling."""
    async with sessions() as session:
        row = await session.get(Record, record.id)
        assert row is not None
        before = None if created else snapshot(row)
        if status is not None:
            row.status = status
        if fields is not None:
            row.fields = {**row.fields, **fields}
        session.add(row)
        events = add_record_events(session, before, row, actor="test", actor_user_id=actor_user_id)
        await session.commit()
        return events


def deps_for(client: Client, sessions: Sessions, task_queue: str) -> Deps:
    config = Settings(temporal_task_queue=task_queue)
    return Deps(settings=config, sessions=sessions, mailer=Mailer(config), temporal=client)


async def dispatch(client: Client, sessions: Sessions, task_queue: str) -> DispatchResult:
    """Run the dispatch activity until no undispatched event is left (other tests' events included)."""
    activities = AutostartActivities(deps_for(client, sessions, task_queue))
    total = DispatchResult()
    while True:
        result = await ActivityEnvironment().run(activities.dispatch_record_events, DispatchInput())
        total.events += result.events
        total.started += result.started
        total.skipped += result.skipped
        if not result.more:
            return total


async def runs(sessions: Sessions, record_id: int) -> list[ProcessRun]:
    async with sessions() as session:
        query = select(ProcessRun).where(ProcessRun.record_id == record_id).order_by(col(ProcessRun.id))
        return list((await session.exec(query)).all())


async def events_of(sessions: Sessions, record_id: int) -> list[RecordEvent]:
    async with sessions() as session:
        query = select(RecordEvent).where(RecordEvent.record_id == record_id).order_by(col(RecordEvent.id))
        return list((await session.exec(query)).all())


async def finished(client: Client, workflow_ids: list[str], timeout: float = 10.0) -> list[ProcessState]:
    """Wait for the processes to end (each runs one automatic phase). A run's row is committed before its workflow
    is started (`crm/process_runs.py`), so a workflow Temporal does not have yet is asked for again."""
    async def result(workflow_id: str) -> ProcessState | None:
        try:
            return await client.get_workflow_handle_for(ProcessWorkflow.run, workflow_id).result()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            return None

    async with asyncio.timeout(timeout):  # for them all, results included
        states = [await eventually(lambda w=workflow_id: result(w), timeout=timeout, what=f"{workflow_id} in Temporal")
                  for workflow_id in workflow_ids]
    assert all(state.status is ProcessStatus.completed for state in states)
    return states


async def started_lines(sessions: Sessions, workflow_id: str) -> int:
    async with sessions() as session:
        query = select(HistoryEntry).where(HistoryEntry.workflow_id == workflow_id,
                                           HistoryEntry.kind == HistoryKind.process_started)
        return len((await session.exec(query)).all())


async def undispatch(sessions: Sessions, event_id: int | None) -> None:
    """As if the dispatch that started the event's processes had stopped before marking it."""
    async with sessions() as session:
        await session.exec(update(RecordEvent).where(col(RecordEvent.id) == event_id)  # type: ignore[call-overload]
                           .values(dispatched_at=None))
        await session.commit()


async def until_runs(sessions: Sessions, record_id: int, count: int, timeout: float = 10.0) -> list[ProcessRun]:
    async with asyncio.timeout(timeout):
        while len(found := await runs(sessions, record_id)) < count:
            await asyncio.sleep(0.05)
    return found


def step(record: Record, owner: User, key: str) -> StepInput:
    now = utcnow()
    return StepInput(step_key=f"process-{key}-{record.id}-1/call/0/0", workflow_id=f"process-{key}-{record.id}-1",
                     record_id=record.id, owner_id=owner.id, template_key=key, template_name="Test",
                     template_version=1, controller_email="controller@agency.example", process_started_at=now,
                     phase_key="call", phase_name="Call", phase_started_at=now)


# --- detecting events ------------------------------------------------------------------

def test_changed_fields_are_the_added_changed_and_removed_ones() -> None:
    assert changed_fields({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 20, "d": 4}) == ["b", "c", "d"]
    assert changed_fields({"a": None}, {}) == ["a"]  # a field set to null, then removed
    assert changed_fields({"a": [1]}, {"a": [1]}) == []


async def test_a_created_record_has_one_created_event(sessions: Sessions, factory: Factory) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner, status="Won", fields={"budget": 1})
    [event] = await record_event(sessions, record, created=True, actor_user_id=owner.id)
    assert (event.kind, event.status, event.fields, event.actor_user_id, event.step_key) == (
        RecordEventKind.created, "Won", [], owner.id, None)  # the status it starts in (its stage's automations)


async def test_a_change_has_a_status_event_and_a_field_event_only_for_what_changed(
        sessions: Sessions, factory: Factory) -> None:
    record = await factory.record(status="New", fields={"budget": 1, "rooms": 3, "old": "x"})
    status, fields = await record_event(sessions, record, status="Won", fields={"budget": 2, "rooms": 3, "new": 1})
    assert (status.kind, status.status) == (RecordEventKind.status_changed, "Won")
    assert (fields.kind, fields.fields) == (RecordEventKind.field_changed, ["budget", "new"])
    assert await record_event(sessions, record, status="Won", fields={"budget": 2}) == []  # a retried PATCH
    [only_fields] = await record_event(sessions, record, fields={"rooms": 4})
    assert only_fields.kind is RecordEventKind.field_changed and only_fields.fields == ["rooms"]
    assert len(await events_of(sessions, record.id)) == 3


async def test_a_retried_set_status_or_write_values_adds_its_event_once(
        sessions: Sessions, factory: Factory) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner, fields={"stage": "new"})
    config = Settings()
    activities = RecordValuesActivities(Deps(settings=config, sessions=sessions, mailer=Mailer(config)))
    status_input = SetStatusInput(step=step(record, owner, "a"), action=SetStatus(status="Qualified"))
    values_input = WriteValuesInput(step=step(record, owner, "b"), action=WriteValues(values={"stage": "called",
                                                                                              "same": "x"}))
    for _ in range(2):  # the second run is the retry of the first
        await ActivityEnvironment().run(activities.set_status, status_input)
        await ActivityEnvironment().run(activities.write_values, values_input)
    events = await events_of(sessions, record.id)
    assert [(e.kind, e.status, e.fields, e.actor, e.actor_user_id, e.step_key) for e in events] == [
        (RecordEventKind.status_changed, "Qualified", [], "process a", owner.id,
         f"{status_input.step.step_key}/status_changed"),
        (RecordEventKind.field_changed, None, ["same", "stage"], "process b", owner.id,
         f"{values_input.step.step_key}/field_changed")]
    # writing the values the record already has changes nothing, so it records nothing
    again = values_input.model_copy(update={"step": step(record, owner, "c")})
    await ActivityEnvironment().run(activities.write_values, again)
    assert len(await events_of(sessions, record.id)) == 2


# --- dispatching -----------------------------------------------------------------------

async def test_dispatching_twice_starts_one_process_per_event_and_template(
        time_skipping_env: WorkflowEnvironment, sessions: Sessions, factory: Factory, task_queue: str) -> None:
    client = time_skipping_env.client
    kind = record_type()
    first = await save_template(sessions, {"on": "record_created", "record_type": kind})
    second = await save_template(sessions, {"on": "record_created", "record_type": kind},
                                 {"on": "status_changed", "status": "New", "record_type": kind})  # two match
    owner = await factory.user()
    record = await factory.record(owner=owner, type=kind)
    [event] = await record_event(sessions, record, created=True)
    async with running_worker(client, sessions, task_queue):
        await dispatch(client, sessions, task_queue)
        started = await runs(sessions, record.id)
        assert sorted((r.template_key, r.request_id) for r in started) == sorted([
            (first, f"autostart:{event.id}:{first}"), (second, f"autostart:{event.id}:{second}")])
        ids = {r.workflow_id for r in started}
        await finished(client, list(ids))
        # the dispatch is run again over the same event (it had stopped before marking it): it finds the same runs
        await undispatch(sessions, event.id)
        again = await dispatch(client, sessions, task_queue)
        assert ids <= set(again.started)
        # and again, twice at once (a timed-out try still running beside its retry)
        await undispatch(sessions, event.id)
        await asyncio.gather(dispatch(client, sessions, task_queue), dispatch(client, sessions, task_queue))
        assert [r.id for r in await runs(sessions, record.id)] == [r.id for r in started]
    for run in started:
        assert (run.origin, run.owner_id, run.started_by, run.triggered_by_user_id) == (
            ProcessOrigin.autostart, owner.id, "autostart", None)
        assert await started_lines(sessions, run.workflow_id) == 1  # one process ran, once
    [stored] = await events_of(sessions, record.id)
    assert stored.dispatched_at is not None


async def test_triggers_match_their_event_status_field_and_record_type(
        time_skipping_env: WorkflowEnvironment, sessions: Sessions, factory: Factory, task_queue: str) -> None:
    client = time_skipping_env.client
    kind, other_kind = record_type(), record_type()
    on_created = await save_template(sessions, {"on": "record_created", "record_type": kind})
    on_won = await save_template(sessions, {"on": "status_changed", "status": "Won", "record_type": kind})
    on_budget = await save_template(sessions, {"on": "field_changed", "field": "budget", "record_type": kind})
    owner = await factory.user()
    record = await factory.record(owner=owner, type=kind)
    elsewhere = await factory.record(owner=owner, type=other_kind)
    async with running_worker(client, sessions, task_queue):
        for target in (record, elsewhere):
            await record_event(sessions, target, created=True)
            await record_event(sessions, target, status="Lost")  # not the status of the trigger
            await record_event(sessions, target, fields={"rooms": 3})  # not its field
        await dispatch(client, sessions, task_queue)
        assert [r.template_key for r in await runs(sessions, record.id)] == [on_created]
        await record_event(sessions, record, status="Won", fields={"budget": 100})
        await record_event(sessions, elsewhere, status="Won", fields={"budget": 100})
        await dispatch(client, sessions, task_queue)
        started = await runs(sessions, record.id)
        assert sorted(r.template_key for r in started) == sorted([on_created, on_won, on_budget])
        assert await runs(sessions, elsewhere.id) == []  # another record type
        await finished(client, [r.workflow_id for r in started])


async def test_the_owner_is_the_record_owner_else_the_acting_user_else_the_start_is_skipped(
        time_skipping_env: WorkflowEnvironment, sessions: Sessions, factory: Factory, task_queue: str) -> None:
    client = time_skipping_env.client
    kind = record_type()
    key = await save_template(sessions, {"on": "record_created", "record_type": kind})
    record_owner, actor = await factory.user(), await factory.user(name="Luca Bianchi")
    owned = await factory.record(owner=record_owner, type=kind)
    unowned = await factory.record(type=kind)
    nobody = await factory.record(type=kind)
    await record_event(sessions, owned, created=True, actor_user_id=actor.id)
    await record_event(sessions, unowned, created=True, actor_user_id=actor.id)
    [event] = await record_event(sessions, nobody, created=True)
    async with running_worker(client, sessions, task_queue):
        result = await dispatch(client, sessions, task_queue)
        [by_owner], [by_actor] = await runs(sessions, owned.id), await runs(sessions, unowned.id)
        await finished(client, [by_owner.workflow_id, by_actor.workflow_id])
    assert (by_owner.owner_id, by_owner.triggered_by_user_id) == (record_owner.id, actor.id)
    assert (by_actor.owner_id, by_actor.triggered_by_user_id) == (actor.id, actor.id)
    assert await runs(sessions, nobody.id) == []
    assert f"{key} on record {nobody.id}: the record has no owner and no user made the change" in result.skipped
    async with sessions() as session:
        [note] = (await session.exec(select(HistoryEntry).where(HistoryEntry.record_id == nobody.id))).all()
    assert note.kind is HistoryKind.note and note.step_key == f"autostart:{event.id}:{key}"
    assert note.text == ("Autostart of process 'Follow up new lead' skipped: "
                         "the record has no owner and no user made the change")
    assert (await events_of(sessions, nobody.id))[0].dispatched_at is not None
    await dispatch(client, sessions, task_queue)  # nothing left to do: no second note
    async with sessions() as session:
        assert len((await session.exec(select(HistoryEntry).where(HistoryEntry.record_id == nobody.id))).all()) == 1


async def test_a_run_allocated_before_a_new_version_starts_with_its_own_version(
        time_skipping_env: WorkflowEnvironment, sessions: Sessions, factory: Factory, task_queue: str) -> None:
    client = time_skipping_env.client
    kind = record_type()
    key = await save_template(sessions, {"on": "record_created", "record_type": kind})
    owner = await factory.user()
    record = await factory.record(owner=owner, type=kind)
    [event] = await record_event(sessions, record, created=True)
    async with sessions() as session:  # an earlier try allocated the run, then stopped before starting it
        run, _ = await allocate_run(session, template_key=key, template_version=1, record_id=record.id,
                                    owner_id=owner.id, started_by="autostart",
                                    request_id=f"autostart:{event.id}:{key}", origin=ProcessOrigin.autostart)
    await save_template(sessions, {"on": "record_created", "record_type": kind}, key=key,
                        phases=[{"key": "other", "name": "Other", "actions": [{"add_history": {"text": "v2"}}]}])
    async with running_worker(client, sessions, task_queue):
        await dispatch(client, sessions, task_queue)
        [state] = await finished(client, [run.workflow_id])
    assert state.template_version == 1 and [p.key for p in state.phases] == ["note"]
    assert [r.id for r in await runs(sessions, record.id)] == [run.id]


# --- the dispatcher workflow -------------------------------------------------------------

async def test_a_process_setting_a_status_autostarts_another_template(
        time_skipping_env: WorkflowEnvironment, sessions: Sessions, factory: Factory, task_queue: str) -> None:
    client = time_skipping_env.client
    kind = record_type()
    follower = await save_template(sessions, {"on": "status_changed", "status": "Qualified", "record_type": kind})
    owner = await factory.user()
    record = await factory.record(owner=owner, type=kind)
    qualify = template({"key": "qualify", "name": "Qualify", "actions": [{"set_status": {"status": "Qualified"}}]})
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, qualify, record.id, owner.id)
        await handle.result()
        [run] = await until_runs(sessions, record.id, 1)  # the dispatcher was signalled by set_status
        await finished(client, [run.workflow_id])
    assert (run.template_key, run.origin, run.owner_id, run.triggered_by_user_id) == (
        follower, ProcessOrigin.autostart, owner.id, owner.id)
    [event] = await events_of(sessions, record.id)
    assert event.step_key == f"{handle.id}/qualify/0/0/status_changed" and event.dispatched_at is not None


async def test_the_sweep_dispatches_events_whose_signal_never_came(
        time_skipping_env: WorkflowEnvironment, sessions: Sessions, factory: Factory, task_queue: str) -> None:
    client = time_skipping_env.client
    kind = record_type()
    key = await save_template(sessions, {"on": "record_created", "record_type": kind})
    owner = await factory.user()
    record = await factory.record(owner=owner, type=kind)
    async with running_worker(client, sessions, task_queue, record_events_sweep_seconds=60):
        config = Settings(temporal_task_queue=task_queue, record_events_sweep_seconds=60)
        await notify_dispatcher(client, config)  # the dispatcher runs, and goes idle
        dispatcher = client.get_workflow_handle_for(RecordEventsWorkflow.run, dispatcher_id(task_queue))
        async with asyncio.timeout(10):
            while (state := await dispatcher.query(RecordEventsWorkflow.current_state)).rounds < 1 \
                    or state.dispatching:
                await asyncio.sleep(0.02)
        await record_event(sessions, record, created=True)  # committed, but its signal is lost
        await asyncio.sleep(0.2)
        assert await runs(sessions, record.id) == []
        await time_skipping_env.sleep(timedelta(seconds=61))
        [run] = await until_runs(sessions, record.id, 1)
        await finished(client, [run.workflow_id])
        assert run.template_key == key


async def test_the_sweep_keeps_its_clock_while_signals_keep_coming(
        time_skipping_env: WorkflowEnvironment, sessions: Sessions, factory: Factory, task_queue: str) -> None:
    """A record changing every 25 s must not put off the 60 s sweep (expiries, undelivered answers) for ever.

    The signals come 5 s away from any sweep (at 25, 50, 75, ... s; sweeps at 60, 120, 180 s). A signal sent when a
    skip lands on the sweep's timer, as every second one did at 30 s, could reach the worker as the timer fired: the
    workflow cancels a timer that has fired, which the time-skipping server refuses, and it never sends the task
    again (temporalio/sdk-java#3088; a real server does not do this). The run was stranded and the test timed out on a
    busy machine."""
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue, record_events_sweep_seconds=60):
        config = Settings(temporal_task_queue=task_queue, record_events_sweep_seconds=60)
        await notify_dispatcher(client, config)
        dispatcher = client.get_workflow_handle_for(RecordEventsWorkflow.run, dispatcher_id(task_queue))
        for _ in range(8):  # 200 s of signals, one every 25 s
            await time_skipping_env.sleep(timedelta(seconds=25))
            await notify_dispatcher(client, config)
        state = await dispatcher.query(RecordEventsWorkflow.current_state)
        assert state.rounds >= 8 and state.sweeps == 3, state


async def test_a_dispatch_whose_worker_died_is_taken_again_within_its_heartbeat(
        time_skipping_env: WorkflowEnvironment, task_queue: str) -> None:
    """The first attempt never reports back (its worker died mid-batch): the next comes after the 30 s heartbeat
    timeout, where it came after the 5-minute timeout of the whole call, autostarts held back meanwhile"""
    attempts: list[int] = []

    @activity.defn(name="dispatch_record_events")
    async def dispatch(input: DispatchInput) -> DispatchResult:
        attempts.append(activity.info().attempt)
        if len(attempts) == 1:
            await asyncio.Event().wait()  # a worker gone: no heartbeat, no answer
        return DispatchResult(events=1)

    client = time_skipping_env.client
    async with Worker(client, task_queue=task_queue, workflows=[RecordEventsWorkflow], activities=[dispatch],
                      workflow_runner=RUNNER):
        handle = await client.start_workflow(RecordEventsWorkflow.run,
                                             RecordEventsInput(sweep_seconds=3600, signalled=True),
                                             id=dispatcher_id(task_queue), task_queue=task_queue)
        await time_skipping_env.sleep(timedelta(seconds=45))  # 30 s of it in real time: no skip while an activity runs
        state = await handle.query(RecordEventsWorkflow.current_state)
        await handle.terminate()
    assert attempts == [1, 2] and state.events == 1, (attempts, state)


async def test_the_dispatcher_continues_as_new_and_loses_no_event(
        time_skipping_env: WorkflowEnvironment, sessions: Sessions, factory: Factory, task_queue: str) -> None:
    client = time_skipping_env.client
    kind = record_type()
    await save_template(sessions, {"on": "record_created", "record_type": kind})
    owner = await factory.user()
    records = [await factory.record(owner=owner, type=kind) for _ in range(5)]
    config = Settings(temporal_task_queue=task_queue)
    async with running_worker(client, sessions, task_queue):
        handle = await client.start_workflow(
            RecordEventsWorkflow.run, RecordEventsInput(rounds_per_run=2, sweep_seconds=30 * 24 * 3600),
            id=dispatcher_id(task_queue), task_queue=task_queue)
        first_run = handle.result_run_id
        started = []
        for record in records:  # one at a time: signals sent while a round runs are taken in by that round
            await record_event(sessions, record, created=True)
            await notify_dispatcher(client, config)  # signals the running dispatcher, whichever run it is
            started.append((await until_runs(sessions, record.id, 1))[0])
        await finished(client, [run.workflow_id for run in started])
        description = await client.get_workflow_handle(dispatcher_id(task_queue)).describe()
        assert description.run_id != first_run  # it continued as new at least once
    for record in records:
        assert [e.dispatched_at is not None for e in await events_of(sessions, record.id)] == [True]
