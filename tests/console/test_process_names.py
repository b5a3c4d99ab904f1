"""The console names a process by its template: a status's automations by their pipeline and status, in the office's
language, where the list showed `process-stage-84f0805515344b08-27-1`."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from api.console.process_names import template_names
from crm import pipeline_store
from processes.pipeline import Pipeline
from processes.stage_templates import stage_key
from tests.console.conftest import staff_user
from tests.console.signing import sign_in_async
from tests.e2e.conftest import Stack
from tests.polling import eventually


async def test_a_status_automations_are_named_by_their_pipeline_and_status(sessions: Any) -> None:
    key = f"impianti-{uuid.uuid4().hex[:8]}"
    async with sessions() as session:
        await pipeline_store.save(session, Pipeline.model_validate({
            "key": key, "name": "Impianti", "record_kind": "job", "controller_email": "controller@agency.example",
            "statuses": [{"name": "Sopralluogo", "substates": [{"name": "Documenti"}]}, {"name": "Chiuso"}],
            "types": [{"name": f"Impianto {key}"}]}), "test")
        names = await template_names(session, "it")
    assert names[stage_key(key, "Sopralluogo", None, "enter")] == "Impianti · Sopralluogo · all'ingresso"
    assert names[stage_key(key, "Sopralluogo", "Documenti", "exit")].startswith("Impianti · Sopralluogo › Documenti")
    assert names[stage_key(key, "Chiuso", None, "exit")].startswith("Impianti · Chiuso")


@pytest.mark.e2e
async def test_a_status_automations_ended_by_a_move_are_not_shown_as_aborted(stack: Stack, sessions: Any) -> None:
    """Each move out of a status that still had something scheduled showed a red "aborted" process in the lists"""
    staff = await staff_user(sessions)
    admin = stack.as_("admin")
    key = f"impianti-{uuid.uuid4().hex[:8]}"
    saved = await stack.http.post("/pipelines", headers=admin, json={
        "key": key, "name": "Impianti", "record_kind": "job", "controller_email": "controller@agency.example",
        "types": [{"name": f"Impianto {key}"}],
        "statuses": [{"name": "Sopralluogo", "automations": [
            {"on": "scheduled", "after_days": 3, "actions": [{"add_history": {"text": "tre giorni"}}]}]},
                     {"name": "Preventivo"}]})
    assert saved.status_code == 201, saved.text
    record = (await stack.http.post("/records", headers=admin, json={
        "kind": "job", "title": f"Tetto {key}", "type": f"Impianto {key}", "owner_id": staff.user.id})).json()

    async def runs(status: str) -> list[dict[str, Any]]:
        found = (await stack.http.get("/processes", headers=admin, params={"record_id": record["id"]})).json()
        return [p for p in found["items"] if p["status"] == status]
    await eventually(lambda: runs("running"), what="the status's automations wait")
    await stack.http.patch(f"/records/{record['id']}", headers=admin, json={"status": "Preventivo"})
    [ended] = await eventually(lambda: runs("aborted"), what="they end as the record moves on")
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        listed = await browser.get("/console/processes", params={"record": str(record["id"])})
        page = await browser.get(f"/console/records/{record['id']}")
    for shown in (listed.text, page.text):
        assert '<span class="badge left">left the status</span>' in shown
        assert '<span class="badge aborted">aborted</span>' not in shown  # the counts still count it
    assert ended["ended_by"] == f"pipeline {key}"
