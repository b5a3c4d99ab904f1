"""The emails and the page the engine writes itself (not a template's texts) are in the office's language and time
zone: with LOCALE=it and TIMEZONE=Europe/Rome, Italian words and the time in Rome with its zone; by default, English
and UTC (time-skipping server, real activities, the API in process for the signing page)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import select
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.deps import Deps
from activities.engine_words import moment_text
from activities.loop_guard import LoopGuardActivities, LoopGuardInput
from activities.mailer import Mailer
from activities.task_reminders import TaskReminderActivities, TaskReminderInput, remind_at
from api.app import create_app
from crm.models import OutboxMessage, Task, TaskKind
from crm.process_runs import ProcessOrigin, allocate_run
from crm.signatures import SignatureRequest
from crm.types import utcnow
from processes.instance import SkipPhaseRequest
from renderer.pool import shared_pool
from settings import Settings
from tests.factories import Factory
from tests.workflows.helpers import outbox, running_worker, start, template, until
from workflows.process import ProcessWorkflow

OFFICES = {  # LOCALE, TIMEZONE: the words expected
    "it": ("it", "Europe/Rome", {"sign": "Documento da firmare", "until": "Il link vale fino a ",
                                 "invitation": "Invito: Visita", "cancelled": "Annullato: Visita",
                                 "reminder": "Promemoria: Chiamata", "overdue": "In ritardo: Chiamata",
                                 "reminder_text": "Promemoria: la fase 'Chiamata' del processo '",
                                 "overdue_text": "ha superato la scadenza", "page": "Il link vale fino a ",
                                 "task": "Promemoria: Preparare l'udienza (scadenza ",
                                 "loop": "Il controllo dei cicli ha annullato"}),
    "en": ("en", "UTC", {"sign": "Document to sign", "until": "The link is good until ",
                         "invitation": "Invitation: Visita", "cancelled": "Cancelled: Visita",
                         "reminder": "Reminder: Chiamata", "overdue": "Overdue: Chiamata",
                         "reminder_text": "Reminder: phase 'Chiamata' of '",
                         "overdue_text": "passed its deadline", "page": "The link is good until ",
                         "task": "Reminder: Preparare l'udienza (due ", "loop": "Loop guard cancelled"}),
}
OFFER = {"key": "offer", "name": "Offerta", "completion": "manual",
         "actions": [{"appointment": {"title": "Visita", "after_days": 1, "at": "10:30"}},
                     {"report": {"name": "Proposta {{ record.id }}", "html": "<p>Proposta</p>"}},
                     {"request_signature": {"document": "Proposta {{ record.id }}", "expires_days": 7}}]}
CALL = {"key": "call", "name": "Chiamata", "completion": "manual", "responsible": "record_owner", "deadline_days": 2,
        "actions": [{"reminder": {"after_days": 1}}]}


def shown(moment: Any, zone: str) -> str:
    """The time of day and the zone's name a text must show: `12:15 CET` in Italian, `11:15 AM UTC` in English
    (CLDR puts a narrow no-break space before AM)."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%H:%M} {local:%Z}" if zone != "UTC" else f"{local:%-I:%M}\u202f{local:%p} {local:%Z}"


