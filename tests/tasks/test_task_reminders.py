"""A task's reminder is a durable timer (time-skipping server): it fires at its time, moves with the due time,
and is cancelled when the task closes; a reminder the task no longer wants is never sent."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from api.task_reminders import cancel_reminder, reminder_id, set_reminder
from crm.models import OutboxMessage, Task, TaskKind, TaskStatus
from crm.types import utcnow
from settings import Settings
from tests.factories import Factory
from tests.workflows.helpers import running_worker
from workflows.task_reminders import TaskReminderResult, TaskReminderWorkflow


async def _task(factory: Factory, due_in: timedelta, minutes_before: int) -> Task:
    user = await factory.user("Chiara Blu")
    record = await factory.record(title="Hearing on the 3rd")
    task: Task = await factory._add(Task(
        step_key=f"manual-task/{uuid.uuid4().hex}", kind=TaskKind.manual, workflow_id="", phase_key="",
        record_id=record.id, assignee_id=user.id, title="Prepare the hearing", category="deadline",
        due_at=utcnow() + due_in, remind_minutes_before=minutes_before))
    return task


async def _reminders(sessions: Any, task: Task) -> list[OutboxMessage]:
    async with sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.record_id == task.record_id)
        return list((await session.exec(query)).all())


async def test_a_reminder_fires_at_its_time_and_moves_with_the_due_time(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    env, settings = time_skipping_env, Settings(temporal_task_queue=task_queue)
    task = await _task(factory, timedelta(days=2), 60)
    async with running_worker(env.client, sessions, task_queue):
        await set_reminder(env.client, settings, task)
        # the due time moves a day later: the reminder with it
        async with sessions() as session:
            stored = await session.get(Task, task.id)
            assert stored is not None
            stored.due_at = task.due_at + timedelta(days=1)  # type: ignore[operator]
            session.add(stored)
            await session.commit()
            await session.refresh(stored)
        await set_reminder(env.client, settings, stored)
        await env.sleep(timedelta(days=2))  # past the first reminder time
        assert await _reminders(sessions, task) == []

        await env.sleep(timedelta(days=1))  # past the new one (a handle not returned by a start does not skip time)
        handle = env.client.get_workflow_handle_for(TaskReminderWorkflow.run, reminder_id(task))
        result: TaskReminderResult = await handle.result()
        assert result.outcome == "sent"
        assert result.at is not None and result.at >= stored.due_at - timedelta(minutes=60)  # type: ignore[operator]
        assert result.at < stored.due_at  # type: ignore[operator]
        [message] = await _reminders(sessions, task)
        assert message.subject.startswith("Reminder: Prepare the hearing (due ")
        assert message.to_address.endswith("@agency.example")

        # saving it again with the same time sends nothing more (one email per reminder time)
        await set_reminder(env.client, settings, stored)
        assert (await handle.result()).outcome == "sent"
        assert len(await _reminders(sessions, task)) == 1


async def test_a_reminder_is_cancelled_when_its_task_closes(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    env, settings = time_skipping_env, Settings(temporal_task_queue=task_queue)
    task = await _task(factory, timedelta(hours=5), 30)
    async with running_worker(env.client, sessions, task_queue):
        await set_reminder(env.client, settings, task)
        await env.sleep(timedelta(hours=1))
        await cancel_reminder(env.client, task)
        handle = env.client.get_workflow_handle_for(TaskReminderWorkflow.run, reminder_id(task))
        assert (await handle.result()).outcome == "cancelled"
        await cancel_reminder(env.client, task)  # nothing waits: nothing to do

        # a reminder whose task closed without the cancel arriving is not sent
        other = await _task(factory, timedelta(hours=5), 30)
        await set_reminder(env.client, settings, other)
        async with sessions() as session:
            stored = await session.get(Task, other.id)
            assert stored is not None
            stored.status = TaskStatus.done
            session.add(stored)
            await session.commit()
        await env.sleep(timedelta(hours=5))
        handle = env.client.get_workflow_handle_for(TaskReminderWorkflow.run, reminder_id(other))
        assert (await handle.result()).outcome == "skipped"
        assert await _reminders(sessions, task) == [] and await _reminders(sessions, other) == []
