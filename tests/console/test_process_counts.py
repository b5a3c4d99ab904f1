"""The process list's counts (crm/process_list.py `count_runs`) and the records left out of Temporal's list
(crm/access.py `hidden_process_records`), on both databases: exact up to their cap, "more" past it, by filter and
status, never counting what the viewer may not see; the pages keep listing and paging as before."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from crm.access import hidden_process_records
from crm.models import ApiRole, Record, Task, TaskKind, TaskStatus, User
from crm.process_list import RunFilter, count_runs, list_runs
from crm.process_runs import ProcessRun, RunStatus
from crm.types import utcnow
from tests.factories import Factory


class Viewer:
    def __init__(self, user: User | None, role: ApiRole = ApiRole.staff) -> None:
        self.role, self.user_id = role, user.id if user else None


async def _runs(sessions: Any, template: str, record: Record, owner: User, statuses: list[RunStatus]) -> list[str]:
    """Runs of `template` on `record`, one per status given (an ended one with its end written)."""
    async with sessions() as session:
        rows = [ProcessRun(workflow_id=f"process-{template}-{record.id}-{n}", template_key=template, template_version=1,
                           record_id=record.id, sequence=n, owner_id=owner.id, status=status,
                           ended_at=utcnow() - timedelta(days=3) if status.finished else None)
                for n, status in enumerate(statuses, start=1)]
        session.add_all(rows)
        await session.commit()
        return [row.workflow_id for row in rows]


async def test_counts_are_exact_up_to_the_cap_by_filter_and_visibility(sessions: Any, factory: Factory) -> None:
    tag = uuid.uuid4().hex[:8]
    template = f"counted-{tag}"
    mine, other = await factory.user(f"Mine {tag}"), await factory.user(f"Other {tag}")
    seen = await factory.record(mine, title=f"Seen {tag}")
    hidden = await factory.record(mine, title=f"Hidden {tag}", restricted=True)
    await _runs(sessions, template, seen, mine, [RunStatus.completed] * 5 + [RunStatus.running] * 2 +
                [RunStatus.failed, RunStatus.not_started, RunStatus.starting])
    await _runs(sessions, template, hidden, mine, [RunStatus.completed, RunStatus.running])
    where = RunFilter(template=template)
    async with sessions() as session:
        admin = await count_runs(session, Viewer(None, ApiRole.admin), where)
        assert admin == {RunStatus.completed: 6, RunStatus.running: 3, RunStatus.failed: 1}
        # another user does not count the restricted record's runs; a cap of 3 says "more than 3" with 4
        assert await count_runs(session, Viewer(other), where, cap=3) == {
            RunStatus.completed: 4, RunStatus.running: 2, RunStatus.failed: 1}
        assert await count_runs(session, Viewer(mine), where, cap=3) == {
            RunStatus.completed: 4, RunStatus.running: 3, RunStatus.failed: 1}
        assert await count_runs(session, Viewer(other), RunFilter(template=template, owner_id=other.id)) == {}
        assert await count_runs(session, Viewer(mine), RunFilter(template=template, record_id=hidden.id)) == {
            RunStatus.completed: 1, RunStatus.running: 1}


async def test_overdue_counts_and_the_list_pages(sessions: Any, factory: Factory) -> None:
    tag = uuid.uuid4().hex[:8]
    template = f"overdue-{tag}"
    owner = await factory.user(f"Owner {tag}")
    record = await factory.record(owner, title=f"Late {tag}")
    ids = await _runs(sessions, template, record, owner, [RunStatus.running] * 4 + [RunStatus.completed] * 3)
    async with sessions() as session:
        session.add_all([Task(step_key=f"{wf}/call/task", kind=TaskKind.phase, workflow_id=wf, phase_key="call",
                              record_id=record.id, assignee_id=owner.id, title="Call", status=TaskStatus.open,
                              due_at=utcnow() - timedelta(hours=1)) for wf in ids[:2]])
        await session.commit()
    admin = Viewer(None, ApiRole.admin)
    async with sessions() as session:
        assert await count_runs(session, admin, RunFilter(template=template, overdue=True)) == {RunStatus.running: 2}
        assert await count_runs(session, admin, RunFilter(template=template, overdue=False)) == {
            RunStatus.running: 2, RunStatus.completed: 3}
        # the list pages newest first, from below the last id of the page before
        first = await list_runs(session, admin, RunFilter(template=template), before_id=None, limit=4)
        rest = await list_runs(session, admin, RunFilter(template=template), before_id=first[-1].id, limit=4)
    assert [r.workflow_id for r in first + rest] == ids[::-1]


async def test_only_live_runs_of_hidden_records_are_left_out_of_temporal(sessions: Any, factory: Factory) -> None:
    tag = uuid.uuid4().hex[:8]
    owner, other, viewer = [await factory.user(f"{name} {tag}") for name in ("Owner", "Other", "Viewer")]
    live = await factory.record(owner, title=f"Live {tag}", restricted=True)
    ended = await factory.record(owner, title=f"Ended {tag}", restricted=True)
    others = await factory.record(other, title=f"Others' {tag}", restricted=True)
    await _runs(sessions, f"live-{tag}", live, owner, [RunStatus.running])
    await _runs(sessions, f"ended-{tag}", ended, owner, [RunStatus.completed])  # ended three days ago
    await _runs(sessions, f"others-{tag}", others, other, [RunStatus.starting])
    mine = {live.id, ended.id, others.id}
    async with sessions() as session:
        assert {r for r in await hidden_process_records(session, Viewer(viewer)) if r in mine} == {live.id, others.id}
        assert {r for r in await hidden_process_records(session, Viewer(viewer), owner.id) if r in mine} == {live.id}
        assert not {r for r in await hidden_process_records(session, Viewer(owner), owner.id) if r in mine}
