"""Events staff add by hand to a record's timeline (a case's, a contact's...): a note, an email, a call or a
meeting, with its date and a description, optionally telling chosen users by email (in LOCALE's language:
`activities/engine_words.py`).

The timeline is the record's history (`GET /records/{id}/history`): these events sit there beside what
happened by itself (tasks, emails sent, processes, participants, state changes).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from fastapi import APIRouter
from pydantic import BaseModel, Field

from activities.engine_words import say
from api.deps import SessionDep, SettingsDep, StaffDep, TemporalDep
from api.notices import queue_notices, send_notices
from api.routers.records import get_record_or_404
from crm.models import HistoryEntry, HistoryEntryPublic, HistoryKind
from crm.types import utcnow
from processes.sent_values import WholeNumber, WrittenAwareDatetime

router = APIRouter(prefix="/records", tags=["records"])


class EventKind(str, Enum):
    note = "note"
    email = "email"
    call = "call"
    meeting = "meeting"


_HISTORY = {EventKind.note: HistoryKind.note, EventKind.email: HistoryKind.email_logged,
            EventKind.call: HistoryKind.call, EventKind.meeting: HistoryKind.meeting}


class EventCreate(BaseModel):
    kind: EventKind
    description: str = Field(min_length=1, max_length=10_000)
    occurred_at: WrittenAwareDatetime | None = Field(None,
                                                     description="when it happened, with its zone; now when empty")
    notify_user_ids: list[WholeNumber] = Field(default_factory=list, max_length=500,
                                               description="users told by email of the event")


@router.post("/{record_id}/events", status_code=201, response_model=HistoryEntryPublic)
async def add_event(record_id: int, body: EventCreate, session: SessionDep, temporal: TemporalDep,
                    settings: SettingsDep, principal: StaffDep) -> HistoryEntry:
    """Add an event to the record's timeline; each user in `notify_user_ids` is told by email, in LOCALE's
    language."""
    record = await get_record_or_404(session, record_id, principal)
    occurred: datetime = body.occurred_at or utcnow()
    entry = HistoryEntry(record_id=record_id, kind=_HISTORY[body.kind], text=body.description, actor=principal.actor,
                         data={"by_hand": True, "occurred_at": occurred.isoformat(),
                               "notified_user_ids": list(dict.fromkeys(body.notify_user_ids))})
    session.add(entry)
    await session.flush()
    key = f"record/{record_id}/event/{entry.id}"
    text = say(settings.locale)
    kind = text(f"event_{body.kind.value}")  # "Call", "Telefonata"
    notices = await queue_notices(
        session, settings, key=key, record_id=record_id, user_ids=body.notify_user_ids,
        subject=text("event", kind=kind, record=record.title),
        body=text("event_text", kind=kind, when=settings.show(occurred), record=record.title, record_id=record_id,
                  description=body.description))
    await session.commit()
    await send_notices(temporal, settings, key, notices)
    return entry
