"""Record events: the changes to a record that may start processes (autostart).

Whoever changes a record (the API, the `set_status` and `write_values` activities)
adds the events in the transaction of the change, so an event exists exactly when
its change was committed. `RecordEventsWorkflow` dispatches them afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from crm.models import Record, RecordEvent, RecordEventKind


class RecordValues(Protocol):
    status: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class RecordSnapshot:
    """What a change is compared against: the record's status and free fields before it."""

    status: str
    fields: dict[str, Any] = field(default_factory=dict)


def snapshot(record: Record) -> RecordSnapshot:
    return RecordSnapshot(status=record.status, fields=dict(record.fields or {}))


_ABSENT = object()


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The free fields added, changed or removed, sorted."""
    return sorted(name for name in before.keys() | after.keys()
                  if before.get(name, _ABSENT) != after.get(name, _ABSENT))


def add_record_events(session: AsyncSession, before: RecordValues | None, after: Record, *, actor: str,
                      actor_user_id: int | None, step_key: str | None = None) -> list[RecordEvent]:
    """Add the events of a change to the session (the caller commits them with the change).

    `before` is None when the record was just created (it must have its id: flush first).
    A created record has one `created` event; a changed one a `status_changed` event when
    its status differs and a `field_changed` event listing the free fields whose value
    changed. With a `step_key` (a process step made the change) each event is keyed
    `{step_key}/{kind}`, so a retried step cannot add a second one.
    """
    assert after.id is not None, "flush the record before recording its events"
    events: list[RecordEvent] = []

    def add(kind: RecordEventKind, **values: Any) -> None:
        events.append(RecordEvent(record_id=after.id, kind=kind, actor=actor[:200], actor_user_id=actor_user_id,
                                  step_key=f"{step_key}/{kind.value}" if step_key else None, **values))

    if before is None:
        add(RecordEventKind.created, status=after.status, visit=after.visit)  # it enters its initial status
    else:
        if after.status != before.status:
            add(RecordEventKind.status_changed, status=after.status)
        if fields := changed_fields(before.fields or {}, after.fields or {}):
            add(RecordEventKind.field_changed, fields=fields)
    session.add_all(events)
    return events
