"""The one way a record's status moves: staff over the API, a process's `set_status`, a stage automation.

A move checks the record type's sequence (a record whose type no pipeline lists moves freely), then
changes the record on the condition that nobody moved it since it was read (its `moves` counter: of two
racing moves one wins, the other is refused with the record's current status), and adds, in the same
transaction, one history line (who or what moved it, from where to where, and why) and the record event
the record-events dispatcher turns into autostarts and stage automations. Opening or closing a substate is
a move like any other. The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from sqlmodel import select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from crm import pipeline_store
from crm.models import HistoryEntry, HistoryKind, Record, RecordEvent, RecordEventKind
from crm.types import utcnow
from processes.errors import MovedMeanwhile, MoveRefused, RecordNotFound
from processes.history_words import history_text
from processes.pipeline import Pipeline
from processes.wording import with_article


@dataclass(frozen=True)
class Move:
    """What to do: `to` a status, or open or close a substate of the record's status."""

    to: str | None = None
    open_substate: str | None = None
    close_substate: str | None = None
    reason: str = ""
    actor: str = ""
    actor_user_id: int | None = None
    expected_status: str | None = None
    step_key: str | None = None  # a process step or an automation: a retry finds its history line
    workflow_id: str | None = None
    phase_key: str | None = None
    locale: str = "en"  # the office's (LOCALE): its history line is written in its language
    shown_reason: str | None = None  # `reason` as the line says it in that language, when the engine wrote it

    @property
    def kind(self) -> HistoryKind:
        return (HistoryKind.substate_opened if self.open_substate else
                HistoryKind.substate_closed if self.close_substate else HistoryKind.status_changed)


@dataclass
class Moved:
    record: Record
    previous: str
    done_before: bool = False  # a retry of a move already made (same step key): nothing changed now
    events: list[RecordEvent] = field(default_factory=list)
    pipeline: Pipeline | None = None  # the one the move was checked against, and its version
    pipeline_version: int | None = None


def allowed_next(pipeline: Pipeline | None, record: Record) -> list[str] | None:
    """Where the record may move; None when its status is free."""
    return None if pipeline is None else pipeline.allowed_next(record.type, record.status)


def refusal(record: Record, pipeline: Pipeline | None, move: Move) -> MoveRefused | None:
    """Why the move cannot be made (worded: the console says it in the office's language), or None."""
    if move.expected_status is not None and record.status != move.expected_status:
        return MoveRefused.worded("record {record} is in '{current}', not '{expected}'", record=record.id,
                                  current=record.status, expected=move.expected_status)
    if move.to is not None:
        if move.to == record.status:
            return MoveRefused.worded("record {record} is already in '{current}'", record=record.id,
                                      current=record.status)
        allowed = allowed_next(pipeline, record)
        if allowed is not None and move.to not in allowed:
            values: dict[str, object] = dict(record=record.id, kind=record.kind.value, type=record.type,
                                             current=record.status, to=move.to, allowed=", ".join(allowed))
            if not allowed:
                return MoveRefused.worded("record {record} ({kind} of type '{type}') cannot move from '{current}' to "
                                          "'{to}': no move leads on from '{current}'", **values)
            return MoveRefused.worded("record {record} ({kind} of type '{type}') cannot move from '{current}' to "
                                      "'{to}'; allowed next: {allowed}", **values)
        return None
    name = move.open_substate or move.close_substate
    status = pipeline.status(record.status) if pipeline is not None else None
    if status is None or status.substate(name or "") is None:
        names = [s.name for s in status.substates] if status is not None else []
        if names:
            return MoveRefused.worded("status '{current}' of record {record} has no substate '{substate}'; its "
                                      "substates: {substates}", current=record.status, record=record.id,
                                      substate=name, substates=", ".join(names))
        return MoveRefused.worded("status '{current}' of record {record} has no substate '{substate}'",
                                  current=record.status, record=record.id, substate=name)
    if move.open_substate and name in record.substates:
        return MoveRefused.worded("substate '{substate}' of record {record} is open already", substate=name,
                                  record=record.id)
    if move.close_substate and name not in record.substates:
        return MoveRefused.worded("substate '{substate}' of record {record} is not open", substate=name,
                                  record=record.id)
    return None


def _text(move: Move, previous: str) -> str:
    said = partial(history_text, move.locale)
    what = (said("substate_opened", substate=move.open_substate) if move.open_substate else
            said("substate_closed", substate=move.close_substate) if move.close_substate else
            said("status_changed", previous=previous, status=move.to))
    reason = move.shown_reason or move.reason
    return what + (said("by_actor", actor=move.actor) if move.actor else "") + (f": {reason}" if reason else "")


