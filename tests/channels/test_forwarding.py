"""`forward_email` (the record's last logged email, the last one a process sent with its attachments) and
`notify_owner` (the property's owner, the record's owner, with recent history), received by a real SMTP server."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from temporalio.testing import WorkflowEnvironment

from crm.models import HistoryEntry, HistoryKind, RecordKind
from processes.instance import ProcessStatus
from tests.factories import Factory
from tests.faults.conftest import smtp_server
from tests.polling import eventually
from tests.workflows.helpers import final_state, running_worker, start, template, until


def plain(message: Any) -> str:
    """The text of a message received, its lines ending in \\n."""
    return str(message.get_body().get_content()).replace("\r\n", "\n")


async def test_forwards_and_owner_notices_reach_their_people(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    client = time_skipping_env.client
    agent = await factory.user(name="Marco Verdi", email="marco@agency.example")
    seller = await factory.record(kind=RecordKind.contact, title="Anna Kowalska", email="anna@example.org")
    flat = await factory.record(owner=agent, kind=RecordKind.property, title="Villa Łódź", email=None,
                                contact_id=seller.id, status="Published")
    async with sessions() as session:
        session.add(HistoryEntry(record_id=flat.id, kind=HistoryKind.email_logged, actor="marco",
                                 text="Buongiorno, vorrei visitare la villa sabato. Perché no?",
                                 data={"by_hand": True, "occurred_at": "2026-11-30T09:15:00+00:00"}))
        await session.commit()
    phases = [
        {"key": "forward", "name": "Forward", "actions": [
            {"forward_email": {"to": "responsible", "note": "Da gestire, {{ responsible.name }}."}},
            {"letter": {"name": "Scheda", "html": "<p>{{ record.title }}</p>",
                        "email": {"to": "seller@example.org", "subject": "Scheda", "body": "In allegato."}}},
            {"forward_email": {"to": "archive@agency.example", "email": "last_sent"}}]},
        {"key": "tell", "name": "Tell the owner", "actions": [
            {"notify_owner": {}},
            {"notify_owner": {"to": "record_owner", "subject": "Aggiornamento: {{ record.title }}",
                              "message": "{{ record.title }}: {{ record.status }}", "history": 3}}]}]
    async with smtp_server() as smtp, running_worker(client, sessions, task_queue, smtp_host="127.0.0.1",
                                                     smtp_port=smtp.port, smtp_from="agenzia@agency.example"):
        handle = await start(client, task_queue, template(*phases, record_kind="property"), flat.id, agent.id)
        state = await asyncio.wait_for(final_state(handle), 60)

        async def all_mail() -> bool:
            return len(smtp.seen()) == 5
        await eventually(all_mail, 30, "two forwards, the letter and two owner notices")

    assert state.status is ProcessStatus.completed, state
    mail = {(str(d.message["To"]), str(d.message["Subject"])): d.message for d in smtp.seen()}
    forward = mail["marco@agency.example", "Fwd: Email of Nov 30, 2026 9:15 AM UTC"]
    text = forward.get_body().get_content()
    assert text.startswith("Da gestire, Marco Verdi.") and "---------- Forwarded message ----------" in text
    assert "Logged by: marco" in text and "vorrei visitare la villa sabato. Perché no?" in text
    archived = mail["archive@agency.example", "Fwd: Scheda"]
    assert str(archived["Subject"]) == "Fwd: Scheda" and "Subject: Scheda" in archived.get_body().get_content()
    [attached] = list(archived.iter_attachments())
    assert attached.get_filename() == "Scheda.pdf" and attached.get_content_type() == "application/pdf"
    owner = mail["anna@example.org", "Villa Łódź: Published"]
    assert "Your contact: Marco Verdi, marco@agency.example" in owner.get_body().get_content()
    body = mail["marco@agency.example", "Aggiornamento: Villa Łódź"].get_body().get_content()
    assert "Recent activity:" in body
    assert "Owner notified: 'Villa Łódź: Published' to anna@example.org" in body, "the last lines of the history"


async def test_with_locale_it_the_forwards_and_the_owner_notice_are_in_italian(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    client = time_skipping_env.client
    agent = await factory.user(name="Marco Verdi", email="marco@agency.example")
    colleague = await factory.user(name="Chiara Blu", email="chiara@agency.example")
    seller = await factory.record(kind=RecordKind.contact, title="Anna Kowalska", email="anna@example.org")
    flat = await factory.record(owner=agent, kind=RecordKind.property, title="Villa Łódź", email=None,
                                contact_id=seller.id, status="Pubblicata")
    async with sessions() as session:
        session.add(HistoryEntry(record_id=flat.id, kind=HistoryKind.email_logged, actor="marco",
                                 text="Buongiorno, vorrei visitare la villa sabato.",
                                 data={"by_hand": True, "occurred_at": "2026-11-30T09:15:00+00:00"}))
        await session.commit()
    actions = [{"forward_email": {"to": "responsible"}},
               {"letter": {"name": "Scheda", "html": "<p>{{ record.title }}</p>",
                           "email": {"to": "seller@example.org", "subject": "Scheda", "body": "In allegato."}}},
               {"forward_email": {"to": "archive@agency.example", "email": "last_sent"}},
               {"notify_owner": {"history": 2}},  # its subject and message: the defaults, as notify's below
               {"notify": {"users": [colleague.handle]}}]
    async with smtp_server() as smtp, running_worker(client, sessions, task_queue, smtp_host="127.0.0.1",
                                                     smtp_port=smtp.port, smtp_from="agenzia@agency.example",
                                                     locale="it"):
        handle = await start(client, task_queue, template({"key": "tell", "name": "Avvisi", "actions": actions},
                                                          record_kind="property"), flat.id, agent.id)
        state = await asyncio.wait_for(final_state(handle), 60)

        async def all_mail() -> bool:
            return len(smtp.seen()) == 5
        await eventually(all_mail, 30, "two forwards, the letter, the owner's notice and the colleague's")

    assert state.status is ProcessStatus.completed, state
    mail = {str(d.message["To"]): d.message for d in smtp.seen()}
    forward = mail["marco@agency.example"]
    assert str(forward["Subject"]) == "Fwd: Email del 30 nov 2026 09:15 UTC"
    assert plain(forward) == ("---------- Messaggio inoltrato ---------\nRegistrata da: marco\n"
                              "Data: 30 nov 2026 09:15 UTC\n\nBuongiorno, vorrei visitare la villa sabato.\n")
    archived = mail["archive@agency.example"]
    text = plain(archived)
    assert str(archived["Subject"]) == "Fwd: Scheda" and text.startswith("---------- Messaggio inoltrato ---------\n")
    assert "\nDa: agenzia@agency.example\nData: " in text and "\nOggetto: Scheda\nA: seller@example.org\n" in text
    owner = mail["anna@example.org"]
    text = plain(owner)
    assert str(owner["Subject"]) == "Villa Łódź: Pubblicata"
    assert text.startswith("Buongiorno,\n\nun aggiornamento su Villa Łódź.\n\nStato: Pubblicata\n"), text
    assert "Processo: " in text and ", fase: Avvisi\n" in text
    assert "Il suo referente: Marco Verdi, marco@agency.example" in text and "\n\nCronologia recente:\n- " in text
    months = "gen|feb|mar|apr|mag|giu|lug|ago|set|ott|nov|dic"
    assert re.search(rf"\n- \d{{1,2}} ({months}) \d{{4}} \d{{2}}:\d{{2}} UTC  ", text), text
    assert plain(mail["chiara@agency.example"]) == "Villa Łódź è ora nello stato Pubblicata.\n"


async def test_nothing_to_forward_is_an_incident(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    forward = template({"key": "fwd", "name": "Forward", "actions": [{"forward_email": {"email": "last_sent"}}]})
    owner = await factory.user()
    record = await factory.record(owner=owner, title="Nothing sent yet")
    async with running_worker(time_skipping_env.client, sessions, task_queue):
        handle = await start(time_skipping_env.client, task_queue, forward, record.id, owner.id)

        incident = (await until(handle, lambda s: s.incident is not None)).incident
    assert incident is not None and incident.error_type == "NothingToForward"
    assert f"no process has sent an email about record {record.id} yet" in incident.message
