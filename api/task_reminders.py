"""Setting, moving and cancelling the reminder of a task made by hand (workflows/task_reminders.py).

Called once the task's change has committed. A waiting reminder gets its new time (the `move` signal);
when none waits (never set, already sent, cancelled), one starts for the new time. Cancelling a reminder
that is not waiting (never set, sent, cancelled) does nothing. Temporal unreachable is a 503: the task's
change is kept, and saving the task again sets its reminder.

A case's tasks are handled together, before its change commits: closing it cancels their reminders, reopening
it sets them again; Temporal unreachable is then a 503 with the case left as it was, to be closed or reopened
again.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.task_reminders import TaskReminderInput, remind_at
from crm.models import Task, TaskKind, TaskStatus
from crm.types import utcnow
from processes.errors import ServiceUnavailable
from settings import Settings
from workflows.task_reminders import MoveReminderRequest, TaskReminderWorkflow


def reminder_id(task: Task) -> str:
    return f"task-reminder-{task.step_key.replace('/', '-')}"


def _temporal(exc: RPCError) -> str:
    return f"Temporal: {exc.status.name if exc.status else exc}"


async def set_reminder(temporal: Client, settings: Settings, task: Task) -> None:
    """Start, move or cancel the task's reminder so that it matches the task as it is now."""
    when = remind_at(task)
    if when is None or task.status is not TaskStatus.open:
        await cancel_reminder(temporal, task)
        return
    try:
        await _start_or_move(temporal, settings, task, when)
    except RPCError as exc:
        raise ServiceUnavailable(f"task {task.id} is saved, but its reminder could not be set "
                                 f"({_temporal(exc)}); save it again") from None


async def _start_or_move(temporal: Client, settings: Settings, task: Task, when: datetime) -> None:
    """The reminder waits for `when`: a waiting one moved, else one started. Temporal unreachable: `RPCError`."""
    assert task.id is not None
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


async def cancel_reminder(temporal: Client, task: Task) -> None:
    try:
        await temporal.get_workflow_handle(reminder_id(task)).signal(TaskReminderWorkflow.cancel)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:  # not waiting: nothing to cancel
            raise ServiceUnavailable(f"the reminder of task {task.id} could not be cancelled "
                                     f"({_temporal(exc)})") from None


def _reminding(record_id: int) -> SelectOfScalar[Task]:
    """A record's open tasks made by hand that want a reminder."""
    return select(Task).where(Task.record_id == record_id, Task.kind == TaskKind.manual,
                              Task.status == TaskStatus.open, col(Task.remind_minutes_before).is_not(None),
                              col(Task.due_at).is_not(None))


async def cancel_record_reminders(session: AsyncSession, temporal: Client, record_id: int) -> int:
    """Cancel the pending reminders of a record's open tasks made by hand; how many."""
    tasks = (await session.exec(_reminding(record_id))).all()
    for task in tasks:
        await cancel_reminder(temporal, task)
    return len(tasks)


async def set_record_reminders(session: AsyncSession, temporal: Client, settings: Settings, record_id: int) -> int:
    """Set again the reminders of a record's open tasks made by hand that are not due yet (its case reopened:
    closing it cancelled them); how many. A reminder whose time passed while they waited goes out now, once: one
    already sent is not sent again (one email per task and reminder time)."""
    tasks = (await session.exec(_reminding(record_id).where(col(Task.due_at) > utcnow()))).all()
    for task in tasks:
        when = remind_at(task)
        assert when is not None
        try:
            await _start_or_move(temporal, settings, task, when)
        except RPCError as exc:
            raise ServiceUnavailable(f"the reminder of task {task.id} could not be set again "
                                     f"({_temporal(exc)})") from None
    return len(tasks)
