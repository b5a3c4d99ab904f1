"""Emails the engine sends by itself: reminders to the responsible user, overdue notices to the controller."""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.deps import Deps
from activities.outbox import send_once
from activities.step import ActionResult, StepInput, load_user, render, render_variables
from crm.models import HistoryKind
from crm.types import utcnow
from processes.action_kinds import Reminder


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
            variables = await render_variables(session, step, utcnow(), [input.action.message])
            user = await load_user(session, step.responsible_id, "responsible user")
            body = await render(self.deps, step, input.action.message, variables, f"{input.where}.message",
                                input.action.locale)
            return user.email, f"Reminder: {step.phase_name}", body

        message = await send_once(self.deps, step_key=step.step_key, workflow_id=step.workflow_id,
                                  record_id=step.record_id, compose=compose, history_kind=HistoryKind.reminder_sent,
                                  history_text="Reminder sent", phase_key=step.phase_key)
        return ActionResult(summary=f"reminder {message.status.value} (outbox message {message.id})")

    @activity.defn(name="notify_overdue")
    async def notify_overdue(self, input: OverdueNoticeInput) -> ActionResult:
        step = input.step

        async def compose(session: AsyncSession) -> tuple[str, str, str]:
            responsible = await load_user(session, step.responsible_id, "responsible user") \
                if step.responsible_id else None
            body = (
                f"The phase '{step.phase_name}' of the process '{step.template_name}' ({step.workflow_id}) "
                f"on record {step.record_id} passed its deadline "
                f"{self.deps.settings.show(step.phase_deadline)} without being completed.\n"
                f"Responsible: {responsible.name if responsible else 'nobody'}.\n"
                "The phase goes on; it can be completed, skipped or the process aborted by staff.\n"
            )
            return step.controller_email, f"Overdue: {step.phase_name} ({step.template_name})", body

        message = await send_once(self.deps, step_key=step.step_key, workflow_id=step.workflow_id,
                                  record_id=step.record_id, compose=compose, history_kind=HistoryKind.phase_overdue,
                                  history_text=f"Phase '{step.phase_name}' overdue, controller notified",
                                  phase_key=step.phase_key)
        return ActionResult(summary=f"overdue notice {message.status.value} (outbox message {message.id})")
