"""Assignments made at the same moment take turns: round robin never gives the same user twice in a row, least
loaded never piles two records on the same user, however many `assign` steps run at once (both databases)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

import activities.stage_actions as stage_actions
from activities.deps import Deps
from activities.mailer import Mailer
from activities.stage_actions import AssignInput, StageActionActivities
from activities.step import StepInput
from crm.models import Record, User
from crm.pipeline_models import RecordAssignment
from crm.types import utcnow
from processes.action_kinds import Assign
from settings import Settings
from tests.factories import Factory


USERS = 3
ROUNDS = 4  # each user is given the role this many times


def _step(record: Record, owner: User, tag: str) -> StepInput:
    now = utcnow()
    workflow_id = f"process-assign-{tag}-{record.id}-1"
    return StepInput(step_key=f"{workflow_id}/assign/0/0", workflow_id=workflow_id, record_id=record.id,
                     owner_id=owner.id, template_key=f"assign-{tag}", template_name="Assign", template_version=1,
                     controller_email="controller@agency.example", process_started_at=now, phase_key="assign",
                     phase_name="Assign", phase_started_at=now)


async def _team(factory: Factory, tag: str) -> tuple[str, list[User]]:
    role = f"fitter-{tag}"
    return role, [await factory.user(f"Fitter {i} {tag}", handle=f"fitter-{i}-{tag}", role=role)
                  for i in range(USERS)]


async def _assign_at_once(sessions: async_sessionmaker[AsyncSession], factory: Factory,
                          strategy: str) -> tuple[list[int], Counter[int]]:
    tag = uuid.uuid4().hex[:8]
    role, users = await _team(factory, tag)
    owner = users[0]
    records = [await factory.record(owner, title=f"Assigned {i} {tag}") for i in range(USERS * ROUNDS)]
    activities = StageActionActivities(Deps(settings=Settings(), sessions=sessions, mailer=Mailer(Settings())))
    action = Assign(role=role, strategy=strategy)  # type: ignore[arg-type]
    results = await asyncio.gather(*(activities.assign(AssignInput(step=_step(r, owner, tag), action=action))
                                     for r in records))
    chosen = [int(result.data["user_id"]) for result in results]
    async with sessions() as session:
        rows = (await session.exec(select(RecordAssignment).where(RecordAssignment.role == role)
                                   .order_by(col(RecordAssignment.assigned_at)))).all()
    assert sorted(r.record_id for r in rows) == sorted(r.id for r in records)  # one assignment per record
    assert {r.user_id for r in rows} <= {u.id for u in users}
    return [r.user_id for r in rows], Counter(chosen)


@pytest.mark.parametrize("strategy", ["round_robin", "least_loaded"])
async def test_concurrent_assignments_take_turns(sessions: async_sessionmaker[AsyncSession], factory: Factory,
                                                 strategy: str) -> None:
    in_order, given = await _assign_at_once(sessions, factory, strategy)
    assert sorted(given.values()) == [ROUNDS] * USERS, f"{strategy} gave {dict(given)}"
    if strategy == "round_robin":  # in the order they were made, the users take turns
        assert all(a != b for a, b in zip(in_order, in_order[1:], strict=False)), in_order


async def test_round_robin_takes_turns_whatever_the_workers_clocks(sessions: async_sessionmaker[AsyncSession],
                                                                  factory: Factory,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers, one whose clock is a minute behind, assign in turn: the turn is counted, not read from the time
    each wrote (which put the lagging worker's assignments before the other's, and gave one user twice)."""
    tag = uuid.uuid4().hex[:8]
    role, users = await _team(factory, tag)
    records = [await factory.record(users[0], title=f"Assigned {i} {tag}") for i in range(USERS * 2)]
    activities = StageActionActivities(Deps(settings=Settings(), sessions=sessions, mailer=Mailer(Settings())))
    chosen = []
    for i, record in enumerate(records):
        lag = timedelta(minutes=1 if i % 2 else 0)
        monkeypatch.setattr(stage_actions, "utcnow", lambda lag=lag: utcnow() - lag)
        result = await activities.assign(AssignInput(step=_step(record, users[0], tag), action=Assign(role=role)))
        chosen.append(int(result.data["user_id"]))
    assert chosen == [u.id for u in users] * 2
