"""Tasks made by hand over HTTP on the real stack: on any record, checked, "my tasks" overdue first, and the
reminder's workflow set, moved and cancelled with the task (its timing: test_task_reminders.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

from api.auth import create_key
from api.task_reminders import reminder_id
from crm.models import ApiRole, Task
from tests.cases.helpers import case, user
from tests.e2e.conftest import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e


def _at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def _reminder_status(stack: Stack, dev_env: Any, task: dict[str, Any]) -> WorkflowExecutionStatus | None:
    handle = dev_env.client.get_workflow_handle(reminder_id(Task(step_key=task["step_key"])))
    return (await handle.describe()).status


async def test_tasks_by_hand_on_a_case_my_tasks_and_their_reminders(stack: Stack, sessions: Any,
                                                                    dev_env: Any) -> None:
    http = stack.http
    chiara = await user(stack, "chiara")
    async with sessions() as session:
        _, key = await create_key(session, "tasks chiara", ApiRole.staff, user_id=chiara["id"])
    mine = {"X-API-Key": key}
    matter = await case(stack, "Hearing on the 3rd")
    lead = (await http.post("/records", headers=mine, json={"kind": "lead", "title": "Another record"})).json()

    refused = await http.post("/tasks", headers=mine, json={"record_id": matter["id"], "title": "Call",
                                                             "category": "karaoke"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == "body.category"
    refused = await http.post("/tasks", headers=mine, json={"record_id": matter["id"], "title": "Call",
                                                             "remind_minutes_before": 30})
    assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == "body.due_at"
    refused = await http.post("/tasks", headers=mine, json={"record_id": matter["id"], "title": "Call",
                                                             "due_at": "2026-12-03T15:00:00"})
    assert refused.status_code == 422  # a due time without its zone

    later = await http.post("/tasks", headers=mine, json={
        "record_id": matter["id"], "title": "Prepare the hearing", "category": "deadline",
        "due_at": _at(timedelta(days=3)), "remind_minutes_before": 60, "description": "Bring the deeds"})
    assert later.status_code == 201, later.text
    overdue = await http.post("/tasks", headers=mine, json={"record_id": lead["id"], "title": "Call back",
                                                            "category": "call", "due_at": _at(-timedelta(hours=2))})
    undated = await http.post("/tasks", headers=mine, json={"record_id": lead["id"], "title": "Some day"})
    listed = (await http.get("/tasks", headers=mine)).json()
    assert [t["title"] for t in listed] == ["Call back", "Prepare the hearing", "Some day"]
    assert [t["overdue"] for t in listed] == [True, False, False]
    on_case = (await http.get("/tasks", headers=mine, params={"record_id": matter["id"]})).json()
    assert [t["id"] for t in on_case] == [later.json()["id"]] and on_case[0]["kind"] == "manual"
    assert [t["title"] for t in (await http.get("/tasks", headers=mine, params={"category": "call"})).json()] \
        == ["Call back"]
    assert overdue.status_code == undated.status_code == 201
    zoned = await http.post("/tasks", headers=mine, json={"record_id": lead["id"], "title": "In Rome's time",
                                                          "due_at": "2027-01-10T15:00:00+01:00"})
    assert zoned.status_code == 201 and zoned.json()["due_at"] == "2027-01-10T14:00:00Z"  # as GET answers it
    called = await http.patch(f"/tasks/{zoned.json()['id']}", headers=mine, json={"category": " Call "})
    assert called.status_code == 200 and called.json()["category"] == "call"  # as the installation names it
    assert (await http.get(f"/tasks/{zoned.json()['id']}", headers=mine)).json()["due_at"] == "2027-01-10T14:00:00Z"
    assert (await http.patch(f"/tasks/{zoned.json()['id']}", headers=mine, json={
        "due_at": "2027-01-11T09:30:00+01:00"})).json()["due_at"] == "2027-01-11T08:30:00Z"

    task = later.json()
    task["step_key"] = await _step_key(sessions, task["id"])
    assert await eventually(lambda: _reminder_status(stack, dev_env, task)) == WorkflowExecutionStatus.RUNNING
    moved = await http.patch(f"/tasks/{task['id']}", headers=mine, json={"due_at": _at(timedelta(days=5))})
    assert moved.status_code == 200 and moved.json()["remind_minutes_before"] == 60
    assert await _reminder_status(stack, dev_env, task) == WorkflowExecutionStatus.RUNNING
    assert (await http.patch(f"/tasks/{task['id']}", headers=mine, json={"due_at": None})).status_code == 422

    done = await http.post(f"/tasks/{task['id']}/complete", headers=mine)
    assert done.status_code == 200 and done.json()["status"] == "done"

    async def reminder_ended() -> bool:
        return await _reminder_status(stack, dev_env, task) == WorkflowExecutionStatus.COMPLETED

    await eventually(reminder_ended, what="the reminder cancelled")
    kinds = [(h["kind"], h["text"]) for h in (await http.get(f"/records/{matter['id']}/history", headers=mine)).json()]
    assert ("task_created", "Task created: Prepare the hearing") in kinds
    assert ("task_completed", "Task completed: Prepare the hearing") in kinds

    gone = await http.delete(f"/tasks/{undated.json()['id']}", headers=mine)
    assert gone.status_code == 204
    assert (await http.get(f"/tasks/{undated.json()['id']}", headers=mine)).status_code == 404


async def test_closing_a_case_cancels_its_pending_reminders(stack: Stack, sessions: Any, dev_env: Any) -> None:
    http, staff = stack.http, stack.as_("staff")
    owner = await user(stack, "owner")
    matter = await case(stack, "Estate inventory")
    response = await http.post("/tasks", headers=staff, json={
        "record_id": matter["id"], "title": "Count the silver", "assignee_id": owner["id"],
        "due_at": _at(timedelta(days=2)), "remind_minutes_before": 120})
    task = response.json()
    task["step_key"] = await _step_key(sessions, task["id"])
    assert await eventually(lambda: _reminder_status(stack, dev_env, task)) == WorkflowExecutionStatus.RUNNING
    closed = await http.post(f"/cases/{matter['id']}/close", headers=staff, json={})
    assert closed.status_code == 200, closed.text

    async def cancelled() -> bool:
        return await _reminder_status(stack, dev_env, task) == WorkflowExecutionStatus.COMPLETED

    await eventually(cancelled, what="the reminder cancelled")


async def _step_key(sessions: Any, task_id: int) -> str:
    async with sessions() as session:
        row = await session.get(Task, task_id)
        assert row is not None
        return row.step_key


async def test_a_task_is_given_only_to_someone_who_sees_its_record(stack: Stack, sessions: Any) -> None:
    """A task on a restricted record given to a user who does not see it: they got 404 on their own task and never
    found it in their list"""
    http = stack.http
    owner, other = await user(stack, "maria"), await user(stack, "chiara")
    async with sessions() as session:
        _, key = await create_key(session, "tasks maria", ApiRole.staff, user_id=owner["id"])
    maria = {"X-API-Key": key}
    secret = (await http.post("/records", headers=maria, json={
        "kind": "lead", "title": "Riservato", "owner_id": owner["id"], "restricted": True})).json()
    refused = await http.post("/tasks", headers=maria, json={"record_id": secret["id"], "title": "Chiamare",
                                                              "assignee_id": other["id"]})
    assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == "body.assignee_id", refused.text
    assert "add them to its access list" in refused.json()["errors"][0]["message"]
    mine = await http.post("/tasks", headers=maria, json={"record_id": secret["id"], "title": "Chiamare"})
    assert mine.status_code == 201, mine.text
    moved = await http.patch(f"/tasks/{mine.json()['id']}", headers=maria, json={"assignee_id": other["id"]})
    assert moved.status_code == 422 and moved.json()["errors"][0]["path"] == "body.assignee_id", moved.text
    listed = await http.patch(f"/records/{secret['id']}", headers=maria, json={"access_user_ids": [other["id"]]})
    assert listed.status_code == 200, listed.text
    given = await http.patch(f"/tasks/{mine.json()['id']}", headers=maria, json={"assignee_id": other["id"]})
    assert given.status_code == 200 and given.json()["assignee_id"] == other["id"], given.text
