"""The `write_values` and `set_status` actions: change the record, and say so in its history."""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import select
from temporalio import activity

from activities.deps import Deps
from activities.step import ActionResult, StepInput, load_record, render, render_variables
from crm.models import HistoryEntry, HistoryKind
from crm.types import utcnow
from processes.template import SetStatus, WriteValues


class WriteValuesInput(BaseModel):
    step: StepInput
    action: WriteValues
    where: str = "write_values"


class SetStatusInput(BaseModel):
    step: StepInput
    action: SetStatus


class RecordValuesActivities:
    """Each change and its history entry commit together; the entry's step key makes a retry a no-op."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _already_done(self, session, step_key: str) -> bool:  # type: ignore[no-untyped-def]
        found = await session.exec(select(HistoryEntry.id).where(HistoryEntry.step_key == step_key))
        return found.first() is not None

    @activity.defn(name="write_values")
    async def write_values(self, input: WriteValuesInput) -> ActionResult:
        step = input.step
        async with self.deps.sessions() as session:
            if await self._already_done(session, step.step_key):
                return ActionResult(summary="values already written")
            variables = await render_variables(session, step, utcnow())
            values = {name: render(text, variables, f"{input.where}.values.{name}")
                      for name, text in input.action.values.items()}
            record = await load_record(session, step.record_id)
            record.fields = {**(record.fields or {}), **values}
            record.updated_at = utcnow()
            session.add(record)
            session.add(HistoryEntry(record_id=record.id, step_key=step.step_key, kind=HistoryKind.values_written,
                                     text="Fields written: " + ", ".join(sorted(values)),
                                     workflow_id=step.workflow_id, phase_key=step.phase_key,
                                     actor=f"process {step.template_key}", data={"fields": sorted(values)}))
            await session.commit()
        return ActionResult(summary="wrote " + ", ".join(sorted(values)))

    @activity.defn(name="set_status")
    async def set_status(self, input: SetStatusInput) -> ActionResult:
        step, status = input.step, input.action.status
        async with self.deps.sessions() as session:
            if await self._already_done(session, step.step_key):
                return ActionResult(summary=f"status already set to {status}")
            record = await load_record(session, step.record_id)
            previous = record.status
            record.status = status
            record.updated_at = utcnow()
            session.add(record)
            session.add(HistoryEntry(record_id=record.id, step_key=step.step_key, kind=HistoryKind.status_changed,
                                     text=f"Status changed from '{previous}' to '{status}'",
                                     workflow_id=step.workflow_id, phase_key=step.phase_key,
                                     actor=f"process {step.template_key}", data={"from": previous, "to": status}))
            await session.commit()
        return ActionResult(summary=f"status {previous} -> {status}")
