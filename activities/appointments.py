"""The `appointment` action: a calendar entry emailed as an invitation with an iCalendar (.ics) attachment.

The entry's UID comes from the step key without its iteration, so a phase that runs again sends an update
of the same entry; its SEQUENCE is 2 × the iteration for an invitation and one more for its cancellation,
so each supersedes the one before it in the attendees' calendars. A cancellation (the phase skipped, the
process aborted: `workflows/appointments.py`) re-sends the stored invitation as METHOD:CANCEL. The start
is the phase's start date plus `after_days`, at `at` in the installation's TIMEZONE (with its VTIMEZONE), a day later
when that time had passed as the phase started (`appointment_start`). The
invitation's subject is in the action's language (else the template's, else LOCALE), a cancellation's in LOCALE, with
why in LOCALE's words too (staff's reason for a skip or an abort as they wrote it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Literal

from babel.dates import format_date, format_time
from icalendar import Calendar, Event, vCalAddress
from pydantic import BaseModel
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities import bookkeeping
from activities.deps import Deps
from activities.engine_words import say
from activities.mailer import Attachment, sender_parts
from activities.outbox import send_once
from activities.send_email import resolve_recipient
from activities.step import ActionResult, OnceStep, StepInput, render, render_variables, step_activity
from crm.models import HistoryKind, OutboxMessage
from crm.types import utcnow
from processes.action_kinds import Appointment
from processes.history_words import english, said

PRODID = "-//Stagecoach//Process appointments//EN"


class AppointmentInput(BaseModel):
    step: StepInput
    action: Appointment
    where: str = "appointment"


CancelCause = Literal["phase_skipped", "process_aborted"]  # keys of activities/engine_words.py


class CancelAppointmentInput(BaseModel):
    """Cancel the appointment an `appointment` step sent (`step_key`), if it sent one, saying why: `cause` in
    LOCALE's words (the `phase` skipped, the process aborted), then staff's `detail` as they wrote it."""

    step_key: str
    reason: str = ""  # said as it is: why, as a workflow scheduled before `cause` wrote it (in English)
    cause: CancelCause | None = None
    phase: str = ""
    detail: str = ""


def reason_text(input: CancelAppointmentInput, text: Callable[..., str]) -> str:
    """Why the appointment is cancelled, in the words `text` says."""
    if input.cause is None:
        return input.reason
    cause = text(input.cause, phase=input.phase)
    return f"{cause}: {input.detail}" if input.detail else cause


def uid_for(step_key: str) -> str:
    entry = step_key.rsplit("/", 1)[0]  # {workflow}/{phase}/{action}: the same entry in every iteration
    return f"{hashlib.sha256(entry.encode()).hexdigest()[:32]}@stagecoach"


def iteration_of(step_key: str) -> int:
    last = step_key.rsplit("/", 1)[-1]
    return int(last) if last.isdigit() else 0


def invitation(*, uid: str, sequence: int, start: datetime, end: datetime, title: str, description: str,
               location: str, organizer: str, attendees: list[str]) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", utcnow())
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", title)
    if description:
        event.add("description", description)
    if location:
        event.add("location", location)
    event.add("status", "CONFIRMED")
    name, address = sender_parts(organizer)  # `SMTP_FROM` may be `Agenzia Rossi <agenzia@rossi.example>`
    organizer_address = vCalAddress(f"mailto:{address}")
    if name:
        organizer_address.params["CN"] = name
    event.add("organizer", organizer_address, encode=False)
    for address in attendees:
        attendee = vCalAddress(f"mailto:{address}")
        attendee.params["ROLE"], attendee.params["RSVP"] = "REQ-PARTICIPANT", "TRUE"
        event.add("attendee", attendee, encode=False)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def said_when(start: datetime, locale: str) -> str:
    """When an appointment is, as its email says it: "lunedì 7 dicembre 2026, 18:30 CET" (the zone's short name; no
    seconds, no "Ora standard dell'Europa centrale")."""
    return f"{format_date(start, 'full', locale=locale)}, {format_time(start, 'short', locale=locale)} {start:%Z}"


def cancellation(ics: bytes) -> tuple[bytes, str, datetime | None]:
    """The invitation as a cancellation (same UID, next SEQUENCE); its title and start."""
    calendar = Calendar.from_ical(ics)
    calendar["method"] = "CANCEL"
    [event] = calendar.walk("VEVENT")
    event["sequence"] = int(event.get("sequence", 0)) + 1
    event["status"] = "CANCELLED"
    event.pop("dtstamp")
    event.add("dtstamp", utcnow())
    start = event.decoded("dtstart") if "dtstart" in event else None
    return calendar.to_ical(), str(event.get("summary", "")), start if isinstance(start, datetime) else None


def appointment_start(started: datetime, after_days: int, at: str, zone: tzinfo) -> datetime:
    """The phase's start date plus `after_days`, at `at` in `zone`: a day later when that time has passed at the
    phase's start (`at: "09:00"` in a phase that started at 15:00 is tomorrow's 09:00, not an invitation for a time
    gone); a time the clocks skip that night (02:30 when they go forward) is the time it becomes (03:30)."""
    day = started.astimezone(zone).date() + timedelta(days=after_days)
    start = datetime.combine(day, time.fromisoformat(at), tzinfo=zone)
    if start <= started:
        start = datetime.combine(day + timedelta(days=1), time.fromisoformat(at), tzinfo=zone)
    return start.astimezone(UTC).astimezone(zone)


class AppointmentActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @step_activity("appointment")
    async def appointment(self, input: AppointmentInput) -> ActionResult:
        action, settings = input.action, self.deps.settings
        once = await OnceStep.prepare(self.deps, input.step)
        locale = action.locale or once.step.locale or settings.locale
        start = appointment_start(once.step.phase_started_at or utcnow(), action.after_days, action.at, settings.zone)
        end = start + timedelta(minutes=action.duration_minutes)
        uid, sequence = uid_for(once.step.step_key), 2 * iteration_of(once.step.step_key)

        async def compose(session: AsyncSession) -> tuple[str, str, str, list[Attachment]]:
            texts = {"title": action.title, "description": action.description, "location": action.location}
            variables = await render_variables(session, once.step, utcnow(), list(texts.values()))
            shown = {name: await render(self.deps, once.step, text, variables, f"{input.where}.{name}", locale)
                     if text else "" for name, text in texts.items()}
            title, location = " ".join(shown["title"].split()), " ".join(shown["location"].split())
            description = shown["description"]
            attendees = list(dict.fromkeys([await resolve_recipient(session, once.step, role)
                                            for role in action.attendees]))
            ics = invitation(uid=uid, sequence=sequence, start=start, end=end, title=title, description=description,
                             location=location, organizer=self.deps.mailer.sender, attendees=attendees)
            when = said_when(start, locale)
            body = "\n".join((title, when, location, "", description))
            subject = say(locale)("updated_invitation" if sequence else "invitation", title=title)
            return (", ".join(attendees), subject,
                    body.strip() + "\n", [Attachment("invite.ics", "text/calendar; method=REQUEST", ics)])

        message = await send_once(self.deps, step_key=once.step.step_key, workflow_id=once.step.workflow_id,
                                  record_id=once.step.record_id, compose=compose, phase_key=once.step.phase_key,
                                  history_kind=HistoryKind.appointment_sent, history=said("invitation_sent"),
                                  before=once.before, after=once.after())
        return ActionResult(summary=english("summary_invitation", outcome=message.status.value, message=message.id,
                                            when=f"{start:%Y-%m-%d %H:%M} {settings.timezone}"),
                            data={"outbox_message_id": message.id, "uid": uid, "sequence": sequence},
                            responsible_id=once.step.responsible_id)

    @activity.defn(name="cancel_appointment")
    async def cancel_appointment(self, input: CancelAppointmentInput) -> ActionResult:
        async with self.deps.sessions() as session:
            query = select(OutboxMessage).where(OutboxMessage.step_key == input.step_key)
            sent = (await session.exec(query)).first()
        if sent is None or not sent.attachments:
            return ActionResult(summary=english("summary_no_invitation"))
        ics, title, start = cancellation(Attachment.from_stored(sent.attachments[0]).data)

        async def compose(session: AsyncSession) -> tuple[str, str, str, list[Attachment]]:
            text = say(self.deps.settings.locale)
            reason = reason_text(input, text)
            why = text("cancelled_why", reason=reason) if reason else text("cancelled_text")
            when = said_when(start, self.deps.settings.locale) if start is not None else ""  # which one is off
            return (sent.to_address, text("cancelled", title=title), f"{title}\n{when}\n\n{why}\n",
                    [Attachment("cancel.ics", "text/calendar; method=CANCEL", ics)])

        message = await send_once(self.deps, step_key=f"{input.step_key}/cancel", workflow_id=sent.workflow_id,
                                  record_id=sent.record_id, compose=compose,
                                  history_kind=HistoryKind.appointment_cancelled,
                                  history=said("appointment_cancelled"))
        return ActionResult(summary=english("summary_cancellation", outcome=message.status.value, message=message.id),
                            data={"outbox_message_id": message.id})
