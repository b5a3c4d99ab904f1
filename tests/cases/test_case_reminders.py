"""Closing a case cancels its tasks' pending reminders; reopening it sets them again, for the same time (over HTTP
on the real stack; a reminder's timing: tests/tasks/test_task_reminders.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.task_reminders import TaskReminderInput
from api.app import create_app
from api.auth import create_key
from api.task_reminders import reminder_id
from crm.cases.models import CaseClosure
from crm.models import ApiRole, HistoryEntry, HistoryKind, Task, TaskKind
from crm.types import utcnow
from processes.template_basics import RecordKind
from settings import Settings
from tests.cases.helpers import case, history, user
from tests.factories import Factory
from tests.e2e.conftest import Stack
from tests.polling import eventually
from workflows.task_reminders import MoveReminderRequest

pytestmark = pytest.mark.e2e


async def _step_key(sessions: Any, task_id: int) -> str:
    async with sessions() as session:
        row = await session.get(Task, task_id)
        assert row is not None
        return row.step_key


async def _reminder(dev_env: Any, step_key: str) -> tuple[WorkflowExecutionStatus | None, str, datetime]:
    """The latest run of the task's reminder workflow: its status, its run id and the time it waits for (the time
    it started with, or the last one a `move` signal gave it)."""
    handle = dev_env.client.get_workflow_handle(reminder_id(Task(step_key=step_key)))
    described = await handle.describe()
    converter = dev_env.client.data_converter
    when: datetime | None = None
    for event in (await handle.fetch_history()).events:
        if event.HasField("workflow_execution_started_event_attributes"):
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [started] = await converter.decode(payloads, [TaskReminderInput])
            when = started.remind_at
        elif event.HasField("workflow_execution_signaled_event_attributes") \
                and event.workflow_execution_signaled_event_attributes.signal_name == "move":
            payloads = event.workflow_execution_signaled_event_attributes.input.payloads
            [moved] = await converter.decode(payloads, [MoveReminderRequest])
            when = moved.remind_at
    assert when is not None
    return described.status, described.run_id, when


async def test_reopening_a_case_sets_its_tasks_reminders_again(stack: Stack, sessions: Any, dev_env: Any) -> None:
    http, staff = stack.http, stack.as_("staff")
    owner = await user(stack, "owner")
    matter = await case(stack, "Estate inventory")
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    response = await http.post("/tasks", headers=staff, json={
        "record_id": matter["id"], "title": "Count the silver", "assignee_id": owner["id"],
        "due_at": due.isoformat(), "remind_minutes_before": 120})
    assert response.status_code == 201, response.text
    step_key = await _step_key(sessions, response.json()["id"])
    done = await http.post("/tasks", headers=staff, json={  # completed: its reminder stays cancelled
        "record_id": matter["id"], "title": "List the paintings", "assignee_id": owner["id"],
        "due_at": due.isoformat(), "remind_minutes_before": 60})
    assert (await http.post(f"/tasks/{done.json()['id']}/complete", headers=staff)).status_code == 200
    undated = await http.post("/tasks", headers=staff, json={"record_id": matter["id"], "title": "Some day"})
    assert undated.status_code == 201, undated.text

    async def waiting() -> tuple[WorkflowExecutionStatus | None, str, datetime] | None:
        found = await _reminder(dev_env, step_key)
        return found if found[0] == WorkflowExecutionStatus.RUNNING else None

    _, first_run, when = await eventually(waiting, what="the reminder waiting")
    assert when == due - timedelta(minutes=120)

    closed = await http.post(f"/cases/{matter['id']}/close", headers=staff, json={})
    assert closed.status_code == 200, closed.text

    async def cancelled() -> bool:
        return (await _reminder(dev_env, step_key))[0] == WorkflowExecutionStatus.COMPLETED

    await eventually(cancelled, what="the reminder cancelled")

    reopened = await http.post(f"/cases/{matter['id']}/reopen", headers=staff)
    assert reopened.status_code == 200 and reopened.json()["state"] == "open", reopened.text
    status, run, when = await eventually(waiting, what="the reminder set again")
    assert status == WorkflowExecutionStatus.RUNNING and run != first_run
    assert when == due - timedelta(minutes=120)

    lines = {line["kind"]: line for line in await history(stack, matter["id"])}
    assert lines["case_closed"]["data"]["reminders_cancelled"] == 1
    assert lines["case_reopened"]["data"]["reminders_set"] == 1


class _UnreachableTemporal:
    def get_workflow_handle(self, *args: Any, **kwargs: Any) -> _UnreachableTemporal:
        return self

    async def signal(self, *args: Any, **kwargs: Any) -> None:
        raise RPCError("tcp connect error", RPCStatusCode.UNAVAILABLE, b"")

    async def start_workflow(self, *args: Any, **kwargs: Any) -> None:
        raise RPCError("tcp connect error", RPCStatusCode.UNAVAILABLE, b"")


async def test_a_case_stays_closed_when_its_reminders_cannot_be_set_again(
        database_url: str, sessions: Any, factory: Factory, task_queue: str) -> None:
    app = create_app(Settings(database_url=database_url, temporal_task_queue=task_queue),
                     temporal=_UnreachableTemporal())  # type: ignore[arg-type]
    async with sessions() as session:
        _, key = await create_key(session, "cases staff", ApiRole.staff)
    with_task, without = await factory.record(kind=RecordKind.case), await factory.record(kind=RecordKind.case)
    owner = await factory.user("Chiara Blu")
    await factory._add(Task(step_key=f"manual-task/{uuid.uuid4().hex}", kind=TaskKind.manual, workflow_id="",
                            phase_key="", record_id=with_task.id, assignee_id=owner.id, title="Count the silver",
                            due_at=utcnow() + timedelta(days=2), remind_minutes_before=60))
    for closed in (with_task, without):
        await factory._add(CaseClosure(case_id=closed.id, closed_by="staff"))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://stagecoach") as http:
        staff = {"X-API-Key": key}
        refused = await http.post(f"/cases/{with_task.id}/reopen", headers=staff)
        assert refused.status_code == 503 and refused.json()["type"] == "ServiceUnavailable", refused.text
        assert f"case {with_task.id} is still closed" in refused.json()["detail"]
        assert (await http.get(f"/cases/{with_task.id}", headers=staff)).json()["state"] == "closed"
        reopened = await http.post(f"/cases/{without.id}/reopen", headers=staff)  # no reminder to set
        assert reopened.status_code == 200 and reopened.json()["state"] == "open", reopened.text
    async with sessions() as session:  # nothing written for the case left closed
        query = select(HistoryEntry).where(HistoryEntry.record_id == with_task.id,
                                           HistoryEntry.kind == HistoryKind.case_reopened)
        assert (await session.exec(query)).all() == []
