"""Tasks: a user's open tasks across records ("my tasks", overdue first), tasks staff make by hand on any
record (category, due time, a reminder before it, the user responsible), changing, completing and deleting
them. A phase task completes its phase; a task of a process is changed through its process.

A task made by hand with a due time and `remind_minutes_before` has a durable reminder
(api/task_reminders.py): moved when either changes, cancelled when the task closes or is deleted.
"""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlmodel import col, select, update
from temporalio.client import Client

from api.auth import Principal, user_sees
from api.deps import SessionDep, SettingsDep, StaffDep, TemporalDep
from api.fields import WorkflowIdQuery
from api.idempotency import IdempotencyKeyHeader, claim
from api.paging import Page, paged
from api.references import named_in_body
from api.routers.records import get_record_or_404
from api.routers.users import get_user_or_404
from api.task_reminders import cancel_reminder, set_reminder
from api.temporal_errors import send_update
from crm.access import of_visible_record
from crm.db import end_reads
from crm.models import HistoryEntry, HistoryKind, Task, TaskKind, TaskPublic, TaskStatus, User
from crm.task_forms import TaskCreate, TaskUpdate
from crm.types import utcnow
from processes.errors import ErrorDetail, InvalidPhaseState, TaskInvalid, TaskNotFound
from processes.history_words import history_text
from processes.instance import Answer, AnswersIn, CompletePhaseRequest
from settings import Settings
from workflows.process import ProcessWorkflow

router = APIRouter(prefix="/tasks", tags=["tasks"])


def _visible(principal: Principal) -> Any:
    """The tasks of a record, or of a process on a record, the caller may see (crm/access.py)."""
    return of_visible_record(principal, col(Task.record_id), col(Task.workflow_id))


def _public(task: Task) -> TaskPublic:
    """The task as every route answers it: its due time in UTC (as read back from the database), whatever zone a
    POST or PATCH gave it in."""
    overdue = task.status is TaskStatus.open and task.due_at is not None and task.due_at < utcnow()
    values = task.model_dump()
    if values["due_at"] is not None:
        values["due_at"] = values["due_at"].astimezone(UTC)
    return TaskPublic(**values, overdue=overdue)


@router.get("", response_model=list[TaskPublic])
async def list_tasks(
    session: SessionDep, principal: StaffDep,
    page: Annotated[Page, Depends(paged(100, 500))],
    assignee_id: Annotated[int | None, Query(description="the caller's own user when empty")] = None,
    status: TaskStatus | None = TaskStatus.open, workflow_id: WorkflowIdQuery = None,
    record_id: int | None = None, category: Annotated[str | None, Query(max_length=64)] = None,
) -> list[TaskPublic]:
    """Tasks, overdue first then by due date (none of a record the caller may not see). Without
    `assignee_id`, a key acting as a user gets that user's tasks, on every record: "my tasks"."""
    query = select(Task).where(_visible(principal))
    assignee = assignee_id if assignee_id is not None else principal.user_id
    if assignee is not None:
        query = query.where(Task.assignee_id == assignee)
    if status is not None:
        query = query.where(Task.status == status)
    if workflow_id:
        query = query.where(Task.workflow_id == workflow_id)
    if record_id is not None:
        query = query.where(Task.record_id == record_id)
    if category:
        query = query.where(Task.category == category)
    # NULLS LAST rather than `due_at IS NULL` first: the same order, which PostgreSQL reads straight
    # from ix_task_assignee_id_status_due_at_id instead of sorting every task of the user
    query = query.order_by(col(Task.due_at).asc().nulls_last(), col(Task.id)).offset(page.offset).limit(page.limit)
    return page.done([_public(t) for t in (await session.exec(query)).all()])


async def _task_or_404(session: SessionDep, task_id: int, principal: Principal) -> Task:
    query = select(Task).where(Task.id == task_id, _visible(principal))
    task = (await session.exec(query)).first()
    if task is None:
        raise TaskNotFound.worded("no task {id}", id=task_id)
    return task


@router.get("/{task_id}", response_model=TaskPublic)
async def get_task(task_id: int, session: SessionDep, principal: StaffDep) -> TaskPublic:
    return _public(await _task_or_404(session, task_id, principal))


class CompleteTaskBody(BaseModel):
    answers: AnswersIn = Field(default_factory=dict, description="for a phase task: answers the process keeps")


@router.post("/{task_id}/complete", response_model=TaskPublic)
async def complete_task(task_id: int, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                        principal: StaffDep, body: CompleteTaskBody | None = None,
                        idempotency_key: IdempotencyKeyHeader = None) -> TaskPublic:
    """Complete a task. The task of a manual phase completes the phase, through its process. Sent again with the
    same `Idempotency-Key` once done, it answers with the task (not 409)."""
    task = await _task_or_404(session, task_id, principal)
    if idempotency_key is not None and not await claim(session, idempotency_key, principal, "complete_task",
                                                       f"task {task_id}", body or CompleteTaskBody()):
        await session.refresh(task)
        if task.status is TaskStatus.done:
            return _public(task)  # sent again: what it did
    if task.status is not TaskStatus.open:
        raise InvalidPhaseState.worded("task {task} is already {status}", task=task_id, status=task.status.value)
    if task.kind is TaskKind.phase:
        await end_reads(session)
        await _complete_phase_task(temporal, task, principal.actor, body.answers if body else {},
                                   settings.process_answer_seconds)
        await session.refresh(task)
    else:
        record_id, title, kind = task.record_id, task.title, task.kind
        done = await session.exec(update(Task).where(  # type: ignore[call-overload]
            col(Task.id) == task_id, col(Task.status) == TaskStatus.open).values(
            status=TaskStatus.done, completed_at=utcnow(), completed_by=principal.actor))
        if done.rowcount != 1:  # completed meanwhile: the same form sent twice at once, or two people
            await session.rollback()
            await session.refresh(task)
            if idempotency_key is not None and task.status is TaskStatus.done:
                return _public(task)
            raise InvalidPhaseState.worded("task {task} is already {status}", task=task_id, status=task.status.value)
        if kind is TaskKind.manual and record_id is not None:
            session.add(HistoryEntry(record_id=record_id, kind=HistoryKind.task_completed, actor=principal.actor,
                                     text=history_text(settings.locale, "task_completed", title=title),
                                     data={"task_id": task_id}))
        await session.commit()
        await session.refresh(task)
        if kind is TaskKind.manual:
            await cancel_reminder(temporal, task)
    return _public(task)


