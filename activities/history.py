"""History (activity log) entries: the `add_history` action and the engine's own events."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities import bookkeeping
from activities.deps import Deps
from activities.step import ActionResult, StepInput, begin_step, prepare_step, render, render_variables, step_activity
from crm.idempotent import insert_new, insert_once
from crm.models import HistoryEntry, HistoryKind, User
from crm.process_runs import ProcessRun
from crm.types import utcnow
from processes.action_kinds import AddHistory
from processes.history_words import english, history_text


class RecordHistoryInput(bookkeeping.HistoryLine):
    """A line written at once, by an activity of its own (a staff request's, or a run from before bookkeeping
    rode along with steps)."""

    record_id: int
    workflow_id: str | None = None


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


async def _owner_change(session: AsyncSession, locale: str, values: dict[str, Any]) -> str | None:
    """A change of owner with both users' names (the workflow knows their ids only); None if either is gone."""
    ids = {values.get("previous"), values.get("owner")}
    names = dict((await session.exec(select(User.id, User.name).where(col(User.id).in_(ids)))).all())
    if not all(user in names for user in ids):
        return None
    return history_text(locale, "owner_changed_named", previous=names[values["previous"]],
                        owner=names[values["owner"]])


class HistoryActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="record_history")
    async def record_history(self, input: RecordHistoryInput) -> int:
        locale = self.deps.settings.locale
        text = input.text_in(locale)
        if input.words == "owner_changed":
            async with self.deps.sessions() as session:
                text = await _owner_change(session, locale, input.values) or text
        entry = await write_history_once(self.deps, HistoryEntry(
            record_id=input.record_id, step_key=input.step_key, kind=input.kind, text=text,
            workflow_id=input.workflow_id, phase_key=input.phase_key, actor=input.actor, data=input.data))
        assert entry.id is not None
        if input.kind is HistoryKind.owner_changed and input.workflow_id and "to" in input.data:
            async with self.deps.sessions() as session:  # the process list filters owners on the run row
                await session.exec(update(ProcessRun).where(  # type: ignore[call-overload]
                    col(ProcessRun.workflow_id) == input.workflow_id).values(owner_id=int(input.data["to"])))
                await session.commit()
        return entry.id

    @step_activity("add_history")
    async def add_history(self, input: AddHistoryInput) -> ActionResult:
        """The entry, with the bookkeeping the step carries, in one statement and one transaction; when the step
        ends the process, its end too, in the same transaction (no second one after it)."""
        async with self.deps.sessions() as session:
            step = await prepare_step(session, input.step)
            variables = await render_variables(session, step, utcnow(), [input.action.text])
            text = await render(self.deps, step, input.action.text, variables, f"{input.where}.text",
                                input.action.locale)
            locale = self.deps.settings.locale
            step, begun = await begin_step(session, step, locale=locale, prepared=True, confirm_later=True)
            entry = HistoryEntry(record_id=step.record_id, step_key=step.step_key, kind=HistoryKind.note, text=text,
                                 workflow_id=step.workflow_id, phase_key=step.phase_key,
                                 actor=f"process {step.template_key}")
            inserted = await insert_new(session, HistoryEntry,
                                        [*begun.rows, entry, *bookkeeping.after(step.books, locale)],
                                        also=begun.started)  # the run turns `running` in the same statement
            entry_id = inserted.get(step.step_key) or (await session.exec(  # written by an earlier try
                select(HistoryEntry.id).where(HistoryEntry.step_key == step.step_key))).one()
            summary = english("summary_history", entry=entry_id)
            at = utcnow()
            ended = await bookkeeping.write_step_end(session, step.books, summary, at, step.responsible_id)
            await session.commit()
        return ActionResult(summary=summary, responsible_id=step.responsible_id, ended_at=at if ended else None)
