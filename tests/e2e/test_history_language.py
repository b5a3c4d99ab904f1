"""A record's history is written in the office's language (LOCALE) when it is written, over HTTP on the dev server:
the lines a process writes (in its workflow and its activities) and the API's own (a task, a move), in Italian with
LOCALE=it and in English by default. A name the office gave (a template's, a phase's, a task's title, a status)
stays as the office wrote it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth import create_key
from crm.models import ApiRole
from temporalio.client import Client
from renderer.pool import shared_pool
from settings import Settings
from tests.polling import eventually
from tests.serving import free_port, serving
from tests.workflows.helpers import running_worker

TEMPLATE = """
key: {key}
name: Vendita
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: inspection
    name: Sopralluogo
    completion: manual
"""

ITALIAN = [
    ("process_started", "Processo 'Vendita' (versione 1) avviato"),
    ("phase_started", "Fase 'Sopralluogo' avviata"),
    ("task_created", "Attività per la fase 'Sopralluogo' assegnata"),
    ("phase_done", "Fase 'Sopralluogo' completata"),
    ("process_ended", "Processo 'Vendita' terminato"),
    ("task_created", "Attività creata: Chiamare il cliente"),
    ("task_completed", "Attività completata: Chiamare il cliente"),
    ("status_changed", "Stato cambiato da 'New' a 'Contattato' da chiave API 'history language admin'"),
    ("values_written", "Modifiche: titolo 'Villa' → 'Villa Rosa'; email — → 'villa@example.org'; campo 'garage' — → "
                       "sì; campo 'prezzo' — → 250000"),
    ("values_written", "Modifiche: campo 'garage' sì → no; campo 'prezzo' 250000 → —"),
    ("values_written", "Modifiche: riservata no → sì; chi può vederla — → Anna"),
]
ENGLISH = [
    ("process_started", "Process 'Vendita' (version 1) started"),
    ("phase_started", "Phase 'Sopralluogo' started"),
    ("task_created", "Task for phase 'Sopralluogo' assigned"),
    ("phase_done", "Phase 'Sopralluogo' done"),
    ("process_ended", "Process 'Vendita' ended"),
    ("task_created", "Task created: Chiamare il cliente"),
    ("task_completed", "Task completed: Chiamare il cliente"),
    ("status_changed", "Status changed from 'New' to 'Contattato' by API key 'history language admin'"),
    ("values_written", "Changed: title 'Villa' → 'Villa Rosa'; email — → 'villa@example.org'; field 'garage' — → "
                       "yes; field 'prezzo' — → 250000"),
    ("values_written", "Changed: field 'garage' yes → no; field 'prezzo' 250000 → —"),
    ("values_written", "Changed: restricted no → yes; who may see it — → Anna"),
]


@pytest.fixture(params=["it", "en"])
async def office(request: pytest.FixtureRequest, dev_env: Any, sessions: Any, task_queue: str, database_url: str,
                 tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], str, Client]]:
    """The API over HTTP and a worker, both with LOCALE set to the parameter; the client, a staff key, LOCALE and the
    Temporal client."""
    locale, port = request.param, free_port()
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, api_port=port, data_dir=tmp_path,
                        locale=locale)
    async with sessions() as session:
        _, admin = await create_key(session, "history language admin", ApiRole.admin)
    async with serving(create_app(settings, temporal=dev_env.client, renderer=shared_pool()), port), \
            running_worker(dev_env.client, sessions, task_queue, data_dir=tmp_path, locale=locale), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        yield http, {"X-API-Key": admin}, locale, dev_env.client


async def test_the_history_is_written_in_the_offices_language(
        office: tuple[httpx.AsyncClient, dict[str, str], str, Client]) -> None:
    http, admin, locale, _ = office
    key, handle = f"sale-{uuid.uuid4().hex[:6]}", f"u{uuid.uuid4().hex[:6]}"
    saved = await http.post("/templates", headers={**admin, "Content-Type": "application/yaml"},
                            content=TEMPLATE.format(key=key))
    assert saved.status_code == 201, saved.text
    owner = (await http.post("/users", headers=admin, json={
        "handle": handle, "name": "Anna", "email": f"{handle}@agency.example"})).json()
    record = (await http.post("/records", headers=admin, json={
        "kind": "lead", "title": "Villa", "status": "New", "owner_id": owner["id"]})).json()
    started = await http.post("/processes", headers=admin, json={"template": key, "record_id": record["id"]})
    assert started.status_code == 201, started.text
    workflow_id = started.json()["workflow_id"]

    async def phase_task() -> Any:
        tasks = (await http.get("/tasks", headers=admin, params={"assignee_id": owner["id"]})).json()
        return tasks[0] if tasks else None
    completed = await http.post(f"/tasks/{(await eventually(phase_task))['id']}/complete", headers=admin)
    assert completed.status_code == 200, completed.text

    async def ended() -> bool:
        return (await http.get(f"/processes/{workflow_id}", headers=admin)).json()["status"] == "completed"
    await eventually(ended)

    task = await http.post("/tasks", headers=admin, json={"record_id": record["id"], "title": "Chiamare il cliente"})
    assert task.status_code == 201, task.text
    assert (await http.post(f"/tasks/{task.json()['id']}/complete", headers=admin)).status_code == 200
    moved = await http.patch(f"/records/{record['id']}", headers=admin, json={"status": "Contattato"})
    assert moved.status_code == 200, moved.text
    for change in ({"title": "Villa Rosa", "email": "villa@example.org", "fields": {"garage": True, "prezzo": 250000}},
                   {"title": "Villa Rosa"},  # as it is: no line
                   {"fields": {"garage": False, "prezzo": None}},
                   {"restricted": True, "access_user_ids": [owner["id"]]},
                   {"access_user_ids": [owner["id"], owner["id"]]}):  # the same list: no line
        edited = await http.patch(f"/records/{record['id']}", headers=admin, json=change)
        assert edited.status_code == 200, edited.text

    history = (await http.get(f"/records/{record['id']}/history", headers=admin)).json()
    for kind in ("status_changed", "values_written"):
        actor = next(h["actor"] for h in history if h["kind"] == kind)
        assert actor.startswith("key:") and actor.endswith(":history language admin")  # the line says it by its name
    expected = ITALIAN if locale == "it" else ENGLISH
    assert [(h["kind"], h["text"]) for h in history] == expected


ENDED_BY_ITS_PHASE = """
key: {key}
name: Chiusura
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: close
    name: Chiudere
    actions:
      - end_process:
  - key: never
    name: Mai
    completion: manual
