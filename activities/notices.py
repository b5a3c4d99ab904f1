"""Emails the engine sends by itself: reminders to the responsible user, overdue notices to the controller, in the
template's language (its `locale`, else LOCALE) and the installation's TIMEZONE (`activities/engine_words.py`)."""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.deps import Deps
from activities.engine_words import default_text, moment_text, say
from activities.outbox import send_once
from activities.step import ActionResult, StepInput, load_user, render, render_variables
from crm.models import HistoryKind
from crm.types import utcnow
from processes.action_kinds import Reminder
from processes.history_words import english, said


class ReminderInput(BaseModel):
    step: StepInput
    action: Reminder
    where: str = "reminder"


class OverdueNoticeInput(BaseModel):
    step: StepInput


class NoticeActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="send_reminder")
    async def send_reminder(self, input: ReminderInput) -> ActionResult:
        step = input.step

        async def compose(session: AsyncSession) -> tuple[str, str, str]:
            locale = input.action.locale or step.locale or self.deps.settings.locale
            message = default_text(input.action.message, locale)
            variables = await render_variables(session, step, utcnow(), [message])
            user = await load_user(session, step.responsible_id, "responsible user")
            body = await render(self.deps, step, message, variables, f"{input.where}.message", input.action.locale)
            return user.email, say(locale)("reminder", phase=step.phase_name), body

        message = await send_once(self.deps, step_key=step.step_key, workflow_id=step.workflow_id,
                                  record_id=step.record_id, compose=compose, history_kind=HistoryKind.reminder_sent,
                                  history=said("reminder_sent"), phase_key=step.phase_key)
        return ActionResult(summary=english("summary_reminder", outcome=message.status.value, message=message.id))

    @activity.defn(name="notify_overdue")
    async def notify_overdue(self, input: OverdueNoticeInput) -> ActionResult:
        step = input.step

        async def compose(session: AsyncSession) -> tuple[str, str, str]:
            responsible = await load_user(session, step.responsible_id, "responsible user") \
                if step.responsible_id else None
            settings = self.deps.settings
            locale = step.locale or settings.locale
            text = say(locale)
            deadline = moment_text(step.phase_deadline, locale, settings.zone) if step.phase_deadline else "-"
            body = text("overdue_text", phase=step.phase_name, template=step.template_name,
                        workflow_id=step.workflow_id, record_id=step.record_id, deadline=deadline,
                        responsible=responsible.name if responsible else text("nobody"))
            return step.controller_email, text("overdue", phase=step.phase_name, template=step.template_name), body

        message = await send_once(self.deps, step_key=step.step_key, workflow_id=step.workflow_id,
                                  record_id=step.record_id, compose=compose, history_kind=HistoryKind.phase_overdue,
                                  history=said("overdue_notified", phase=step.phase_name),
                                  phase_key=step.phase_key)
        return ActionResult(summary=english("summary_overdue_notice", outcome=message.status.value, message=message.id))
