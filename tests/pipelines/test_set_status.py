"""A process's `set_status` is a move like any other: checked against the record type's sequence, one history line;
a status the type does not allow is an incident with the refusal's message, never a silent write."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment

from crm import pipeline_store
from crm.models import HistoryKind, Record
from processes.instance import ProcessStatus
from processes.pipeline import Pipeline
from processes.template_basics import RecordKind
from tests.factories import Factory
from tests.pipelines.conftest import repair_pipeline
from tests.polling import eventually
from tests.workflows.helpers import history, running_worker, start, template, until


async def test_set_status_moves_or_opens_an_incident(time_skipping_env: WorkflowEnvironment, sessions,
                                                     factory: Factory, task_queue: str) -> None:
    tag = uuid.uuid4().hex[:8]
    async with sessions() as session:
        await pipeline_store.save(session, Pipeline.model_validate(repair_pipeline(tag)), "test")
    owner = await factory.user()
    record = await factory.record(owner, kind=RecordKind.job, type=f"Warranty repair {tag}", status="Diagnosis")
    document = template({"key": "claim", "name": "File the claim",
                         "actions": [{"set_status": {"status": "Warranty claim filed"}}]},
                        {"key": "quote", "name": "Quote", "actions": [{"set_status": {"status": "Quote sent"}}]},
                        record_kind="job")
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        handle = await start(time_skipping_env.client, task_queue, document, record.id, owner.id)
        state = await until(handle, lambda s: s.status is ProcessStatus.incident)
        assert state.incident is not None and state.incident.error_type == "MoveRefused"
        assert state.incident.step == "actions[0].set_status" and state.incident.phase_key == "quote"
        assert "cannot move from 'Warranty claim filed' to 'Quote sent'; allowed next: In repair" in \
            state.incident.message
        # the incident's line is written as the process parks, just after its state says so
        lines = await eventually(lambda: _with_incident(sessions, handle.id), what="the incident's history line")
    moved = [line for line in lines if line.kind is HistoryKind.status_changed]
    assert len(moved) == 1 and moved[0].data["from"] == "Diagnosis" and moved[0].data["to"] == "Warranty claim filed"
    assert moved[0].actor == f"process {document['key']}" and moved[0].phase_key == "claim"
    assert any(line.kind is HistoryKind.incident and "Quote sent" in line.text for line in lines)
    assert (await factory.get(Record, record.id)).status == "Warranty claim filed"


async def _with_incident(sessions, workflow_id: str) -> list:  # type: ignore[no-untyped-def]
    lines = await history(sessions, workflow_id)
    return lines if any(line.kind is HistoryKind.incident for line in lines) else []
