"""Autostart over HTTP: a template starts by itself when a record is created or changed (dev server, real SMTP)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.auth import create_key
from crm.models import ApiRole, RecordEvent, RecordEventKind
from settings import Settings
from tests.e2e.conftest import Stack
from tests.polling import eventually
from workflows.client import dispatcher_id
from workflows.record_events import RecordEventsWorkflow

NOTE = "- add_history: {text: 'started by itself'}"


def autostart_yaml(key: str, trigger: str | None, actions: str = NOTE) -> str:
    return f"""
key: {key}
name: Started by itself {key}
controller_email: controller@agency.example
record_kind: lead
autostart: [{trigger or ""}]
phases:
  - key: first
    name: First
    actions:
      {actions}
"""


class Templates:
    """Saves this test's templates; at the end saves them again without triggers, so they start nothing later."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.saved: list[tuple[str, str]] = []

    async def save(self, trigger: str, actions: str = NOTE) -> str:
        key = f"auto-{uuid.uuid4().hex[:6]}"
        await self._post(autostart_yaml(key, trigger, actions))
        self.saved.append((key, actions))
        return key

    async def retire(self) -> None:
        for key, actions in self.saved:
            await self._post(autostart_yaml(key, None, actions))

    async def _post(self, document: str) -> None:
        response = await self.stack.http.post("/templates", content=document, headers={
            **self.stack.as_("admin"), "Content-Type": "application/yaml"})
        assert response.status_code == 201, response.text


@pytest.fixture
async def templates(stack: Stack) -> AsyncIterator[Templates]:
    saved = Templates(stack)
    yield saved
    await saved.retire()


async def new_lead(stack: Stack, **values: Any) -> dict[str, Any]:
    handle = f"agent{uuid.uuid4().hex[:6]}"
    agent = (await stack.http.post("/users", headers=stack.as_("admin"), json={
        "handle": handle, "name": "Luca Bianchi", "email": f"{handle}@agency.example"})).json()
    response = await stack.http.post("/records", headers=stack.as_("staff"), json={
        "kind": "lead", "title": "Flat in Via Roma 3", "owner_id": agent["id"], **values})
    assert response.status_code == 201, response.text
    return response.json()


async def processes_of(stack: Stack, record_id: int) -> list[str]:
    response = await stack.http.get(f"/records/{record_id}/processes", headers=stack.as_("staff"))
    assert response.status_code == 200, response.text
    return response.json()


async def ended(stack: Stack, workflow_id: str) -> bool:
    state = (await stack.http.get(f"/processes/{workflow_id}", headers=stack.as_("staff"))).json()
    return state["status"] == "completed"


async def settled(stack: Stack, dev_env: WorkflowEnvironment) -> None:
    """Wait until the dispatcher has dispatched every event so far (its state says so: no fixed sleep)."""
    handle = dev_env.client.get_workflow_handle_for(RecordEventsWorkflow.run,
                                                    dispatcher_id(stack.settings.temporal_task_queue))

    async def idle() -> bool:
        state = await handle.query(RecordEventsWorkflow.current_state)
        return not state.dispatching and not state.signalled
    await eventually(idle)


async def test_a_new_record_starts_a_record_created_template(stack: Stack, templates: Templates, dev_env: WorkflowEnvironment) -> None:
    key = await templates.save("{on: record_created}")
    record = await new_lead(stack)
    [workflow_id] = await eventually(lambda: processes_of(stack, record["id"]))
    assert workflow_id == f"process-{key}-{record['id']}-1"
    await eventually(lambda: ended(stack, workflow_id))
    state = (await stack.http.get(f"/processes/{workflow_id}", headers=stack.as_("staff"))).json()
    assert state["owner_id"] == record["owner_id"] and state["started_by"] == "autostart"
    history = (await stack.http.get(f"/records/{record['id']}/history", headers=stack.as_("staff"))).json()
    assert [h["kind"] for h in history] == ["process_started", "phase_started", "note", "phase_done",
                                            "process_ended"]


