"""Autostart: dispatching record events to the templates whose triggers they match, and to the automations of the
statuses a move leaves and enters (activities/stages.py).

Exactly once per (event, template): the run is allocated with the request id
`autostart:{event id}:{template key}` and its workflow id never starts twice, so a
retried or repeated dispatch finds the run and the started workflow and does nothing
new. An event is marked dispatched only after every start it causes is done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import BaseModel, Field
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.deps import Deps
from activities.stages import StageEvent, dispatch_stage
from activities.starting import start_run
from crm import template_store
from crm.idempotent import insert_once
from crm.models import HistoryEntry, HistoryKind, Record, RecordEvent, RecordEventKind
from crm.process_runs import ProcessOrigin
from crm.types import utcnow
from processes.history_words import history_text
from processes.template import ProcessTemplate, Trigger
from processes.template_basics import RecordKind

log = logging.getLogger("stagecoach.autostart")

TRIGGER_ON = {RecordEventKind.created: "record_created", RecordEventKind.status_changed: "status_changed",
              RecordEventKind.field_changed: "field_changed", RecordEventKind.substate_opened: "substate_opened",
              RecordEventKind.substate_closed: "substate_closed", RecordEventKind.status_remapped: None}


class DispatchInput(BaseModel):
    batch_size: int = Field(100, ge=1, le=1000, description="events read per call, oldest first")


class DispatchResult(BaseModel):
    events: int = 0  # dispatched by this call
    started: list[str] = Field(default_factory=list)  # workflow ids started (or found started by an earlier try)
    skipped: list[str] = Field(default_factory=list)  # "template on record N: why"
    more: bool = False  # the batch was full: call again
    sweep_seconds: float | None = None  # the worker's setting: how often the dispatcher sweeps from now on


@dataclass(frozen=True)
class _Event:
    """The values of an event row, read once (the rows expire when a session rolls back)."""

    id: int
    record_id: int
    kind: RecordEventKind
    status: str | None
    fields: tuple[str, ...]
    actor_user_id: int | None
    stage: StageEvent


@dataclass(frozen=True)
class _Record:
    id: int
    kind: RecordKind
    type: str
    owner_id: int | None


@dataclass(frozen=True)
class _Candidate:
    version: int
    template: ProcessTemplate


def matches(trigger: Trigger, event: _Event, record: _Record) -> bool:
    if trigger.on != TRIGGER_ON[event.kind]:
        return False
    if trigger.record_type is not None and trigger.record_type != record.type:
        return False
    if trigger.on == "status_changed":
        return trigger.status == event.status
    if trigger.on == "field_changed":
        return trigger.field in event.fields
    return True


async def autostart_templates(session: AsyncSession, kind: RecordKind) -> list[_Candidate]:
    """The latest version of every template on records of `kind` that has autostart triggers."""
    candidates = []
    for row, _ in await template_store.latest_versions(session, kind):
        if not row.definition.get("autostart"):
            continue
        try:
            template = template_store.load(row)
        except Exception:  # a stored version that no longer loads cannot start anything; say so once per call
            log.exception("template cannot be loaded for autostart", extra={"template": row.key,
                                                                             "version": row.version})
            continue
        candidates.append(_Candidate(version=row.version, template=template))
    return candidates


def _event(e: RecordEvent) -> _Event:
    return _Event(id=e.id, record_id=e.record_id, kind=e.kind, status=e.status,  # type: ignore[arg-type]
                  fields=tuple(e.fields or ()), actor_user_id=e.actor_user_id,
                  stage=StageEvent(id=e.id, kind=e.kind, status=e.status,  # type: ignore[arg-type]
                                   previous_status=e.previous_status, previous_visit=e.previous_visit,
                                   visit=e.visit, substate=e.substate, actor_user_id=e.actor_user_id,
                                   previous_substates=e.previous_substates))


async def dispatch_now(deps: Deps, record_id: int, event_ids: list[int]) -> DispatchResult | None:
    """Dispatch the events of one change to a record right after their commit (the API's moves and changes), as
    the dispatcher would, without waiting for its turn: a status's automations start at once. None, and nothing
    done, when an older event of the record is still undispatched (the dispatcher keeps a record's events in
    order). Whatever this does not finish (the API stopped after the commit) stays undispatched, and the
    dispatcher's sweep does it; what both do happens once (the starts' request ids)."""
    if not event_ids:
        return DispatchResult()
    async with deps.sessions() as session:
        older = select(RecordEvent.id).where(RecordEvent.record_id == record_id,
                                             col(RecordEvent.dispatched_at).is_(None),
                                             col(RecordEvent.id) < min(event_ids)).limit(1)
        if (await session.exec(older)).first() is not None:
            return None
        query = select(RecordEvent).where(col(RecordEvent.id).in_(event_ids), col(RecordEvent.dispatched_at).is_(None))
        events = [_event(e) for e in (await session.exec(query.order_by(col(RecordEvent.id)))).all()]
    result = DispatchResult()
    await AutostartActivities(deps).dispatch(events, result)
    return result


class AutostartActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="dispatch_record_events")
    async def dispatch_record_events(self, input: DispatchInput) -> DispatchResult:
        """Start the processes of the undispatched events, oldest first, and mark them dispatched."""
        if self.deps.temporal is None:
            raise RuntimeError("dispatching record events needs a Temporal client in Deps")
        async with self.deps.sessions() as session:
            query = (select(RecordEvent).where(col(RecordEvent.dispatched_at).is_(None))
                     .order_by(col(RecordEvent.id)).limit(input.batch_size))
            events = [_event(e) for e in (await session.exec(query)).all()]
        result = DispatchResult(more=len(events) == input.batch_size,
                                sweep_seconds=self.deps.settings.record_events_sweep_seconds)
        await self.dispatch(events, result)
        return result

    async def dispatch(self, events: list[_Event], result: DispatchResult) -> None:
        """Each event's autostarts and its status's automations, then the event marked dispatched."""
        templates: dict[RecordKind, list[_Candidate]] = {}
        for event in events:
            async with self.deps.sessions() as session:
                row = await session.get(Record, event.record_id)
                if row is not None:  # (records are not deleted; an event of a missing one starts nothing)
                    record = _Record(id=event.record_id, kind=row.kind, type=row.type, owner_id=row.owner_id)
                    if record.kind not in templates:
                        templates[record.kind] = await autostart_templates(session, record.kind)
                    for candidate in templates[record.kind]:
                        if any(matches(t, event, record) for t in candidate.template.autostart):
                            await self._start(session, event, record, candidate, result)
                    result.started += await dispatch_stage(self.deps, session, event.stage, row)
                await session.exec(update(RecordEvent).where(col(RecordEvent.id) == event.id)  # type: ignore[call-overload]
                                   .values(dispatched_at=utcnow()))
                await session.commit()
            result.events += 1
            if activity.in_activity():  # dispatch_record_events (the API's dispatch_now calls this too)
                activity.heartbeat(result.events)

    async def _start(self, session: AsyncSession, event: _Event, record: _Record, candidate: _Candidate,
                     result: DispatchResult) -> None:
        key = candidate.template.key
        request_id = f"autostart:{event.id}:{key}"
        owner_id = record.owner_id or event.actor_user_id
        record_id = record.id
        assert self.deps.temporal is not None
        if owner_id is None:
            why = "the record has no owner and no user made the change"
            await insert_once(session, HistoryEntry, request_id, lambda: _rows(HistoryEntry(
                record_id=record_id, step_key=request_id, kind=HistoryKind.note, actor="autostart",
                text=history_text(self.deps.settings.locale, "autostart_skipped", template=candidate.template.name),
                data={"template": key, "event_id": event.id, "event": event.kind.value})))
            result.skipped.append(f"{key} on record {record_id}: {why}")
            return
        workflow_id = await start_run(self.deps, session, candidate.template, candidate.version, record_id=record_id,
                                      owner_id=owner_id, request_id=request_id, origin=ProcessOrigin.autostart,
                                      started_by="autostart", triggered_by_user_id=event.actor_user_id)
        result.started.append(workflow_id)


async def _rows(*rows: object) -> list[object]:
    return list(rows)
