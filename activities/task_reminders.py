"""The reminder of a task made by hand: an email to its user, once, if the task still wants it then (in LOCALE, its
due time in TIMEZONE)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.deps import Deps
from activities.engine_words import moment_text, say
from activities.outbox import send_once
from activities.lookups import load_user
from crm.models import HistoryKind, Task, TaskStatus
from processes.history_words import said


class TaskReminderInput(BaseModel):
    task_id: int
    step_key: str  # the task's: a reminder's email is keyed by it and its time
    remind_at: datetime


def remind_at(task: Task) -> datetime | None:
    """When the task's reminder is due: its lead time before the due time (None: no reminder)."""
    if task.due_at is None or task.remind_minutes_before is None:
        return None
    return task.due_at - timedelta(minutes=task.remind_minutes_before)


class TaskReminderActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="send_task_reminder")
    async def send_task_reminder(self, input: TaskReminderInput) -> bool:
        """Send the reminder; False when the task is closed, gone, without a user, or wants it at another time."""
        async with self.deps.sessions() as session:
            task = await session.get(Task, input.task_id)
        if task is None or task.step_key != input.step_key or task.status is not TaskStatus.open \
                or task.assignee_id is None or remind_at(task) != input.remind_at:
            return False
        settings = self.deps.settings
        text, due = say(settings.locale), moment_text(task.due_at, settings.locale, settings.zone)

        async def compose(session: AsyncSession) -> tuple[str, str, str]:
            user = await load_user(session, task.assignee_id, "task's user")
            body = (text("task_reminder_text", title=task.title, due=due)
                    + (text("task_category", category=task.category) if task.category else "")
                    + (f"\n{task.description}\n" if task.description else ""))
            return user.email, text("task_reminder", title=task.title, due=due), body

        await send_once(self.deps, step_key=f"{task.step_key}/reminder/{input.remind_at.isoformat()}",
                        workflow_id=None, record_id=task.record_id, compose=compose,
                        history_kind=HistoryKind.reminder_sent, history=said("task_reminder_sent", title=task.title))
        return True
