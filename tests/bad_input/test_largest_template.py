"""The largest template that saves starts and continues as new within Temporal's payload limit; a larger one is refused."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter

from crm.models import HistoryKind
from processes.errors import TemplateInvalid
from processes.instance import (ActionOutcome, PhaseState, PhaseStatus, ProcessInput, ProcessState, ProcessStatus,
                                ResumeState)
from processes.template import ProcessTemplate
from processes.validation import MAX_ACTIONS, MAX_TEMPLATE_JSON_BYTES, validate_template
from tests.bad_input.conftest import Api, ensure_users
from tests.factories import Factory
from tests.figures import Figures
from tests.workflows import helpers
from workflows.client import start_process

TEMPORAL_PAYLOAD_LIMIT = 2 * 1024 * 1024  # the server's default blob size limit: larger is refused
PHASES = 200  # the most a template may have


def _size(document: dict[str, Any]) -> int:
    return len(json.dumps(ProcessTemplate.model_validate(document).model_dump(mode="json"),
                          separators=(",", ":")).encode())


def largest(key: str) -> dict[str, Any]:
    """A template at every bound: the most phases and actions, its text filling it to the byte limit."""
    per_phase = MAX_ACTIONS // PHASES

    def document(pad: int) -> dict[str, Any]:
        text = "{{ record }} " + "x" * pad
        return helpers.template(*({"key": f"p{i}", "name": f"Phase {i}", "actions": [
            {"add_history": {"text": f"{i}.{j} {text}"}} for j in range(per_phase)]} for i in range(PHASES)),
            key=key)

    low, high = 0, 2_000
    while low < high:  # the longest text that keeps the template within the bound
        middle = (low + high + 1) // 2
        low, high = (middle, high) if _size(document(middle)) <= MAX_TEMPLATE_JSON_BYTES else (low, middle - 1)
    return document(low)


def test_one_byte_or_one_action_more_is_refused() -> None:
    document = largest("largest")
    assert MAX_TEMPLATE_JSON_BYTES - 1_000 < _size(document) <= MAX_TEMPLATE_JSON_BYTES
    validate_template(document)
    document["phases"][0]["actions"][0]["add_history"]["text"] += "x" * 1_000
    with pytest.raises(TemplateInvalid, match=rf"^the template is \d+ bytes as JSON \(once its YAML aliases are "
                                              rf"expanded\); the limit is {MAX_TEMPLATE_JSON_BYTES}$"):
        validate_template(document)
    many = helpers.template(*({"key": f"p{i}", "name": "P", "actions": [{"set_status": {"status": "x"}}] * 6}
                              for i in range(PHASES)))
    with pytest.raises(TemplateInvalid, match=rf"^phases: the template has 1200 actions; the limit is {MAX_ACTIONS}"):
        validate_template(many)


def test_the_largest_state_continues_as_new_within_the_limit() -> None:
    """At its last continue-as-new, a process of the largest template that ran every action carries the
    template and the outcome of each of its 1,000 actions, with their step keys and summaries."""
    template = validate_template(largest(f"largest-{'x' * 50}"))
    started = datetime(2026, 12, 1, tzinfo=UTC)
    workflow_id = f"process-{template.key}-2147483647-999"
    phases = [PhaseState(key=p.key, name=p.name, status=PhaseStatus.done, iteration=1, started_at=started,
                         finished_at=started, deadline_at=started, responsible_id=2**31 - 1, actions=[
                             ActionOutcome(index=j, kind="add_history", status="done", at=started,
                                           summary=f"history entry {2**31 - 1} added",
                                           step_key=f"{workflow_id}/{p.key}/{j}/1")
                             for j in range(len(p.actions))]) for p in template.phases]
    state = ProcessState(workflow_id=workflow_id, template_key=template.key, template_name=template.name,
                         template_version=2**31 - 1, record_id=2**31 - 1, owner_id=2**31 - 1, phases=phases,
                         started_at=started, answers={f"a{n}": "x" * 100 for n in range(100)})
    carried = ProcessInput(template=template, template_version=1, record_id=1, owner_id=1, resume=ResumeState(
        state=state, next_phase=PHASES - 1, update_ids=[str(uuid.uuid4()) for _ in range(200)]))
    [payload] = pydantic_data_converter.payload_converter.to_payloads([carried])
    assert len(payload.data) < TEMPORAL_PAYLOAD_LIMIT / 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_largest_template_saves_starts_and_continues_as_new(
        api: Api, dev_env: Any, sessions: Any, factory: Factory, task_queue: str, figures: Figures) -> None:
    """The largest template that saves runs to its end over several runs (continue-as-new), every payload
    under Temporal's limit"""
    await ensure_users(sessions)
    key = f"largest-{uuid.uuid4().hex[:6]}"
    document = largest(key)  # its first phase goes straight to its last: two phases run, in two runs
    document["phases"][0]["decision"] = [{"when": "true", "goto": f"p{PHASES - 1}"}]
    body = json.dumps(document)
    saved = await api.http.post("/templates", content=body.encode(),
                                headers={**api.as_("admin"), "Content-Type": "application/json"})
    assert saved.status_code == 201, saved.text[:500]
    template = ProcessTemplate.model_validate(saved.json()["definition"])
    owner = await factory.user()
    record = await factory.record(owner, title="Villa")
    async with helpers.running_worker(dev_env.client, sessions, task_queue):
        handle = await start_process(dev_env.client, ProcessInput(
            template=template, template_version=1, record_id=record.id, owner_id=owner.id, history_limit=3),
            task_queue=task_queue, workflow_id=f"process-{key}-{record.id}-1")
        state = await handle.result()
    assert state.status is ProcessStatus.completed and state.runs == 2
    notes = [e.text for e in await helpers.history(sessions, handle.id) if e.kind is HistoryKind.note]
    assert [note.split(" ")[:2] for note in notes] == [[f"{i}.{j}", "Villa"] for i in (0, PHASES - 1)
                                                       for j in range(MAX_ACTIONS // PHASES)]
    largest_payload = 0
    async for event in handle.fetch_history_events():  # the last run's: it started with the most state
        for attributes in (event.workflow_execution_started_event_attributes,
                           event.workflow_execution_continued_as_new_event_attributes,
                           event.activity_task_scheduled_event_attributes):
            largest_payload = max(largest_payload, sum(len(p.data) for p in attributes.input.payloads))
        assert event.event_type is not EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    assert largest_payload < TEMPORAL_PAYLOAD_LIMIT / 2
    figures["template JSON (bytes)"] = len(body)
    figures["actions"] = MAX_ACTIONS
    figures["phases"] = PHASES
    figures["runs (continue-as-new)"] = state.runs
    figures["largest payload (bytes)"] = largest_payload
