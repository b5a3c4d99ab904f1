"""A move's automation started by whoever made the move: allocated with it and started once it is committed
(`prepare_enter`, `start_prepared`, as `POST /records/{id}/move` does), or its events dispatched at once
(`dispatch_now`): without waiting for the dispatcher, once, and in the record's order; what the mover does not finish
(it stopped after its commit) the dispatcher still does (time-skipping server, real activities)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select, update
from temporalio.testing import WorkflowEnvironment

from activities.autostart import dispatch_now
from activities.deps import Deps
from activities.mailer import Mailer
from activities.stage_starts import PreparedStart, prepare_enter, start_prepared
from crm.models import RecordEvent
from crm.pipeline_moves import Move, Moved, move_record
from crm.process_runs import ProcessRun
from tests.pipelines.test_stage_automations import Office, note
from tests.workflows.test_autostart import save_template
from tests.polling import eventually
from tests.workflows.helpers import running_worker
from workflows.client import notify_dispatcher

STATUSES = [{"name": "New"}, {"name": "Contacted", "automations": [{"on": "enter", "actions": [note("entered")]}]},
            {"name": "Won", "automations": [{"on": "enter", "actions": [note("won")]}]}]


async def _moved(office: Office, record_id: int, to: str) -> Moved:
    """The move committed, and nobody told yet (as if its maker stopped right after the commit)."""
    async with office.sessions() as session:
        moved = await move_record(session, record_id, Move(to=to, actor="test"))
        await session.commit()
    return moved


def _deps(office: Office) -> Deps:
    return Deps(settings=office.settings, sessions=office.sessions, mailer=Mailer(office.settings),
                temporal=office.env.client)


async def _runs(office: Office, record_id: int) -> list[ProcessRun]:
    async with office.sessions() as session:
        rows = await session.exec(select(ProcessRun).where(ProcessRun.record_id == record_id)
                                  .order_by(col(ProcessRun.id)))
        return list(rows.all())


async def _undispatched(office: Office, record_id: int) -> list[int]:
    async with office.sessions() as session:
        rows = await session.exec(select(RecordEvent.id).where(RecordEvent.record_id == record_id,
                                                               col(RecordEvent.dispatched_at).is_(None)))
        return list(rows.all())


async def test_a_move_starts_its_automation_at_once_and_once(time_skipping_env: WorkflowEnvironment, sessions: Any,
                                                             task_queue: str) -> None:
    office = Office(time_skipping_env, sessions, task_queue, uuid.uuid4().hex[:8])
    await office.save(STATUSES)
    owner = await office.user()
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        record_id = await office.record(owner)
        await office.settled()
        moved = await _moved(office, record_id, "Contacted")
        result = await dispatch_now(_deps(office), record_id, [e.id for e in moved.events if e.id is not None])
        assert result is not None and result.events == 1 and len(result.started) == 1
        assert await _undispatched(office, record_id) == []  # the dispatcher has nothing left of it
        await office.line(record_id, "entered")
        # the dispatcher sweeping the same event again (as after a crash before it was marked) starts nothing new
        async with sessions() as session:
            await session.exec(update(RecordEvent).where(  # type: ignore[call-overload]
                col(RecordEvent.id) == moved.events[0].id).values(dispatched_at=None))
            await session.commit()
        await notify_dispatcher(time_skipping_env.client, office.settings)
        await office.settled()
        runs = await _runs(office, record_id)
        assert [r.request_id for r in runs] == [f"stage:{record_id}:{moved.record.visit}:enter"]
        assert len([line for line in await office.lines(record_id) if "entered" in line]) == 1


async def test_an_older_undispatched_event_leaves_the_move_to_the_dispatcher(
        time_skipping_env: WorkflowEnvironment, sessions: Any, task_queue: str) -> None:
    """The events of a record are dispatched in their order: a move whose record has an older event not dispatched
    yet is left to the dispatcher, which dispatches both, the older first."""
    office = Office(time_skipping_env, sessions, task_queue, uuid.uuid4().hex[:8])
    await office.save(STATUSES)
    owner = await office.user()
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        record_id = await office.record(owner)
        await office.settled()
        first = await _moved(office, record_id, "Contacted")  # its maker stopped after the commit
        moved = await _moved(office, record_id, "Won")
        assert await dispatch_now(_deps(office), record_id, [e.id for e in moved.events if e.id is not None]) is None
        assert len(await _undispatched(office, record_id)) == 2 and await _runs(office, record_id) == []
        await notify_dispatcher(time_skipping_env.client, office.settings)  # or its sweep, later
        await office.settled()
        await office.line(record_id, "won")
        runs = await eventually(lambda: _ended_runs(office, record_id), what="both automations ended")
        assert [r.request_id for r in runs] == [f"stage:{record_id}:{first.record.visit}:enter",
                                                f"stage:{record_id}:{moved.record.visit}:enter"]


async def _ended_runs(office: Office, record_id: int) -> list[ProcessRun]:
    runs = await _runs(office, record_id)
    return runs if len(runs) == 2 and all(r.status.finished for r in runs) else []


async def _prepared(office: Office, record_id: int, to: str) -> tuple[Moved, PreparedStart | None]:
    """The move with its automation's run, as `POST /records/{id}/move` makes them, committed and not started."""
    async with office.sessions() as session:
        moved = await move_record(session, record_id, Move(to=to, actor="test"))
        prepared = await prepare_enter(session, moved, office.settings)
        await session.commit()
    return moved, prepared


