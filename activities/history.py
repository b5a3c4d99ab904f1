"""History (activity log) entries: the `add_history` action and the engine's own events."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from temporalio import activity

from activities.deps import Deps
from activities.step import ActionResult, StepInput, render, render_variables
from crm.idempotent import insert_once
from crm.models import HistoryEntry, HistoryKind
from crm.types import utcnow
from processes.template import AddHistory


class RecordHistoryInput(BaseModel):
    step_key: str
    record_id: int
    kind: HistoryKind
    text: str
    workflow_id: str | None = None
    phase_key: str | None = None
    actor: str = ""
    data: dict[str, Any] = {}


class AddHistoryInput(BaseModel):
    step: StepInput
    action: AddHistory
    where: str = "add_history"


async def write_history_once(deps: Deps, entry: HistoryEntry) -> HistoryEntry:
    """Insert an entry unless one with its step key exists; return the stored one."""
    assert entry.step_key is not None

    async def make() -> list[HistoryEntry]:
        return [entry]

    async with deps.sessions() as session:
        return await insert_once(session, HistoryEntry, entry.step_key, make)


class HistoryActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="record_history")
    async def record_history(self, input: RecordHistoryInput) -> int:
        entry = await write_history_once(self.deps, HistoryEntry(**input.model_dump()))
        assert entry.id is not None
        return entry.id

    @activity.defn(name="add_history")
    async def add_history(self, input: AddHistoryInput) -> ActionResult:
        step = input.step
        async with self.deps.sessions() as session:
            variables = await render_variables(session, step, utcnow())
        text = render(input.action.text, variables, f"{input.where}.text")
        entry = await write_history_once(self.deps, HistoryEntry(
            record_id=step.record_id, step_key=step.step_key, kind=HistoryKind.note, text=text,
            workflow_id=step.workflow_id, phase_key=step.phase_key, actor=f"process {step.template_key}"))
        return ActionResult(summary=f"history entry {entry.id} added")
