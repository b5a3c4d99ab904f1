"""Stage automations on the time-skipping server: on enter, on exit, scheduled (and cancelled by an early exit),
channel filters, assignment strategies and the no-match incident, the loop guard. Real activities and dispatcher.

Each test's pipeline has record types of its own, so other tests' records never run its automations.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from crm import pipeline_store
from crm.models import HistoryEntry, Record, RecordEvent, Task, TaskStatus, User
from crm.pipeline_models import RecordAssignment
from crm.pipeline_moves import Move, move_record
from crm.process_runs import ProcessRun
from crm.record_events import add_record_events
from processes.instance import ResolveIncidentRequest
from processes.pipeline import Pipeline
from settings import Settings
from tests.polling import eventually
from tests.workflows.helpers import running_worker
from workflows.client import notify_dispatcher
from workflows.process import ProcessWorkflow


def pipeline(tag: str, statuses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"key": f"stages-{tag}", "name": "Stages", "record_kind": "lead", "statuses": statuses,
            "controller_email": "controller@agency.example", "types": [{"name": f"Lead {tag}"}]}


def note(text: str) -> dict[str, Any]:
    return {"add_history": {"text": text}}


class Office:
    """A test's pipeline, records and dispatcher."""

    def __init__(self, env: WorkflowEnvironment, sessions: Any, task_queue: str, tag: str) -> None:
        self.env, self.sessions, self.tag = env, sessions, tag
        self.settings = Settings(temporal_task_queue=task_queue)

    async def save(self, statuses: list[dict[str, Any]]) -> None:
        async with self.sessions() as session:
            await pipeline_store.save(session, Pipeline.model_validate(pipeline(self.tag, statuses)), "test")

    async def user(self, role: str = "agent", active: bool = True) -> User:
        async with self.sessions() as session:
            handle = f"u{uuid.uuid4().hex[:10]}"
            user = User(handle=handle, name=handle, email=f"{handle}@agency.example", role=role, active=active)
            session.add(user)
            await session.commit()
            await session.refresh(user)
            return user

    async def record(self, owner: User, channel: str = "web", **values: Any) -> int:
        async with self.sessions() as session:
            record = Record(kind="lead", type=f"Lead {self.tag}", status="New", title="Flat", channel=channel,
                            owner_id=owner.id, **values)
            session.add(record)
            await session.flush()
            add_record_events(session, None, record, actor="test", actor_user_id=owner.id)
            await session.commit()
        await notify_dispatcher(self.env.client, self.settings)
        assert record.id is not None
        return record.id

    async def move(self, record_id: int, to: str | None = None, **substate: str) -> None:
        async with self.sessions() as session:
            await move_record(session, record_id, Move(to=to, actor="test", **substate))
            await session.commit()
        await notify_dispatcher(self.env.client, self.settings)

    async def lines(self, record_id: int) -> list[str]:
        async with self.sessions() as session:
            rows = await session.exec(select(HistoryEntry).where(HistoryEntry.record_id == record_id)
                                      .order_by(col(HistoryEntry.id)))
            return [f"{r.kind.value}: {r.text}" for r in rows.all()]

    async def line(self, record_id: int, text: str) -> list[str]:
        return await eventually(lambda: self._with(record_id, text), what=f"a line '{text}' on record {record_id}")

    async def _with(self, record_id: int, text: str) -> list[str]:
        return [line for line in await self.lines(record_id) if text in line]

    async def settled(self) -> None:
        """Every event dispatched and every stage process parked or ended."""
        async def idle() -> bool:
            async with self.sessions() as session:
                pending = (await session.exec(select(RecordEvent.id).where(
                    col(RecordEvent.dispatched_at).is_(None)))).first()
            return pending is None
        await eventually(idle, what="every record event dispatched")


async def test_enter_scheduled_and_exit(time_skipping_env: WorkflowEnvironment, sessions, task_queue: str) -> None:
    office = Office(time_skipping_env, sessions, task_queue, uuid.uuid4().hex[:8])
    await office.save([
        {"name": "New", "automations": [{"on": "enter", "actions": [note("entered New"),
                                                                    {"create_task": {"title": "Call the lead"}}]},
                                        {"on": "scheduled", "after_days": 2, "actions": [note("two days in New")]},
                                        {"on": "scheduled", "after_minutes": 30, "actions": [note("half an hour")]},
                                        {"on": "exit", "actions": [note("left New")]}]},
        {"name": "Contacted"}])
    owner = await office.user()
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        kept = await office.record(owner)
        early = await office.record(owner)
        await office.line(kept, "entered New")
        await office.line(early, "entered New")
        await office.settled()
        await time_skipping_env.sleep(timedelta(hours=1))
        await office.line(early, "half an hour")
        await office.move(early, "Contacted")  # before the two days: that one is cancelled
        await office.line(early, "left New")
        await time_skipping_env.sleep(timedelta(days=3))
        await office.line(kept, "two days in New")
        await office.move(kept, "Contacted")
        await office.line(kept, "left New")
        early_lines = await office.lines(early)
    assert not [line for line in early_lines if "two days" in line]
    assert any(line.startswith("process_aborted") and "left 'New'" in line for line in early_lines)
    async with sessions() as session:  # the task the entry made is the office's: kept when what was scheduled is not
        [task] = (await session.exec(select(Task).where(Task.record_id == early))).all()
    assert (task.title, task.status) == ("Call the lead", TaskStatus.open)
    async with sessions() as session:  # one process per entry, and one per exit
        runs = (await session.exec(select(ProcessRun).where(ProcessRun.record_id == kept))).all()
    assert sorted(r.request_id for r in runs) == [f"stage:{kept}:0:enter", f"stage:{kept}:0:exit"]


