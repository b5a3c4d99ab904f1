"""The actions pipelines brought to processes: open or close a substate, notify users and roles, assign a role by
assignment criteria, start a process. Each is one step, idempotent by its step key.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities import bookkeeping
from activities.deps import Deps
from activities.engine_words import default_text
from activities.errors import final, final_message
from activities.outbox import send_once
from activities.record_values import move_in_step, notify_events
from activities.responsible import resolve_user_id
from activities.starting import start_run
from activities.step import ActionResult, StepInput, begin_step, load_record, render, render_variables, step_activity
from crm import template_store
from crm.idempotent import insert_new
from crm.models import HistoryEntry, HistoryKind, Record, RecordAccess, User
from crm.db import begin_write
from crm.pipeline_models import AssignmentTurn, RecordAssignment
from crm.pipeline_moves import Move
from crm.process_runs import ProcessOrigin
from crm.types import utcnow
from processes.errors import StagecoachError
from processes.action_kinds import Assign, Candidates, Notify, Rule, StartProcess, SubstateChange
from processes.history_words import english, history_text, said


class SubstateInput(BaseModel):
    step: StepInput
    action: SubstateChange
    opening: bool = True


class NotifyInput(BaseModel):
    step: StepInput
    action: Notify
    where: str = "notify"


class AssignInput(BaseModel):
    step: StepInput
    action: Assign


class StartProcessInput(BaseModel):
    step: StepInput
    action: StartProcess


def _value(record: Record, name: str) -> Any:
    return (record.fields or {}).get(name.removeprefix("fields.")) if name.startswith("fields.") \
        else getattr(record, name)


def matches(rule: Rule, record: Record) -> bool:
    value = _value(record, rule.field)
    if value is None:
        return False
    text = str(value)
    if (rule.equals is not None and text != rule.equals) or (rule.one_of is not None and text not in rule.one_of) \
            or (rule.prefix is not None and not text.startswith(rule.prefix)):
        return False
    if rule.min is not None or rule.max is not None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        return (rule.min is None or number >= rule.min) and (rule.max is None or number <= rule.max)
    return True


async def candidates(session: AsyncSession, role: str, criterion: Candidates) -> list[int]:
    """The active users a criterion offers, by id: those it lists, or every user of the role."""
    query = select(User.id).where(col(User.active))
    query = query.where(col(User.handle).in_(criterion.users)) if criterion.users else query.where(User.role == role)
    return list((await session.exec(query.order_by(col(User.id)))).all())


async def take_turn(session: AsyncSession, role: str) -> AssignmentTurn:
    """The role's turn, locked until the session commits (made by the role's first assignment): concurrent
    assignments of a role take turns (PostgreSQL: the row's lock; SQLite: the database's write lock)."""
    await begin_write(session)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    await session.exec(insert(AssignmentTurn).values(role=role, turns=0)  # type: ignore[call-overload]
                       .on_conflict_do_nothing(index_elements=["role"]))
    query = select(AssignmentTurn).where(AssignmentTurn.role == role).with_for_update()
    return (await session.exec(query.execution_options(populate_existing=True))).one()


async def choose(session: AsyncSession, role: str, strategy: str, users: list[int], turn: AssignmentTurn) -> int:
    """Round robin: the user after the one given the role last; least loaded: the one holding it on fewest records."""
    if strategy == "least_loaded":
        held = select(RecordAssignment.user_id, func.count()).where(
            RecordAssignment.role == role, col(RecordAssignment.user_id).in_(users)).group_by(
            col(RecordAssignment.user_id))
        counts = dict((await session.exec(held)).all())
        return min(users, key=lambda u: (counts.get(u, 0), u))
    last_user = turn.user_id
    if last_user is None:  # the role's first turn: assignments made before turns were counted say who was last
        latest = select(RecordAssignment.user_id).where(RecordAssignment.role == role).order_by(
            sa.desc(col(RecordAssignment.assigned_at))).limit(1)
        last_user = (await session.exec(latest)).first()
        if last_user is None:
            return users[0]
    return next((u for u in users if u > last_user), users[0])


class StageActionActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _done(self, session: AsyncSession, step_key: str) -> bool:
        return (await session.exec(select(HistoryEntry.id).where(HistoryEntry.step_key == step_key))).first() \
            is not None

    @step_activity("change_substate")
    async def change_substate(self, input: SubstateInput) -> ActionResult:
        """Open or close a substate: a move like any other (crm/pipeline_moves.py); refused, an incident."""
        step, name = input.step, input.action.substate
        async with self.deps.sessions() as session:
            step, begun = await begin_step(session, step, locale=self.deps.settings.locale)
            await insert_new(session, HistoryEntry, begun.rows)
            move = Move(open_substate=name if input.opening else None, close_substate=None if input.opening else name,
                        actor=f"process {step.template_key}", actor_user_id=step.owner_id, step_key=step.step_key,
                        workflow_id=step.workflow_id, phase_key=step.phase_key, locale=self.deps.settings.locale)
            moved = await move_in_step(session, step.record_id, move)
            await insert_new(session, HistoryEntry, bookkeeping.after(step.books, self.deps.settings.locale))
            await session.commit()
        if not moved.done_before:
            await notify_events(self.deps, step.step_key)
        return ActionResult(summary=english("summary_substate_opened" if input.opening else "summary_substate_closed",
                                            substate=name),
                            responsible_id=step.responsible_id)

    @step_activity("notify")
    async def notify(self, input: NotifyInput) -> ActionResult:
        """One email to each user named and each active user of the roles named (keyed by the step and the user)."""
        action, step = input.action, input.step
        async with self.deps.sessions() as session:
            query = select(User).where(col(User.handle).in_(action.users) | (
                col(User.role).in_(action.roles) & col(User.active))).order_by(col(User.id))
            users = list((await session.exec(query)).all())
            if not users:
                raise final_message("NoRecipient", f"nobody to notify: no user {', '.join(action.users) or '-'} and "
                                                   f"no active user with the role {', '.join(action.roles) or '-'}")
            message = default_text(action.message, action.locale or step.locale or self.deps.settings.locale)
            variables = await render_variables(session, step, utcnow(), [action.subject, message])
        subject = " ".join((await render(self.deps, step, action.subject, variables, f"{input.where}.subject",
                                         action.locale)).split())
        body = await render(self.deps, step, message, variables, f"{input.where}.message", action.locale)

        async def before(session: AsyncSession) -> None:
            _, begun = await begin_step(session, step, locale=self.deps.settings.locale)
            await insert_new(session, HistoryEntry, begun.rows)

        for user in users:
            async def compose(session: AsyncSession, to: str = user.email) -> tuple[str, str, str]:
                return to, subject, body

            await send_once(self.deps, step_key=f"{step.step_key}/{user.id}", workflow_id=step.workflow_id,
                            record_id=step.record_id, compose=compose, phase_key=step.phase_key, before=before,
                            after=bookkeeping.after(step.books, self.deps.settings.locale),
                            history=said("user_notified", handle=user.handle))
        return ActionResult(summary=english("summary_notified", count=len(users)), responsible_id=step.responsible_id)

    @step_activity("assign")
    async def assign(self, input: AssignInput) -> ActionResult:
        """Give the role on the record to the user the criteria choose; no candidate is an incident."""
        action, step = input.action, input.step
        async with self.deps.sessions() as session:
            step, begun = await begin_step(session, step, locale=self.deps.settings.locale)
            if await self._done(session, step.step_key):
                return ActionResult(summary=english("summary_assigned_before", role=action.role),
                                    responsible_id=step.responsible_id)
            record = await load_record(session, step.record_id)
            users: list[int] = []
            for criterion in action.criteria:
                if all(matches(rule, record) for rule in criterion.rules):
                    users = await candidates(session, action.role, criterion)
                    break
            if not users:
                raise final_message("NoAssignee", f"no active user to assign as {action.role} on record {record.id}: "
                                                  "no criterion matched the record, or its users are all inactive")
            turn = await take_turn(session, action.role)  # held until this assignment is committed
            user_id = await choose(session, action.role, action.strategy, users, turn)
            turn.user_id, turn.turns = user_id, turn.turns + 1
            session.add(turn)
            user = await session.get(User, user_id)
            assert user is not None and record.id is not None
            await insert_new(session, HistoryEntry, begun.rows)
            row = await session.get(RecordAssignment, (record.id, action.role)) or \
                RecordAssignment(record_id=record.id, role=action.role, user_id=user_id)
            row.user_id, row.step_key, row.assigned_at = user_id, step.step_key, utcnow()
            session.add(row)
            if record.restricted and await session.get(RecordAccess, (record.id, user_id)) is None:
                session.add(RecordAccess(record_id=record.id, user_id=user_id))  # the assignee sees the record
            session.add(HistoryEntry(record_id=record.id, step_key=step.step_key, kind=HistoryKind.assigned,
                                     text=history_text(self.deps.settings.locale, "assigned", name=user.name,
                                                       role=action.role, strategy=action.strategy),
                                     workflow_id=step.workflow_id, phase_key=step.phase_key,
                                     actor=f"process {step.template_key}",
                                     data={"role": action.role, "user_id": user_id, "strategy": action.strategy}))
            await insert_new(session, HistoryEntry, bookkeeping.after(step.books, self.deps.settings.locale))
            await session.commit()
        return ActionResult(summary=english("summary_assigned", role=action.role, user=user_id),
                            data={"user_id": user_id}, responsible_id=step.responsible_id)

    @step_activity("start_process")
    async def start_process(self, input: StartProcessInput) -> ActionResult:
        """Start a process of the template's latest version on the record, once per step key."""
        action, step = input.action, input.step
        async with self.deps.sessions() as session:
            step, begun = await begin_step(session, step, locale=self.deps.settings.locale)
            await insert_new(session, HistoryEntry,
                             [*begun.rows, *bookkeeping.after(step.books, self.deps.settings.locale)])
            await session.commit()
            try:
                row = await template_store.get_version(session, action.template)
                owner_id = await resolve_user_id(session, action.owner, step.record_id, step.owner_id)
            except StagecoachError as exc:
                raise final(exc) from None
            workflow_id = await start_run(self.deps, session, template_store.load(row), row.version,
                                          record_id=step.record_id, owner_id=owner_id, request_id=step.step_key,
                                          origin=ProcessOrigin.autostart, started_by=f"process {step.template_key}",
                                          lineage=[step.workflow_id])
            await session.commit()
        return ActionResult(summary=english("summary_started", workflow_id=workflow_id),
                            data={"workflow_id": workflow_id}, responsible_id=step.responsible_id)