async def test_the_automation_allocated_with_the_move_starts_once_even_if_its_mover_stops(
        time_skipping_env: WorkflowEnvironment, sessions: Any, task_queue: str) -> None:
    office = Office(time_skipping_env, sessions, task_queue, uuid.uuid4().hex[:8])
    await office.save([{"name": "New"}, *STATUSES[1:2],
                       {"name": "Won", "automations": [{"on": "enter", "actions": [note("won")]},
                                                       {"on": "exit", "actions": [note("left Won")]}]},
                       {"name": "Lost"}])
    owner = await office.user()
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        started, stopped = await office.record(owner), await office.record(owner)
        await office.settled()
        # the API starts it once the move is committed: the event is dispatched, the dispatcher has nothing to do
        moved, prepared = await _prepared(office, started, "Contacted")
        assert prepared is not None and prepared.input.loop_guard_passed
        assert await start_prepared(_deps(office), prepared)
        assert await _undispatched(office, started) == []
        await office.line(started, "entered")
        # the API stopped right after the commit: the run is allocated, the event waits for the dispatcher
        moved, prepared = await _prepared(office, stopped, "Contacted")
        assert prepared is not None and await _undispatched(office, stopped) == [moved.events[0].id]
        await notify_dispatcher(time_skipping_env.client, office.settings)
        await office.settled()
        await office.line(stopped, "entered")
        for record_id in (started, stopped):
            assert len([r for r in await _runs(office, record_id)]) == 1
            assert len([line for line in await office.lines(record_id) if "entered" in line]) == 1
        # leaving a status with an on-exit automation is more than entering: left to the dispatcher
        await _prepared(office, started, "Won")
        await notify_dispatcher(time_skipping_env.client, office.settings)
        await office.settled()
        assert (await _prepared(office, started, "Contacted"))[1] is None


async def test_an_autostart_template_saved_since_the_last_move_leaves_the_next_one_to_the_dispatcher(
        time_skipping_env: WorkflowEnvironment, sessions: Any, task_queue: str) -> None:
    """The autostart triggers a move checks are kept between moves (`stage_starts._autostart`): a template version
    saved since is read at the next move, whose event then goes to the dispatcher (both the trigger and the status's
    automation start from it there)."""
    office = Office(time_skipping_env, sessions, task_queue, uuid.uuid4().hex[:8])
    await office.save(STATUSES)
    owner = await office.user()
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        first, second = await office.record(owner), await office.record(owner)
        await office.settled()
    assert (await _prepared(office, first, "Contacted"))[1] is not None  # no trigger: the move starts it itself
    await save_template(sessions, {"on": "status_changed", "status": "Contacted", "record_type": f"Lead {office.tag}"})
    moved, prepared = await _prepared(office, second, "Contacted")
    assert prepared is None and await _runs(office, second) == []
    assert await _undispatched(office, second) == [e.id for e in moved.events]


async def test_the_first_step_of_an_automation_started_with_its_move_marks_its_run_running(
        time_skipping_env: WorkflowEnvironment, sessions: Any, task_queue: str) -> None:
    """Nobody marks the run the move allocated `running` but the process's first step, with its history lines (in
    the same statement on PostgreSQL): a process waiting for its scheduled automation shows `running`."""
    office = Office(time_skipping_env, sessions, task_queue, uuid.uuid4().hex[:8])
    await office.save([{"name": "New"}, {"name": "Contacted", "automations": [
        {"on": "enter", "actions": [note("entered")]},
        {"on": "scheduled", "after_days": 2, "actions": [note("two days in Contacted")]}]}])
    owner = await office.user()
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        record_id = await office.record(owner)
        await office.settled()
        moved, prepared = await _prepared(office, record_id, "Contacted")
        assert prepared is not None and [r.status.value for r in await _runs(office, record_id)] == ["starting"]
        assert await start_prepared(_deps(office), prepared)
        await office.line(record_id, "entered")
        assert [r.status.value for r in await _runs(office, record_id)] == ["running"]
