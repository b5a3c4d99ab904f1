"""Task lists: a user's open tasks, and completing one (a phase task completes its phase)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlmodel import col, select
from temporalio.client import Client

from api.auth import Principal
from api.deps import SessionDep, SettingsDep, StaffDep, TemporalDep
from api.fields import WorkflowIdQuery
from api.paging import Page, paged
from api.temporal_errors import send_update
from crm.access import of_visible_record
from crm.models import Task, TaskKind, TaskPublic, TaskStatus
from crm.types import utcnow
from processes.errors import InvalidPhaseState, TaskNotFound
from processes.instance import Answer, AnswersIn, CompletePhaseRequest
from workflows.process import ProcessWorkflow

router = APIRouter(prefix="/tasks", tags=["tasks"])


def _visible(principal: Principal) -> Any:
    """The tasks of a record, or of a process on a record, the caller may see (crm/access.py)."""
    return of_visible_record(principal, col(Task.record_id), col(Task.workflow_id))


def _public(task: Task) -> TaskPublic:
    overdue = task.status is TaskStatus.open and task.due_at is not None and task.due_at < utcnow()
    return TaskPublic(**task.model_dump(), overdue=overdue)


@router.get("", response_model=list[TaskPublic])
async def list_tasks(
    session: SessionDep, principal: StaffDep,
    page: Annotated[Page, Depends(paged(100, 500))],
    assignee_id: Annotated[int | None, Query(description="the caller's own user when empty")] = None,
    status: TaskStatus | None = TaskStatus.open, workflow_id: WorkflowIdQuery = None,
) -> list[TaskPublic]:
    """Tasks, overdue first then by due date (none of a record the caller may not see)."""
    query = select(Task).where(_visible(principal))
    assignee = assignee_id if assignee_id is not None else principal.user_id
    if assignee is not None:
        query = query.where(Task.assignee_id == assignee)
    if status is not None:
        query = query.where(Task.status == status)
    if workflow_id:
        query = query.where(Task.workflow_id == workflow_id)
    # NULLS LAST rather than `due_at IS NULL` first: the same order, which PostgreSQL reads straight
    # from ix_task_assignee_id_status_due_at_id instead of sorting every task of the user
    query = query.order_by(col(Task.due_at).asc().nulls_last(), col(Task.id)).offset(page.offset).limit(page.limit)
    return page.done([_public(t) for t in (await session.exec(query)).all()])


async def _task_or_404(session: SessionDep, task_id: int, principal: Principal) -> Task:
    query = select(Task).where(Task.id == task_id, _visible(principal))
    task = (await session.exec(query)).first()
    if task is None:
        raise TaskNotFound(f"no task {task_id}")
    return task


@router.get("/{task_id}", response_model=TaskPublic)
async def get_task(task_id: int, session: SessionDep, principal: StaffDep) -> TaskPublic:
    return _public(await _task_or_404(session, task_id, principal))


class CompleteTaskBody(BaseModel):
    answers: AnswersIn = Field(default_factory=dict, description="for a phase task: answers the process keeps")


@router.post("/{task_id}/complete", response_model=TaskPublic)
async def complete_task(task_id: int, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                        principal: StaffDep, body: CompleteTaskBody | None = None) -> TaskPublic:
    """Complete a task. The task of a manual phase completes the phase, through its process."""
    task = await _task_or_404(session, task_id, principal)
    if task.status is not TaskStatus.open:
        raise InvalidPhaseState(f"task {task_id} is already {task.status.value}")
    if task.kind is TaskKind.phase:
        await _complete_phase_task(temporal, task, principal.actor, body.answers if body else {})
        await session.refresh(task)
    else:
        task.status, task.completed_at, task.completed_by = TaskStatus.done, utcnow(), principal.actor
        session.add(task)
        await session.commit()
    return _public(task)


async def _complete_phase_task(temporal: Client, task: Task, actor: str, answers: dict[str, Answer]) -> None:
    handle = temporal.get_workflow_handle_for(ProcessWorkflow.run, task.workflow_id)
    await send_update(handle, ProcessWorkflow.complete_phase,
                      CompletePhaseRequest(phase=task.phase_key, task_id=task.id, answers=answers, actor=actor),
                      update_id=f"complete-task-{task.id}")
