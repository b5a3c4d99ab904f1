"""Text sees what conditions see: `answers` given when a manual phase completed, and `phases` outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event

from temporalio.testing import WorkflowEnvironment

from activities.step import StepInput, render_variables
from crm.models import HistoryKind
from processes.action_kinds import WEBHOOK_BODY
from processes.instance import CompletePhaseRequest
from processes.rendering import render_text
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


async def test_a_text_reading_only_what_the_step_knows_reads_nothing_from_the_database(
        sessions: Any, factory: Factory) -> None:
    # the webhook's default body reads the record's id and the process's id and template: no query for them; a text
    # reading more of the record (or the process's owner) loads it, and both render as with every variable loaded
    owner = await factory.user("Maria Rossi")
    record = await factory.record(owner=owner, title="Villa on the lake")
    step = StepInput(step_key="wf/p/0/1", workflow_id="wf", record_id=record.id, owner_id=owner.id,
                     template_key="t", template_name="T", template_version=1, controller_email="c@agency.example",
                     process_started_at=datetime.now(UTC), phase_key="p", phase_name="P")
    statements: list[str] = []
    now = datetime.now(UTC)
    async with sessions() as session:
        every = await render_variables(session, step, now)
    for text, queries in ((WEBHOOK_BODY, 0), ("{{ record.title }} for {{ process.owner.name }}", 2),
                          ("{{ record.id }}: {{ record['title'] }}", 2)):
        async with sessions() as session:
            bind = session.sync_session.get_bind()

            def count(*args: Any) -> None:
                statements.append(str(args[2]))

            event.listen(bind, "before_cursor_execute", count)
            try:
                statements.clear()
                variables = await render_variables(session, step, now, [text])
            finally:
                event.remove(bind, "before_cursor_execute", count)
        assert len(statements) == queries, (text, statements)
        assert render_text(text, variables) == render_text(text, every)