async def move_record(session: AsyncSession, record_id: int, move: Move) -> Moved:
    """Make the move in `session` (the caller commits); `MoveRefused` (409) when it cannot be made."""
    if move.step_key is not None:
        done = (await session.exec(select(HistoryEntry).where(HistoryEntry.step_key == move.step_key))).first()
        if done is not None:
            record = await session.get(Record, record_id)
            assert record is not None
            return Moved(record=record, previous=str(done.data.get("from", record.status)), done_before=True)
    record = await session.get(Record, record_id, populate_existing=True)
    if record is None:
        raise RecordNotFound.worded("no record {id}", id=record_id)
    row = await pipeline_store.governing_version(session, record.kind, record.type, to_write=True)
    pipeline = pipeline_store.load(row) if row is not None else None
    if (why := refusal(record, pipeline, move)) is not None:
        raise why
    previous, previous_visit, number = record.status, record.visit, record.moves + 1
    values: dict[str, object] = {"moves": number, "updated_at": utcnow()}
    substates = dict(record.substates or {})
    if move.to is not None:
        values.update(status=move.to, visit=number, substates={})
    elif move.open_substate:
        values["substates"] = {**substates, move.open_substate: number}
    else:
        values["substates"] = {k: v for k, v in substates.items() if k != move.close_substate}
    changed = await session.exec(update(Record).where(  # type: ignore[call-overload]
        Record.id == record_id, Record.moves == record.moves).values(**values))
    if changed.rowcount != 1:
        await session.rollback()
        current = await session.get(Record, record_id, populate_existing=True)
        raise MovedMeanwhile(f"record {record_id} moved meanwhile: it is now in "
                          f"'{current.status if current else '?'}'; nothing was changed")
    await session.refresh(record)
    data = {"from": previous, "to": record.status, "reason": move.reason, "by": move.actor,
            "pipeline": pipeline.key if pipeline else None, "move": number}
    if move.open_substate or move.close_substate:
        data["substate"] = move.open_substate or move.close_substate
    session.add(HistoryEntry(record_id=record_id, step_key=move.step_key, kind=move.kind, text=_text(move, previous),
                             workflow_id=move.workflow_id, phase_key=move.phase_key, actor=move.actor[:200],
                             data=data))
    event_key = f"{move.step_key}/{move.kind.value}" if move.step_key else None
    common = {"record_id": record_id, "actor": move.actor[:200], "actor_user_id": move.actor_user_id,
              "step_key": event_key, "status": record.status}
    if move.to is not None:
        event = RecordEvent(kind=RecordEventKind.status_changed, previous_status=previous,
                            previous_visit=previous_visit, visit=number, previous_substates=substates, **common)
    else:
        name = move.open_substate or move.close_substate
        event = RecordEvent(kind=RecordEventKind.substate_opened if move.open_substate else
                            RecordEventKind.substate_closed, substate=name,
                            visit=number if move.open_substate else substates.get(name or ""), **common)
    session.add(event)
    return Moved(record=record, previous=previous, events=[event], pipeline=pipeline,
                 pipeline_version=row.version if row is not None else None)


async def creation_status(session: AsyncSession, record: Record, status_given: bool) -> None:
    """A new record of a type a pipeline lists starts in its type's initial status; a status given with it must be
    one of its type's (an import of records already under way)."""
    pipeline = await pipeline_store.governing(session, record.kind, record.type, to_write=True)
    if pipeline is None:
        return
    if not status_given:
        record.status = pipeline.initial(record.type)
        return
    if record.status not in (sequence := pipeline.sequence(record.type)):
        raise MoveRefused(f"{with_article(record.kind.value)} of type '{record.type}' cannot be in '{record.status}'; "
                          f"its statuses: {', '.join(sequence)} (default: {pipeline.initial(record.type)})")


async def change_type(session: AsyncSession, record: Record, new_type: str, status: str | None, *, actor: str,
                      actor_user_id: int | None, locale: str) -> None:
    """Give the record another type: it keeps its status when the new type allows it; otherwise `status` must name
    one the new type allows, else `MoveRefused` with the statuses it may pick from (nothing changes). One history
    line; a status that changes is a move (its counter, its record event)."""
    pipeline = await pipeline_store.governing(session, record.kind, new_type, to_write=True)
    target = status or record.status
    if pipeline is not None and target not in (sequence := pipeline.sequence(new_type)):
        raise MoveRefused(f"record {record.id} cannot be of type '{new_type}' in '{target}'; pick one of its "
                          f"statuses: {', '.join(sequence)}")
    previous_type, previous, previous_visit = record.type, record.status, record.visit
    previous_substates = dict(record.substates or {})
    number = record.moves + 1
    values: dict[str, object] = {"type": new_type, "moves": number, "updated_at": utcnow()}
    if target != previous:
        values.update(status=target, visit=number, substates={})
    changed = await session.exec(update(Record).where(  # type: ignore[call-overload]
        Record.id == record.id, Record.moves == record.moves).values(**values))
    if changed.rowcount != 1:
        await session.rollback()
        raise MovedMeanwhile(f"record {record.id} moved meanwhile; nothing was changed")
    await session.refresh(record)
    said = partial(history_text, locale)
    text = said("type_changed", previous=previous_type, type=new_type) + (
        said("type_status", previous=previous, status=target) if target != previous else "") + (
        said("by_actor", actor=actor) if actor else "")
    session.add(HistoryEntry(record_id=record.id, kind=HistoryKind.type_changed, text=text, actor=actor[:200],
                             data={"from_type": previous_type, "to_type": new_type, "from": previous, "to": target,
                                   "move": number}))
    if target != previous:
        session.add(RecordEvent(record_id=record.id, kind=RecordEventKind.status_changed, status=target,
                                previous_status=previous, previous_visit=previous_visit, visit=number,
                                previous_substates=previous_substates,
                                actor=actor[:200], actor_user_id=actor_user_id))