async def test_scheduled_automations_count_from_the_entry_not_from_an_incident(
        time_skipping_env: WorkflowEnvironment, sessions, task_queue: str) -> None:
    """An incident in the on-enter actions held the scheduled ones back by as long as it stayed open: each counted
    from the end of the phase before. Each now counts from the entry: one already due runs as soon as the incident
    is resolved, a later one at its own time."""
    tag = uuid.uuid4().hex[:8]
    office = Office(time_skipping_env, sessions, task_queue, tag)
    role = f"nobody{tag}"
    await office.user(role)
    await office.save([{"name": "New", "automations": [
        {"on": "enter", "actions": [{"assign": {"role": role, "criteria": [
            {"rules": [{"field": "fields.postcode", "prefix": "20"}]}]}}]},  # no match: an incident
        {"on": "scheduled", "after_days": 2, "actions": [note("two days in New")]},
        {"on": "scheduled", "after_days": 5, "actions": [note("five days in New")]}]}])
    owner = await office.user()
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        record_id = await office.record(owner, fields={"postcode": "00184"})
        await office.line(record_id, "Incident")
        await time_skipping_env.sleep(timedelta(days=3))  # the incident stays open past the first span
        async with sessions() as session:
            run = (await session.exec(select(ProcessRun).where(
                ProcessRun.request_id == f"stage:{record_id}:0:enter"))).one()
        handle = time_skipping_env.client.get_workflow_handle(run.workflow_id)
        await handle.execute_update(ProcessWorkflow.resolve_incident, ResolveIncidentRequest(action="skip"))
        await office.line(record_id, "two days in New")  # due since the second day: right away
        await time_skipping_env.sleep(timedelta(days=1))  # four days after the entry
        early = await office.lines(record_id)
        await time_skipping_env.sleep(timedelta(days=1, hours=12))  # five and a half
        await office.line(record_id, "five days in New")
    assert not [line for line in early if "five days" in line], early


async def test_a_status_removed_by_a_save_drops_what_it_scheduled_and_runs_nothing(
        time_skipping_env: WorkflowEnvironment, sessions, task_queue: str) -> None:
    """A save that removes `Hold` (remap to `Next`) moved its records, but what `Hold` and its open substate had
    scheduled still ran a minute later. Now it is dropped; the remap runs no exit and no enter automation."""
    office = Office(time_skipping_env, sessions, task_queue, uuid.uuid4().hex[:8])
    hold = {"name": "Hold", "automations": [
                {"on": "scheduled", "after_minutes": 60, "actions": [note("an hour in Hold")]},
                {"on": "exit", "actions": [note("left Hold")]}],
            "substates": [{"name": "Sub", "automations": [
                {"on": "scheduled", "after_minutes": 60, "actions": [note("an hour in Sub")]}]}]}
    statuses = [{"name": "New"}, hold, {"name": "Next", "automations": [{"on": "enter", "actions": [note("in Next")]}]}]
    await office.save(statuses)
    owner = await office.user()
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        record_id = await office.record(owner)
        await office.move(record_id, "Hold")
        await office.move(record_id, open_substate="Sub")
        await office.settled()
        async with sessions() as session:
            document = pipeline(office.tag, [statuses[0], statuses[2]])
            await pipeline_store.save(session, Pipeline.model_validate(document), "test", remap={"Hold": "Next"})
        await notify_dispatcher(office.env.client, office.settings)
        await office.settled()
        await office.line(record_id, "process_aborted")
        await time_skipping_env.sleep(timedelta(hours=2))
        lines = await office.lines(record_id)
    assert not [line for line in lines if "an hour in" in line or "left Hold" in line or "in Next" in line], lines
    assert len([line for line in lines if line.startswith("process_aborted")]) == 2, lines  # Hold's, and Sub's