async def test_a_status_change_by_patch_starts_a_status_changed_template_once(
        stack: Stack, templates: Templates, dev_env: WorkflowEnvironment) -> None:
    http, staff = stack.http, stack.as_("staff")
    key = await templates.save("{on: status_changed, status: Won}")
    record = await new_lead(stack)
    assert (await http.patch(f"/records/{record['id']}", headers=staff, json={"status": "Lost"})).status_code == 200
    await settled(stack, dev_env)
    assert await processes_of(stack, record["id"]) == []  # another status
    for _ in range(2):  # the second PATCH is the client's retry: nothing changes, nothing starts
        response = await http.patch(f"/records/{record['id']}", headers=staff, json={"status": "Won"})
        assert response.status_code == 200 and response.json()["status"] == "Won"
    [workflow_id] = await eventually(lambda: processes_of(stack, record["id"]))
    assert workflow_id == f"process-{key}-{record['id']}-1"
    await settled(stack, dev_env)
    assert await processes_of(stack, record["id"]) == [workflow_id]


async def test_a_field_change_starts_a_field_changed_template(stack: Stack, templates: Templates, dev_env: WorkflowEnvironment) -> None:
    http, staff = stack.http, stack.as_("staff")
    key = await templates.save("{on: field_changed, field: budget}")
    record = await new_lead(stack, fields={"budget": 100})  # created with it: a record_created event only
    await http.patch(f"/records/{record['id']}", headers=staff, json={"fields": {"rooms": 3}})
    await http.patch(f"/records/{record['id']}", headers=staff, json={"fields": {"budget": 100}})  # unchanged
    await settled(stack, dev_env)
    assert await processes_of(stack, record["id"]) == []
    await http.patch(f"/records/{record['id']}", headers=staff, json={"fields": {"budget": 120}})
    assert await eventually(lambda: processes_of(stack, record["id"])) == [f"process-{key}-{record['id']}-1"]


async def test_a_process_setting_a_status_starts_another_template(stack: Stack, templates: Templates, dev_env: WorkflowEnvironment) -> None:
    qualify = await templates.save("{on: record_created}", actions="- set_status: {status: Qualified}")
    follow = await templates.save("{on: status_changed, status: Qualified}")
    record = await new_lead(stack)

    async def both() -> list[str] | None:
        found = await processes_of(stack, record["id"])
        return found if len(found) == 2 else None
    newest, oldest = await eventually(both)
    assert (oldest, newest) == (f"process-{qualify}-{record['id']}-1", f"process-{follow}-{record['id']}-1")
    await eventually(lambda: ended(stack, newest))
    stored = (await stack.http.get(f"/records/{record['id']}", headers=stack.as_("staff"))).json()
    assert stored["status"] == "Qualified"
    await asyncio.gather(settled(stack, dev_env), eventually(lambda: ended(stack, oldest)))
    assert len(await processes_of(stack, record["id"])) == 2


class _UnreachableTemporal:
    async def start_workflow(self, *args: Any, **kwargs: Any) -> None:
        raise RPCError("tcp connect error", RPCStatusCode.UNAVAILABLE, b"")


async def test_the_record_is_saved_when_the_dispatcher_cannot_be_signalled(
        database_url: str, sessions: Any, task_queue: str, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(Settings(database_url=database_url, temporal_task_queue=task_queue),
                     temporal=_UnreachableTemporal())  # type: ignore[arg-type]
    async with sessions() as session:
        _, key = await create_key(session, "e2e staff", ApiRole.staff)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://stagecoach") as http:
        with caplog.at_level(logging.WARNING, logger="stagecoach.api"):
            response = await http.post("/records", headers={"X-API-Key": key},
                                       json={"kind": "lead", "title": "Flat in Via Roma 3"})
    assert response.status_code == 201, response.text
    assert "its sweep will dispatch the events" in caplog.text
    async with sessions() as session:  # the event is kept for the dispatcher's next sweep
        [event] = (await session.exec(select(RecordEvent).where(RecordEvent.record_id == response.json()["id"]))).all()
    assert event.kind is RecordEventKind.created and event.dispatched_at is None
