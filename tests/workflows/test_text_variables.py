"""Text sees what conditions see: `answers` given when a manual phase completed, and `phases` outcomes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from temporalio.testing import WorkflowEnvironment

from crm.models import HistoryKind
from processes.instance import CompletePhaseRequest
from tests.factories import Factory
from tests.workflows.helpers import history, outbox, running_worker, start, template, until
from workflows.process import ProcessWorkflow

GERMAN_MONTHS = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
                 "November", "Dezember"]


async def test_answers_and_phases_render_in_text_after_a_manual_phase(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner, title="Villa on the lake", fields={"price": 450000})
    doc = template(
        {"key": "visit", "name": "Visit", "completion": "manual", "deadline_days": 3},
        {"key": "report", "name": "Report", "actions": [
            {"add_history": {"text": "Esito: {{ answers.esito }}; nota: {{ answers.nota | default('-') }}; "
                                     "visit {{ phases.visit.status }} (overdue: {{ phases.visit.overdue }})"}},
            {"send_email": {"to": "controller", "subject": "{{ record }}: {{ answers.esito }}",
                            "body": "{{ record.fields.price | currency }}, {{ answers.esito }}",
                            "locale": "it"}}]},
        locale="de")
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue, timezone="Europe/Rome"):
        handle = await start(client, task_queue, doc, record.id, owner.id)
        await until(handle, lambda s: s.phases[0].task_id is not None)
        await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest(answers={"esito": "sì"}))
        state = await handle.result()
    assert state.status.value == "completed"
    notes = [e.text for e in await history(sessions, handle.id) if e.kind is HistoryKind.note]
    assert notes == ["Esito: sì; nota: -; visit done (overdue: False)"]
    [email] = await outbox(sessions, handle.id)
    assert (email.subject, email.body) == ("Villa on the lake: sì", "450.000\u00a0€, sì")


async def test_dates_show_in_the_template_locale_and_the_office_time_zone(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    doc = template({"key": "call", "name": "Call", "deadline_days": 2, "actions": [
        {"add_history": {"text": "{{ phase.deadline | date }} {{ phase.deadline | time }} "
                                 "{{ phase.deadline.strftime('%H:%M') }} {{ now.strftime('%H:%M') }}"}}]},
        locale="de")
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue, timezone="Asia/Tokyo"):
        handle = await start(client, task_queue, doc, record.id, owner.id)
        state = await handle.result()
    deadline = state.phases[0].deadline_at
    assert deadline is not None
    [note] = [e.text for e in await history(sessions, handle.id) if e.kind is HistoryKind.note]
    tokyo = deadline.astimezone(ZoneInfo("Asia/Tokyo"))
    # the filters and strftime agree, in Tokyo's time, the date written in German
    assert note.startswith(f"{tokyo.day}. {GERMAN_MONTHS[tokyo.month - 1]} {tokyo.year} {tokyo:%H:%M} {tokyo:%H:%M} ")
    started = (deadline - timedelta(days=2)).astimezone(ZoneInfo("Asia/Tokyo"))  # about when it rendered
    shown = datetime.strptime(note.rsplit(" ", 1)[1], "%H:%M").replace(
        year=started.year, month=started.month, day=started.day, tzinfo=started.tzinfo)
    assert abs((shown - started).total_seconds()) % 86400 < 180