"""


async def test_the_reasons_the_engine_gives_are_in_the_offices_language(
        office: tuple[httpx.AsyncClient, dict[str, str], str, Client]) -> None:
    """A process ended by its phase's `end_process` (no reason given) and one cancelled through Temporal: their lines,
    and the reason of the task the cancelled one closed, say the engine's reason in LOCALE's language; the API gives
    the reason back as the process keeps it, in English."""
    http, admin, locale, temporal = office
    ended_key, waiting_key, handle = (f"end-{uuid.uuid4().hex[:6]}", f"sale-{uuid.uuid4().hex[:6]}",
                                      f"u{uuid.uuid4().hex[:6]}")
    for template in (ENDED_BY_ITS_PHASE.format(key=ended_key), TEMPLATE.format(key=waiting_key)):
        saved = await http.post("/templates", headers={**admin, "Content-Type": "application/yaml"}, content=template)
        assert saved.status_code == 201, saved.text
    owner = (await http.post("/users", headers=admin, json={
        "handle": handle, "name": "Anna", "email": f"{handle}@agency.example"})).json()
    record = (await http.post("/records", headers=admin, json={
        "kind": "lead", "title": "Villa", "status": "New", "owner_id": owner["id"]})).json()
    ended = (await http.post("/processes", headers=admin, json={"template": ended_key,
                                                                "record_id": record["id"]})).json()["workflow_id"]
    waiting = (await http.post("/processes", headers=admin, json={"template": waiting_key,
                                                                  "record_id": record["id"]})).json()["workflow_id"]

    async def phase_task() -> Any:
        return (await http.get("/tasks", headers=admin, params={"workflow_id": waiting})).json()
    await eventually(phase_task)
    await temporal.get_workflow_handle(waiting).cancel()

    async def both_ended() -> bool:
        views = [(await http.get(f"/processes/{w}", headers=admin)).json() for w in (ended, waiting)]
        return [v["status"] for v in views] == ["completed", "aborted"]
    await eventually(both_ended)

    history = {(h["kind"], h["text"]) for h in (await http.get(f"/records/{record['id']}/history",
                                                               headers=admin)).json()}
    [task] = (await http.get("/tasks", headers=admin, params={"workflow_id": waiting, "status": "cancelled"})).json()
    if locale == "it":
        assert ("process_ended", "Processo 'Chiusura' terminato: fine disposta dalla fase 'close'") in history
        assert ("process_aborted", "Processo 'Vendita' interrotto: annullato tramite Temporal") in history
        assert task["close_reason"] == "processo interrotto: annullato tramite Temporal"
    else:
        assert ("process_ended", "Process 'Chiusura' ended: ended by phase 'close'") in history
        assert ("process_aborted", "Process 'Vendita' aborted: cancelled through Temporal") in history
        assert task["close_reason"] == "process aborted: cancelled through Temporal"
    assert (await http.get(f"/processes/{ended}", headers=admin)).json()["end_reason"] == "ended by phase 'close'"