def _check(task: Task, settings: Settings) -> None:
    """What a task made by hand must hold once changed: a known category (`Call` is `call`: it is kept as the
    installation names it), a due time for a reminder."""
    named = {c.casefold(): c for c in settings.task_categories}
    if task.category:
        task.category = named.get(task.category.strip().casefold(), task.category)
    if task.category and task.category not in settings.task_categories:
        categories = ", ".join(settings.task_categories)
        raise TaskInvalid(f"unknown task category '{task.category}'", details=[
            ErrorDetail("body.category", f"one of {categories}")], wording=(
            "unknown task category '{category}' (the categories are {categories})",
            {"category": task.category, "categories": categories}))
    if task.remind_minutes_before is not None and task.due_at is None:
        raise TaskInvalid("a reminder needs a due time", details=[ErrorDetail("body.due_at", "needed for a reminder")])


@router.post("", status_code=201, response_model=TaskPublic)
async def create_task(body: TaskCreate, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                      principal: StaffDep) -> TaskPublic:
    """A task on a record, by hand; with `remind_minutes_before`, its user is emailed that long before it is due."""
    await named_in_body("body.record_id", get_record_or_404(session, body.record_id, principal))
    assignee_id = body.assignee_id if body.assignee_id is not None else principal.user_id
    if assignee_id is not None:
        await _sees_the_record(session, await named_in_body("body.assignee_id", get_user_or_404(session, assignee_id)),
                               body.record_id)
    task = Task(step_key=f"manual-task/{uuid.uuid4().hex}", kind=TaskKind.manual, workflow_id="", phase_key="",
                **body.model_dump(exclude={"assignee_id"}), assignee_id=assignee_id)
    _check(task, settings)
    session.add(task)
    await session.flush()
    session.add(HistoryEntry(record_id=body.record_id, kind=HistoryKind.task_created, actor=principal.actor,
                             text=history_text(settings.locale, "task_created", title=task.title),
                             data={"task_id": task.id, "assignee_id": assignee_id}))
    await session.commit()
    await set_reminder(temporal, settings, task)
    return _public(task)


async def _sees_the_record(session: SessionDep, assignee: User, record_id: int) -> None:
    """TaskInvalid naming `body.assignee_id` when the user would not see the task's record (a restricted one they are
    not the owner of nor listed on): they could neither read nor close the task given to them."""
    if not await user_sees(session, assignee, record_id):
        raise TaskInvalid(f"user {assignee.handle} does not see record {record_id} (restricted)", details=[ErrorDetail(
            "body.assignee_id", f"{assignee.handle} does not see record {record_id}: add them to its access list "
                                "first, or give the task to someone who sees it")])


async def _manual_or_409(session: SessionDep, task_id: int, principal: Principal) -> Task:
    task = await _task_or_404(session, task_id, principal)
    if task.kind is not TaskKind.manual:
        raise InvalidPhaseState(f"task {task_id} belongs to process {task.workflow_id}: it changes with its process")
    return task


@router.patch("/{task_id}", response_model=TaskPublic)
async def update_task(task_id: int, body: TaskUpdate, session: SessionDep, temporal: TemporalDep,
                      settings: SettingsDep, principal: StaffDep) -> TaskPublic:
    """Change a task made by hand; a new due time or lead time moves its reminder."""
    task = await _manual_or_409(session, task_id, principal)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("assignee_id") is not None:
        assignee = await named_in_body("body.assignee_id", get_user_or_404(session, changes["assignee_id"]))
        if task.record_id is not None:
            await _sees_the_record(session, assignee, task.record_id)
    task.sqlmodel_update(changes)
    _check(task, settings)
    session.add(task)
    await session.commit()
    if {"due_at", "remind_minutes_before"} & changes.keys() and task.status is TaskStatus.open:
        await set_reminder(temporal, settings, task)
    return _public(task)


@router.delete("/{task_id}", status_code=204)
async def delete_task(task_id: int, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                      principal: StaffDep) -> Response:
    """Delete a task made by hand (its reminder is cancelled first)."""
    task = await _manual_or_409(session, task_id, principal)
    await cancel_reminder(temporal, task)
    if task.record_id is not None:
        session.add(HistoryEntry(record_id=task.record_id, kind=HistoryKind.task_deleted, actor=principal.actor,
                                 text=history_text(settings.locale, "task_deleted", title=task.title),
                                 data={"task_id": task.id}))
    await session.delete(task)
    await session.commit()
    return Response(status_code=204)


async def _complete_phase_task(temporal: Client, task: Task, actor: str, answers: dict[str, Answer],
                               within: float) -> None:
    handle = temporal.get_workflow_handle_for(ProcessWorkflow.run, task.workflow_id)
    await send_update(handle, ProcessWorkflow.complete_phase,
                      CompletePhaseRequest(phase=task.phase_key, task_id=task.id, answers=answers, actor=actor),
                      within=within, update_id=f"complete-task-{task.id}")
