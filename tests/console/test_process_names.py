"""The console names a process by its template: a status's automations by their pipeline and status, in the office's
language, where the list showed `process-stage-84f0805515344b08-27-1`."""

from __future__ import annotations

import uuid
from typing import Any

from api.console.process_names import template_names
from crm import pipeline_store
from processes.pipeline import Pipeline
from processes.stage_templates import stage_key


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