@pytest.mark.parametrize("office", list(OFFICES))
async def test_the_engines_emails_and_signing_page_are_in_the_offices_language_and_time_zone(
        office: str, time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        tmp_path: Path, database_url: str) -> None:
    locale, zone, words = OFFICES[office]
    env = time_skipping_env
    owner = await factory.user(name="Luca Bianchi")
    offered, called = await factory.record(owner=owner), await factory.record(owner=owner)
    async with running_worker(env.client, sessions, task_queue, documents_dir=tmp_path, data_dir=tmp_path,
                              locale=locale, timezone=zone):
        offer = await start(env.client, task_queue, template(OFFER), offered.id, owner.id)
        call = await start(env.client, task_queue, template(CALL), called.id, owner.id)
        state = await until(offer, lambda s: bool(s.phases[0].waiting_signatures))
        await env.sleep(timedelta(days=3))  # the call's reminder, then its deadline
        deadline = (await until(call, lambda s: s.phases[0].overdue)).phases[0].deadline_at
        settings = Settings(database_url=database_url, temporal_task_queue=task_queue, data_dir=tmp_path,
                            documents_dir=tmp_path, public_url="http://stagecoach", locale=locale, timezone=zone)
        app = create_app(settings, temporal=env.client, renderer=shared_pool())
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://stagecoach", timeout=30) as http:
            [link] = [m for m in await outbox(sessions, offer.id) if m.step_key.endswith("/email")]
            token = re.search(r"/sign/([A-Za-z0-9_-]+)", link.body).group(1)  # type: ignore[union-attr]
            page = (await http.get(f"/sign/{token}")).text  # the browser names no language: the office's
            english = (await http.get(f"/sign/{token}", headers={"accept-language": "en-GB,en;q=0.9"})).text
        await offer.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(phase="offer", actor="t"))
        await until(offer, lambda s: s.phases[0].actions[0].status == "cancelled")
    async with sessions() as session:
        signature = await session.get(SignatureRequest, state.phases[0].waiting_signatures[0])
    assert signature is not None
    until_text = moment_text(signature.expires_at, locale, ZoneInfo(zone))
    assert shown(signature.expires_at, zone) in until_text
    assert link.subject == words["sign"] and f"{words['until']}{until_text}." in link.body, link.body
    assert f"{words['page']}{until_text}." in page and (zone == "UTC" or "UTC" not in page)
    assert f"The link is good until {moment_text(signature.expires_at, 'en', ZoneInfo(zone))}." in english
    subjects = sorted(m.subject for m in await outbox(sessions, offer.id) + await outbox(sessions, call.id))
    assert words["invitation"] in subjects and words["cancelled"] in subjects and words["reminder"] in subjects
    [reminder] = [m for m in await outbox(sessions, call.id) if m.subject == words["reminder"]]
    assert reminder.body.startswith(words["reminder_text"]), "the default message its template left out"
    [overdue] = [m for m in await outbox(sessions, call.id) if m.subject.startswith(words["overdue"])]
    assert words["overdue_text"] in overdue.body and shown(deadline, zone) in overdue.body


@pytest.mark.parametrize("office", list(OFFICES))
async def test_a_tasks_reminder_and_the_loop_guards_notice_are_in_the_offices_language_and_time_zone(
        office: str, sessions: Any, factory: Factory) -> None:
    locale, zone, words = OFFICES[office]
    settings = Settings(locale=locale, timezone=zone, loop_guard_limit=0)
    deps = Deps(settings=settings, sessions=sessions, mailer=Mailer(settings))
    user = await factory.user("Chiara Blu")
    record = await factory.record(owner=user, title="Udienza del 3")
    task: Task = await factory._add(Task(
        step_key=f"manual-task/{uuid.uuid4().hex}", kind=TaskKind.manual, workflow_id="", phase_key="",
        record_id=record.id, assignee_id=user.id, title="Preparare l'udienza", due_at=utcnow() + timedelta(days=1),
        remind_minutes_before=60))
    due = remind_at(task)
    assert due is not None
    await ActivityEnvironment().run(TaskReminderActivities(deps).send_task_reminder,
                                    TaskReminderInput(task_id=task.id, step_key=task.step_key, remind_at=due))
    template_key = f"t{uuid.uuid4().hex[:8]}"
    async with sessions() as session:
        run, _ = await allocate_run(session, template_key=template_key, template_version=1, record_id=record.id,
                                    owner_id=user.id, started_by="test", origin=ProcessOrigin.manual)
    guarded = await ActivityEnvironment().run(LoopGuardActivities(deps).apply_loop_guard, LoopGuardInput(
        workflow_id=run.workflow_id, template_key=template_key, template_name="Ciclo", record_id=record.id,
        owner_id=user.id, controller_email="controller@agency.example"))
    assert guarded.cancelled
    async with sessions() as session:
        mails = (await session.exec(select(OutboxMessage).where(OutboxMessage.record_id == record.id))).all()
    [reminder] = [m for m in mails if m.step_key.startswith(task.step_key)]
    assert reminder.subject.startswith(words["task"]) and shown(task.due_at, zone) in reminder.subject
    notices = [m for m in mails if m.workflow_id == run.workflow_id]
    assert notices and all(m.subject.startswith(words["loop"]) for m in notices)
