"""Tasks in users' task lists: the `create_task` action and the task of a manual phase."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlmodel import select
from temporalio import activity

from activities import bookkeeping
from activities.deps import Deps
from activities.responsible import resolve_user_id
from activities.step import ActionResult, StepInput, begin_step, prepare_step, render, render_variables, step_activity
from crm.idempotent import insert_new, insert_once
from crm.models import HistoryEntry, HistoryKind, Task, TaskKind, TaskStatus
from crm.types import utcnow
from processes.action_kinds import CreateTask
from processes.history_words import english, history_text


class CreateTaskInput(BaseModel):
    step: StepInput
    action: CreateTask
    where: str = "create_task"


class OpenPhaseTaskInput(BaseModel):
    step: StepInput
    due_at: datetime | None = None


class ClosePhaseTaskInput(BaseModel):
    task_id: int
    status: TaskStatus
    actor: str = ""


class NotePhaseTaskInput(BaseModel):
    task_id: int
    note: str  # added to its description, in LOCALE's language when `words` is given (`processes/history_words.py`)
    words: str | None = None
    values: dict[str, Any] = {}
    due_at: datetime | None = None  # its new due date, when given


class ReassignTaskInput(BaseModel):
    task_id: int
    assignee_id: int


class TaskActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _insert_once(self, task: Task, record_id: int, line: str) -> Task:
        async def make() -> list[Task | HistoryEntry]:
            return [task, HistoryEntry(record_id=record_id, step_key=task.step_key, kind=HistoryKind.task_created,
                                       text=line, workflow_id=task.workflow_id, phase_key=task.phase_key,
                                       data={"assignee_id": task.assignee_id})]

        async with self.deps.sessions() as session:
            return await insert_once(session, Task, task.step_key, make)

    @step_activity("create_task")
    async def create_task(self, input: CreateTaskInput) -> ActionResult:
        """The task and its history line, with the bookkeeping the step carries, in one transaction."""
        action = input.action
        async with self.deps.sessions() as session:
            step = await prepare_step(session, input.step)
            task = (await session.exec(select(Task).where(Task.step_key == step.step_key))).first()
            now = utcnow()
            if task is None:  # rendered before anything is written (a slow render holds no lock)
                variables = await render_variables(session, step, now, [action.title, action.description])
                title = " ".join((await render(self.deps, step, action.title, variables, f"{input.where}.title",
                                               action.locale)).split())
                description = await render(self.deps, step, action.description, variables,
                                           f"{input.where}.description", action.locale)
            locale = self.deps.settings.locale
            step, begun = await begin_step(session, step, locale=locale, prepared=True)
            if task is None:  # else an earlier try made it: its bookkeeping went with it
                if action.assignee is None:
                    assignee_id = step.responsible_id
                else:
                    assignee_id = await resolve_user_id(session, action.assignee, step.record_id, step.owner_id)
                due_at = now + timedelta(days=action.due_days) if action.due_days is not None else None
                task = Task(step_key=step.step_key, kind=TaskKind.action, workflow_id=step.workflow_id,
                            phase_key=step.phase_key, record_id=step.record_id, assignee_id=assignee_id,
                            title=title[:500], description=description, due_at=due_at)
                session.add(task)
                await session.flush()
                begun.rows.append(HistoryEntry(
                    record_id=step.record_id, step_key=task.step_key, kind=HistoryKind.task_created,
                    text=history_text(locale, "task_created", title=title[:200]), workflow_id=task.workflow_id,
                    phase_key=task.phase_key,
                    data={"assignee_id": task.assignee_id}))
            await insert_new(session, HistoryEntry, [*begun.rows, *bookkeeping.after(step.books, locale)])
            await session.commit()
        return ActionResult(summary=english("summary_task", task=task.id, user=task.assignee_id),
                            data={"task_id": task.id}, responsible_id=step.responsible_id)

    # open_phase_task and close_phase_task serve runs from before the `phase-steps-carry-bookkeeping` patch
    # (keep them while any may run); newer runs open and close a phase's task as bookkeeping
    # (activities/bookkeeping.py).
    @activity.defn(name="open_phase_task")
    async def open_phase_task(self, input: OpenPhaseTaskInput) -> int:
        step = input.step
        task = await self._insert_once(
            Task(step_key=step.step_key, kind=TaskKind.phase, workflow_id=step.workflow_id, phase_key=step.phase_key,
                 record_id=step.record_id, assignee_id=step.responsible_id,
                 title=f"{step.phase_name} ({step.template_name})", due_at=input.due_at),
            step.record_id, history_text(self.deps.settings.locale, "phase_task", phase=step.phase_name))
        assert task.id is not None
        return task.id

    @activity.defn(name="close_phase_task")
    async def close_phase_task(self, input: ClosePhaseTaskInput) -> None:
        async with self.deps.sessions() as session:
            task = await session.get(Task, input.task_id)
            if task is None or task.status is not TaskStatus.open:
                return  # already closed: a retry, or closed by hand
            task.status = input.status
            task.completed_at = utcnow()
            task.completed_by = input.actor or None
            session.add(task)
            await session.commit()

    @activity.defn(name="note_phase_task")
    async def note_phase_task(self, input: NotePhaseTaskInput) -> None:
        """An open phase task learns something its user must know (a client request ended unanswered): the note
        added to its description once, and its new due date."""
        async with self.deps.sessions() as session:
            task = await session.get(Task, input.task_id)
            if task is None or task.status is not TaskStatus.open:
                return  # closed meanwhile: nothing to tell
            note = history_text(self.deps.settings.locale, input.words, **input.values) if input.words else input.note
            if note not in task.description:  # a retry adds nothing
                task.description = f"{task.description}\n\n{note}".strip()
            if input.due_at is not None:
                task.due_at = input.due_at
            session.add(task)
            await session.commit()

    @activity.defn(name="reassign_task")
    async def reassign_task(self, input: ReassignTaskInput) -> None:
        async with self.deps.sessions() as session:
            task = await session.get(Task, input.task_id)
            if task is not None and task.status is TaskStatus.open:
                task.assignee_id = input.assignee_id
                session.add(task)
                await session.commit()
