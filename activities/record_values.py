"""The `write_values` and `set_status` actions: change the record, and say so in its history.

Each change commits with its history entry and its record events (autostart), then
the record-events dispatcher is signalled.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from activities import bookkeeping
from activities.deps import Deps
from activities.step import (ActionResult, StepInput, begin_step, load_record, prepare_step, render, render_variables,
                             step_activity)
from activities.errors import final
from crm.idempotent import insert_new
from crm.pipeline_moves import Move, Moved, move_record
from crm.models import HistoryEntry, HistoryKind, Record, RecordEvent
from crm.record_edits import hold_record
from crm.record_events import RecordSnapshot, add_record_events, snapshot
from crm.types import utcnow
from processes.errors import MovedMeanwhile, MoveRefused
from processes.action_kinds import SetStatus, WriteValues
from processes.history_words import english, history_text
from workflows.client import notify_dispatcher

log = logging.getLogger("stagecoach.activity")


async def notify_events(deps: Deps, step_key: str) -> None:
    """Tell the record-events dispatcher a step wrote events; if this fails, its next sweep finds them anyway."""
    if deps.temporal is None:
        return
    try:
        await notify_dispatcher(deps.temporal, deps.settings)
    except Exception:
        log.warning("could not signal the record-events dispatcher; its sweep will dispatch the events",
                    exc_info=True, extra={"step_key": step_key})


async def move_in_step(session: AsyncSession, record_id: int, move: Move) -> Moved:
    """A move made by a process step: refused, an incident with the refusal's message (retrying changes
    nothing); lost to a racing move, retried."""
    try:
        return await move_record(session, record_id, move)
    except MovedMeanwhile as exc:
        raise ApplicationError(exc.message, type=exc.type) from None
    except MoveRefused as exc:
        raise final(exc) from None


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

    async def _undispatched(self, session: AsyncSession, step_key: str) -> bool:
        query = select(RecordEvent.id).where(col(RecordEvent.step_key).startswith(f"{step_key}/", autoescape=True),
                                             col(RecordEvent.dispatched_at).is_(None))
        return (await session.exec(query)).first() is not None

    def _record_events(self, session: AsyncSession, before: RecordSnapshot, record: Record, step: StepInput) -> bool:
        """Add the change's events (the process acts for its owner); whether there are any."""
        return bool(add_record_events(session, before, record, actor=f"process {step.template_key}",
                                      actor_user_id=step.owner_id, step_key=step.step_key))

    async def _notify(self, step: StepInput) -> None:
        await notify_events(self.deps, step.step_key)

    async def _done_before(self, session: AsyncSession, step: StepInput) -> bool:
        """Whether an earlier try made the change (its bookkeeping went with it); if so, finish what it left."""
        if not await self._already_done(session, step.step_key):
            return False
        await insert_new(session, HistoryEntry, bookkeeping.after(step.books, self.deps.settings.locale))
        await session.commit()
        if await self._undispatched(session, step.step_key):  # the earlier try stopped before signalling
            await self._notify(step)
        return True

    @step_activity("write_values")
    async def write_values(self, input: WriteValuesInput) -> ActionResult:
        async with self.deps.sessions() as session:
            step = await prepare_step(session, input.step)
            if await self._done_before(session, step):
                return ActionResult(summary=english("summary_values_already"), responsible_id=step.responsible_id)
            variables = await render_variables(session, step, utcnow(), list(input.action.values.values()))
            values: dict[str, str] = {}
            for name, text in input.action.values.items():  # rendered before anything is written
                values[name] = await render(self.deps, step, text, variables, f"{input.where}.values.{name}",
                                            input.action.locale)
            step, begun = await begin_step(session, step, locale=self.deps.settings.locale, prepared=True)
            await insert_new(session, HistoryEntry, begun.rows)
            await hold_record(session, step.record_id)  # a PATCH of its fields at the same time waits, or is waited for
            record = await load_record(session, step.record_id, fresh=True)
            before = snapshot(record)
            record.fields = {**(record.fields or {}), **values}
            record.updated_at = utcnow()
            session.add(record)
            session.add(HistoryEntry(record_id=record.id, step_key=step.step_key, kind=HistoryKind.values_written,
                                     text=history_text(self.deps.settings.locale, "fields_written",
                                                       fields=", ".join(sorted(values))),
                                     workflow_id=step.workflow_id, phase_key=step.phase_key,
                                     actor=f"process {step.template_key}", data={"fields": sorted(values)}))
            events = self._record_events(session, before, record, step)
            await insert_new(session, HistoryEntry, bookkeeping.after(step.books, self.deps.settings.locale))
            await session.commit()
        if events:
            await self._notify(step)
        return ActionResult(summary=english("summary_wrote", fields=", ".join(sorted(values))),
                            responsible_id=step.responsible_id)

    @step_activity("set_status")
    async def set_status(self, input: SetStatusInput) -> ActionResult:
        """A move like any other (crm/pipeline_moves.py): a status the record's type does not allow is an incident
        with the refusal's message; a move that lost a race is tried again."""
        status = input.action.status
        async with self.deps.sessions() as session:
            step, begun = await begin_step(session, input.step, locale=self.deps.settings.locale)
            if await self._done_before(session, step):
                return ActionResult(summary=english("summary_status_already", status=status),
                                    responsible_id=step.responsible_id)
            await insert_new(session, HistoryEntry, begun.rows)
            record = await load_record(session, step.record_id)
            previous = record.status
            actor = f"process {step.template_key}"
            if previous == status:  # nothing moves: the step is written down all the same
                session.add(HistoryEntry(record_id=record.id, step_key=step.step_key, kind=HistoryKind.status_changed,
                                         text=history_text(self.deps.settings.locale, "status_left", status=status),
                                         workflow_id=step.workflow_id, phase_key=step.phase_key, actor=actor,
                                         data={"from": previous, "to": status}))
            else:
                await move_in_step(session, step.record_id, Move(
                    to=status, actor=actor, actor_user_id=step.owner_id, step_key=step.step_key,
                    workflow_id=step.workflow_id, phase_key=step.phase_key, reason=f"phase '{step.phase_name}'",
                    locale=self.deps.settings.locale,
                    shown_reason=history_text(self.deps.settings.locale, "in_phase", phase=step.phase_name)))
            await insert_new(session, HistoryEntry, bookkeeping.after(step.books, self.deps.settings.locale))
            await session.commit()
        if previous != status:
            await self._notify(step)
        return ActionResult(summary=english("summary_status", previous=previous, status=status),
                            responsible_id=step.responsible_id)
