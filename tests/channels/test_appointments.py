"""The `appointment` action: invitations with an .ics received by a real SMTP server (aiosmtpd) and parsed back;
updated when the phase runs again, cancelled when it is skipped or the process aborted."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from activities.appointments import appointment_start
from crm.models import HistoryKind, OutboxMessage
from processes.instance import AbortRequest, ProcessStatus, SkipPhaseRequest
from tests.factories import Factory
from tests.faults.conftest import smtp_server
from tests.polling import eventually
from tests.workflows.helpers import final_state, history, running_worker, start, template, until
from workflows.process import ProcessWorkflow

ROME = ZoneInfo("Europe/Rome")
VISIT = {"appointment": {"title": "Sopralluogo: {{ record.title }}", "location": "{{ record.fields.address }}",
                         "description": "Visita con {{ responsible.name }}", "after_days": 2, "at": "10:30",
                         "duration_minutes": 45}}


def calendars(smtp: Any, to: str) -> list[tuple[str, Calendar]]:
    """(subject, calendar) of every message the SMTP server got for `to`, in order."""
    found = []
    for delivery in smtp.seen():
        if to in str(delivery.message["To"]):
            [part] = [p for p in delivery.message.iter_attachments() if p.get_content_type() == "text/calendar"]
            found.append((str(delivery.message["Subject"]), Calendar.from_ical(part.get_payload(decode=True))))
    return found


def event(calendar: Calendar) -> Any:
    [vevent] = calendar.walk("VEVENT")
    return vevent


async def test_invitations_are_sent_updated_and_cancelled(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    client = time_skipping_env.client
    owner = await factory.user(name="Marco Verdi", email="marco@agency.example")
    records = {name: await factory.record(owner=owner, title=f"Villa {name}", email=f"{name}@example.org",
                                          fields={"address": "Via Roma 3, Cefalù"})
               for name in ("skipped", "aborted", "looped")}
    manual = {"key": "visit", "name": "Site visit", "completion": "manual", "actions": [VISIT]}
    looped = {"key": "visit", "name": "Site visit", "actions": [VISIT],
              "decision": [{"when": "phases.visit.iteration < 1", "goto": "visit"}]}
    async with smtp_server() as smtp, running_worker(client, sessions, task_queue, smtp_host="127.0.0.1",
                                                     smtp_port=smtp.port,
                                                     smtp_from="Agenzia Rossi <agenzia@agency.example>",
                                                     timezone="Europe/Rome"):
        handles = {name: await start(client, task_queue, template(manual if name != "looped" else looped),
                                     records[name].id, owner.id) for name in records}
        for name in ("skipped", "aborted"):
            await until(handles[name], lambda s: s.phases[0].status.value == "running" and bool(s.phases[0].actions))
        await handles["skipped"].execute_update(ProcessWorkflow.skip_phase,
                                                SkipPhaseRequest(phase="visit", reason="client cancelled", actor="t"))
        await handles["aborted"].execute_update(ProcessWorkflow.abort, AbortRequest(reason="sold", actor="t"))
        states = {name: await asyncio.wait_for(final_state(handle), 30) for name, handle in handles.items()}

        async def all_mail() -> bool:
            return len(smtp.seen()) == 6
        await eventually(all_mail, 30, "2 invitations and a cancellation for each kind of process")

    assert states["skipped"].status is ProcessStatus.completed and states["aborted"].status is ProcessStatus.aborted
    assert states["looped"].status is ProcessStatus.completed
    for name in ("skipped", "aborted"):
        [(subject, invite), (cancel_subject, cancel)] = calendars(smtp, f"{name}@example.org")
        assert subject == f"Invitation: Sopralluogo: Villa {name}" and cancel_subject.startswith("Cancelled:")
        first, last = event(invite), event(cancel)
        assert invite["method"] == "REQUEST" and cancel["method"] == "CANCEL"
        assert last["uid"] == first["uid"] and last["sequence"] > first["sequence"] and last["status"] == "CANCELLED"
        begins = first.decoded("dtstart")
        assert begins.tzinfo is not None and str(begins.tzinfo) == "Europe/Rome"
        assert (begins.hour, begins.minute) == (10, 30) and first.decoded("dtend") - begins == timedelta(minutes=45)
        started = states[name].phases[0].started_at
        assert started is not None and begins.date() == started.astimezone(ROME).date() + timedelta(days=2)
        assert invite.walk("VTIMEZONE"), "the time zone travels with the invitation"
        assert str(first["location"]) == "Via Roma 3, Cefalù" and str(first["description"]) == "Visita con Marco Verdi"
        attendees = sorted(str(a) for a in first.get("attendee"))
        assert attendees == sorted([f"mailto:{name}@example.org", "mailto:marco@agency.example"])
        # SMTP_FROM with a display name: the address alone, the name as CN (it was "mailto:Agenzia Rossi <...>")
        assert str(first["organizer"]) == "mailto:agenzia@agency.example"
        assert first["organizer"].params["CN"] == "Agenzia Rossi"
        kinds = [e.kind for e in await history(sessions, handles[name].id)]
        assert kinds.count(HistoryKind.appointment_sent) == 1 and kinds.count(HistoryKind.appointment_cancelled) == 1
    [(first_subject, first), (update_subject, update)] = calendars(smtp, "looped@example.org")
    assert update_subject.startswith("Updated invitation") and update["method"] == "REQUEST"
    assert event(update)["uid"] == event(first)["uid"] and event(update)["sequence"] > event(first)["sequence"]
    assert [a.status for a in states["skipped"].phases[0].actions] == ["cancelled"]
    # the Message-ID kept in the outbox is the one sent, on the sender's domain (it had been "<...@agency.example>>")
    async with sessions() as session:
        kept = {row.message_id for row in (await session.exec(select(OutboxMessage))).all()}
    sent = {str(delivery.message["Message-ID"]) for delivery in smtp.seen()}
    assert sent <= kept and all(m.endswith("@agency.example>") and not m.endswith(">>") for m in sent)
    # the same UID for another process's appointment? never
    assert len({str(event(c)["uid"]) for name in records for _, c in calendars(smtp, f"{name}@example.org")}) == 3


async def test_with_locale_it_a_cancellation_says_why_in_italian(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    client = time_skipping_env.client
    owner = await factory.user(name="Marco Verdi", email="marco@agency.example")
    records = {name: await factory.record(owner=owner, title=f"Villa {name}", email=f"{name}@example.org",
                                          fields={"address": "Via Roma 3, Cefalù"})
               for name in ("skipped", "aborted")}
    manual = {"key": "visit", "name": "Sopralluogo", "completion": "manual", "actions": [VISIT]}
    async with smtp_server() as smtp, running_worker(client, sessions, task_queue, smtp_host="127.0.0.1",
                                                     smtp_port=smtp.port, smtp_from="agenzia@agency.example",
                                                     timezone="Europe/Rome", locale="it"):
        handles = {name: await start(client, task_queue, template(manual), records[name].id, owner.id)
                   for name in records}
        for handle in handles.values():
            await until(handle, lambda s: s.phases[0].status.value == "running" and bool(s.phases[0].actions))
        await handles["skipped"].execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(
            phase="visit", reason="il cliente ha disdetto", actor="t"))
        await handles["aborted"].execute_update(ProcessWorkflow.abort, AbortRequest(reason="venduta", actor="t"))
        for handle in handles.values():
            await asyncio.wait_for(final_state(handle), 30)

        async def all_mail() -> bool:
            return len(smtp.seen()) == 4
        await eventually(all_mail, 30, "an invitation and its cancellation for each process")

    why = {"skipped": "fase 'Sopralluogo' saltata: il cliente ha disdetto", "aborted": "processo interrotto: venduta"}
    for name in records:
        [invited, cancelled] = [d.message for d in smtp.seen() if f"{name}@example.org" in str(d.message["To"])]
        assert str(invited["Subject"]) == f"Invito: Sopralluogo: Villa {name}"
        assert str(cancelled["Subject"]) == f"Annullato: Sopralluogo: Villa {name}"
        # each says when, as people write it (it said "18:30:00 Ora standard dell'Europa centrale"), the
        # cancellation too (it did not say which appointment was off)
        when = re.search(r"^\w+ \d{1,2} \w+ \d{4}, 10:30 CES?T$", invited.get_body(preferencelist=("plain",))
                         .get_content().replace("\r\n", "\n"), re.M)
        assert when is not None, invited.get_body(preferencelist=("plain",)).get_content()
        text = cancelled.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
        assert text == f"Sopralluogo: Villa {name}\n{when[0]}\n\nQuesto appuntamento è annullato: {why[name]}\n", text


def test_a_time_already_passed_at_the_phase_start_is_the_next_days_and_a_skipped_hour_the_one_after() -> None:
    """`at: "09:00"` in a phase that started at 15:00 sent an invitation for 09:00 that morning, six hours gone"""
    started = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)  # 15:00 in Rome
    assert appointment_start(started, 0, "09:00", ROME) == datetime(2026, 12, 7, 9, 0, tzinfo=ROME)
    assert appointment_start(started, 0, "16:30", ROME) == datetime(2026, 12, 6, 16, 30, tzinfo=ROME)
    assert appointment_start(started, 2, "09:00", ROME) == datetime(2026, 12, 8, 9, 0, tzinfo=ROME)
    # the night the clocks go forward in Rome (28 March 2027) has no 02:30: it is 03:30 summer time
    spring = appointment_start(datetime(2027, 3, 27, 10, 0, tzinfo=UTC), 1, "02:30", ROME)
    assert spring.astimezone(UTC) == datetime(2027, 3, 28, 1, 30, tzinfo=UTC) and spring.hour == 3
