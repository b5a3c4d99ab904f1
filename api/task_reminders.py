"""Setting, moving and cancelling the reminder of a task made by hand (workflows/task_reminders.py).

Called once the task's change has committed. A waiting reminder gets its new time (the `move` signal);
when none waits (never set, already sent, cancelled), one starts for the new time. Cancelling a reminder
that is not waiting (never set, sent, cancelled) does nothing. Temporal unreachable is a 503: the task's
change is kept, and saving the task again sets its reminder.
"""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.task_reminders import TaskReminderInput, remind_at
from crm.models import Task, TaskKind, TaskStatus
from processes.errors import ServiceUnavailable
from settings import Settings
from workflows.task_reminders import MoveReminderRequest, TaskReminderWorkflow


def reminder_id(task: Task) -> str:
    return f"task-reminder-{task.step_key.replace('/', '-')}"


async def set_reminder(temporal: Client, settings: Settings, task: Task) -> None:
    """Start, move or cancel the task's reminder so that it matches the task as it is now."""
    when = remind_at(task)
    if when is None or task.status is not TaskStatus.open:
        await cancel_reminder(temporal, task)
        return
    assert task.id is not None
    try:
        for _ in range(3):
            try:  # a waiting reminder takes its new time
                await temporal.get_workflow_handle(reminder_id(task)).signal(
                    TaskReminderWorkflow.move, MoveReminderRequest(remind_at=when))
                return
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
            try:  # none waits (never set, sent, cancelled): one starts for this time
                await temporal.start_workflow(
                    TaskReminderWorkflow.run,
                    TaskReminderInput(task_id=task.id, step_key=task.step_key, remind_at=when),
                    id=reminder_id(task), task_queue=settings.temporal_task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                    static_summary=f"reminder of task {task.id}")
                return
            except WorkflowAlreadyStartedError:
                continue  # another save started it meanwhile: move that one
    except RPCError as exc:
        raise ServiceUnavailable(f"task {task.id} is saved, but its reminder could not be set "
                                 f"(Temporal: {exc.status.name if exc.status else exc}); save it again") from None


async def cancel_reminder(temporal: Client, task: Task) -> None:
    try:
        await temporal.get_workflow_handle(reminder_id(task)).signal(TaskReminderWorkflow.cancel)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:  # not waiting: nothing to cancel
            raise ServiceUnavailable(f"the reminder of task {task.id} could not be cancelled "
                                     f"(Temporal: {exc.status.name if exc.status else exc})") from None


async def cancel_record_reminders(session: AsyncSession, temporal: Client, record_id: int) -> int:
    """Cancel the pending reminders of a record's open tasks made by hand; how many."""
    query = select(Task).where(Task.record_id == record_id, Task.kind == TaskKind.manual,
                               Task.status == TaskStatus.open, col(Task.remind_minutes_before).is_not(None),
                               col(Task.due_at).is_not(None))
    tasks = (await session.exec(query)).all()
    for task in tasks:
        await cancel_reminder(temporal, task)
    return len(tasks)