async def test_substates_open_close_and_close_with_their_status(time_skipping_env: WorkflowEnvironment, sessions,
                                                               task_queue: str) -> None:
    office = Office(time_skipping_env, sessions, task_queue, uuid.uuid4().hex[:8])
    documents = {"name": "Documents pending", "automations": [
        {"on": "enter", "actions": [note("asked for the documents")]},
        {"on": "scheduled", "after_days": 4, "actions": [note("asked again")]},
        {"on": "exit", "actions": [note("documents closed")]}]}
    await office.save([{"name": "New", "substates": [documents, {"name": "Site visit booked"}], "automations": [
        {"on": "enter", "actions": [{"open_substate": {"substate": "Site visit booked"}}]}]}, {"name": "Contacted"}])
    owner = await office.user()
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        record_id = await office.record(owner)
        await office.line(record_id, "Substate 'Site visit booked' opened")  # by the status's automation
        await office.move(record_id, open_substate="Documents pending")
        await office.line(record_id, "asked for the documents")
        await office.settled()
        await office.move(record_id, "Contacted")  # closes the open substates: what they scheduled is dropped
        await office.line(record_id, "documents closed")
        await office.settled()
        await time_skipping_env.sleep(timedelta(days=5))
        lines = await office.lines(record_id)
    assert not [line for line in lines if "asked again" in line]
    assert any("left 'New › Documents pending'" in line for line in lines)


async def test_channel_filters(time_skipping_env: WorkflowEnvironment, sessions, task_queue: str) -> None:
    office = Office(time_skipping_env, sessions, task_queue, uuid.uuid4().hex[:8])
    await office.save([{"name": "New", "automations": [
        {"on": "enter", "channels": ["web"], "actions": [note("web only")]},
        {"on": "enter", "actions": [note("every channel")]}]}])
    owner = await office.user()
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        web = await office.record(owner, channel="web")
        phone = await office.record(owner, channel="phone")
        await office.line(web, "web only")
        await office.line(phone, "every channel")
        await office.settled()
    assert not [line for line in await office.lines(phone) if "web only" in line]


async def test_assignment_strategies_and_no_match(time_skipping_env: WorkflowEnvironment, sessions,
                                                  task_queue: str) -> None:
    tag = uuid.uuid4().hex[:8]
    office = Office(time_skipping_env, sessions, task_queue, tag)
    role = f"installer{tag}"
    north = [await office.user(role), await office.user(role)]
    await office.user(role, active=False)  # never chosen
    await office.save([{"name": "New", "automations": [{"on": "enter", "actions": [{"assign": {
        "role": role, "strategy": "round_robin",
        "criteria": [{"rules": [{"field": "fields.postcode", "prefix": "20"}]}]}}]}]},
                       {"name": "Won", "automations": [{"on": "enter", "actions": [{"assign": {
                           "role": f"sales{tag}", "strategy": "least_loaded"}}]}]}])
    sales = [await office.user(f"sales{tag}"), await office.user(f"sales{tag}")]
    owner = await office.user()
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        ids = []
        for _ in range(3):  # one after the other: each turn follows the one before
            ids.append(await office.record(owner, fields={"postcode": "20121"}))
            await office.line(ids[-1], "assigned as")
        unmatched = await office.record(owner, fields={"postcode": "00184"})
        incident = await office.line(unmatched, "Incident")
        async with sessions() as session:  # the first salesperson already holds two records
            session.add_all(RecordAssignment(record_id=r, role=f"sales{tag}", user_id=sales[0].id) for r in ids[:2])
            await session.commit()
        for record_id in ids[1:]:
            await office.move(record_id, "Won")
            await office.line(record_id, f"assigned as sales{tag}")
        await office.settled()
    async with sessions() as session:
        chosen = [(await session.get(RecordAssignment, (record_id, role))).user_id for record_id in ids]
        sold = [(await session.get(RecordAssignment, (record_id, f"sales{tag}"))).user_id for record_id in ids[1:]]
    assert chosen == [north[0].id, north[1].id, north[0].id]  # round robin among the active ones
    # least loaded: 2 records against 0; then 1 against 1 (the record taken over), a tie the lower id wins
    assert sold == [sales[1].id, sales[0].id]
    assert f"no active user to assign as {role} on record {unmatched}" in incident[0], incident


async def test_a_loop_of_automations_is_stopped(time_skipping_env: WorkflowEnvironment, sessions,
                                                task_queue: str) -> None:
    office = Office(time_skipping_env, sessions, task_queue, uuid.uuid4().hex[:8])
    await office.save([
        {"name": "New", "automations": [{"on": "enter", "actions": [{"set_status": {"status": "Contacted"}}]}]},
        {"name": "Contacted", "automations": [{"on": "enter", "actions": [{"set_status": {"status": "New"}}]}]}])
    owner = await office.user()
    async with running_worker(time_skipping_env.client, sessions, task_queue, loop_guard_limit=3):
        record_id = await office.record(owner)
        stopped = await office.line(record_id, "loop")
        await office.settled()
    assert stopped and stopped[0].startswith("loop_guard"), stopped
    async with sessions() as session:
        record = await session.get(Record, record_id)
    assert record is not None and record.moves < 10
