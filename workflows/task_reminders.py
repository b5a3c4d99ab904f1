"""`TaskReminderWorkflow`: the reminder of one task made by hand, a durable timer until its time.

Started (signal-with-start) when the task gets a reminder; its time is moved by the `move` signal
when the due time or the lead time changes (a run that has already reminded starts again for the new
time), and it ends without reminding on `cancel` (the task closed or deleted, its case closed). The
reminder itself is `send_task_reminder` (activities/task_reminders.py), which checks the task is still
open and still wants a reminder at that time, so a late signal never sends a stale one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.task_reminders import TaskReminderActivities, TaskReminderInput

REMINDER_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=10), maximum_attempts=50)


class MoveReminderRequest(BaseModel):
    remind_at: datetime


class TaskReminderResult(BaseModel):
    outcome: str  # "sent", "skipped" (the task no longer wanted it), "cancelled"
    at: datetime | None = None  # the workflow time it was sent at


@workflow.defn(name="TaskReminderWorkflow")
class TaskReminderWorkflow:
    @workflow.init
    def __init__(self, input: TaskReminderInput) -> None:
        self._remind_at = input.remind_at
        self._moved = False
        self._cancelled = False

    @workflow.run
    async def run(self, input: TaskReminderInput) -> TaskReminderResult:
        while True:
            self._moved = False
            delay = (self._remind_at - workflow.now()).total_seconds()
            try:
                await workflow.wait_condition(lambda: self._moved or self._cancelled, timeout=max(delay, 0.001),
                                              timeout_summary="until the task's reminder")
            except asyncio.TimeoutError:
                break
            if self._cancelled:
                return TaskReminderResult(outcome="cancelled")
        sent = await workflow.execute_activity_method(
            TaskReminderActivities.send_task_reminder, input.model_copy(update={"remind_at": self._remind_at}),
            start_to_close_timeout=timedelta(minutes=1), retry_policy=REMINDER_RETRY, summary="remind the task's user")
        return TaskReminderResult(outcome="sent" if sent else "skipped", at=workflow.now())

    @workflow.signal
    def move(self, request: MoveReminderRequest) -> None:
        self._remind_at, self._moved = request.remind_at, True

    @workflow.signal
    def cancel(self) -> None:
        self._cancelled = True
