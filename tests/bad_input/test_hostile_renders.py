"""Hostile text at run time: it costs its own step (an incident saying why), never another process's."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from crm.models import Record
from processes.instance import ProcessInput, ProcessStatus
from processes.template import ProcessTemplate
from tests.bad_input.conftest import Api
from tests.factories import Factory
from tests.figures import Figures
from tests.workflows import helpers
from workflows.client import start_process

# They read the record, so nothing of them can be tried when they are saved: they pass, and hit a bound when run.
MEMORY_BOMB = ("{% set ns = namespace(x=[]) %}{% set s = record.title * 9000 %}{% for i in range(10000) %}"
               "{% set ns.x = [ns.x" + ", s ~ i" * 10 + "] %}{% endfor %}")
TIME_BOMB = "{% for i in range(record.fields.n) %}{% for j in range(record.fields.n) %}{% endfor %}{% endfor %}"
HARMLESS = "{{ record }}: {{ record.fields.n | number }}"


def _note(text: str) -> dict[str, Any]:
    return helpers.template({"key": "note", "name": "Note", "actions": [{"add_history": {"text": text}}]})


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_hostile_texts_become_incidents_and_harmless_processes_run_on(
        dev_env: Any, sessions: Any, factory: Factory, task_queue: str, figures: Figures) -> None:
    """Texts that hit the memory cap and the time budget are incidents naming why; harmless processes complete"""
    owner = await factory.user()
    record = await factory.record(owner, title="Villa", fields={"n": 10_000})
    async with helpers.running_worker(dev_env.client, sessions, task_queue):
        hostile = [await helpers.start(dev_env.client, task_queue, _note(text), record.id, owner.id)
                   for text in (MEMORY_BOMB, TIME_BOMB, MEMORY_BOMB, TIME_BOMB)]
        harmless = [await helpers.start(dev_env.client, task_queue, _note(HARMLESS), record.id, owner.id)
                    for _ in range(3)]
        done = await asyncio.gather(*(handle.result() for handle in harmless))
        incidents = [await helpers.until(handle, lambda s: s.status is ProcessStatus.incident, timeout=60)
                     for handle in hostile]
    assert [state.status for state in done] == [ProcessStatus.completed] * 3
    notes = [entry.text for handle in harmless for entry in await helpers.history(sessions, handle.id)]
    assert notes.count("Villa: 10,000") == 3
    messages = [(state.incident.error_type, state.incident.message) for state in incidents if state.incident]
    where = "phases[0].actions[0].add_history.text"
    assert messages == [
        ("RenderError", f"{where}: refused: the render needed more than 256 MB of memory"),
        ("RenderError", f"{where}: refused: rendering took longer than 1s"),
    ] * 2
    figures["hostile processes"] = len(hostile)
    figures["incidents naming the bound"] = len(messages)
    figures["harmless processes completed"] = len(done)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_text_saved_before_the_immutable_sandbox_cannot_change_values(
        dev_env: Any, sessions: Any, factory: Factory, task_queue: str) -> None:
    """`record.fields.clear()` in a subject (saved before such calls were refused) is an incident; nothing emptied"""
    owner = await factory.user()
    record = await factory.record(owner, fields={"budget": 450000})
    document = helpers.template({"key": "offer", "name": "Offer", "actions": [{"send_email": {
        "to": "client@example.org", "subject": "{{ record.fields.clear() }}Offer",
        "body": "Budget {{ record.fields.budget }}"}}]})
    template = ProcessTemplate.model_validate(document)  # as stored then: the structure only
    async with helpers.running_worker(dev_env.client, sessions, task_queue):
        handle = await start_process(dev_env.client, ProcessInput(template=template, template_version=1,
                                                                  record_id=record.id, owner_id=owner.id),
                                     task_queue=task_queue, workflow_id=f"process-offer-{uuid.uuid4().hex[:8]}")
        state = await helpers.until(handle, lambda s: s.status is ProcessStatus.incident)
        await handle.terminate("the test is over")
    assert state.incident is not None
    assert state.incident.message == ("phases[0].actions[0].send_email.subject: refused: '.clear()' would change "
                                      "a value, and text cannot change values")
    assert (await factory.get(Record, record.id)).fields == {"budget": 450000}
    assert await helpers.outbox(sessions, handle.id) == []


async def test_a_hostile_template_check_does_not_hold_up_the_api(api: Api) -> None:
    """Checking a template whose constant text runs out of memory answers 422, and the API answers others meanwhile"""
    bomb = MEMORY_BOMB.replace("record.title", "'x'")  # reads no variable: tried when saved, in a child
    body = ("key: bomb\nname: Bomb\ncontroller_email: c@agency.example\nrecord_kind: lead\nphases:\n"
            "  - key: a\n    name: A\n    actions:\n      - add_history:\n          text: |-\n            " + bomb + "\n")
    loop = asyncio.get_running_loop()
    check = asyncio.create_task(api.http.post("/templates/validate", content=body.encode(),
                                              headers={**api.as_("staff"), "Content-Type": "application/yaml"}))
    answered: list[float] = []
    while not check.done():
        started = loop.time()
        assert (await api.http.get("/livez")).status_code == 200
        answered.append(loop.time() - started)
        await asyncio.sleep(0.02)
    response = await check
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [{"path": "phases[0].actions[0].add_history.text",
                                          "message": "refused: the render needed more than 256 MB of memory"}]
    assert len(answered) >= 3 and max(answered) < 0.5
