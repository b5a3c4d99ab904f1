"""Scenario 8: a move into a status with one on-enter action, against a hand-written workflow doing the same;
and one record moved thousands of times in a row, with nothing lost.

Template side: a record of a pipeline's type is moved as the API moves it (crm/pipeline_moves.py: the status,
its history line and the record event in one transaction, with the run of the entered status's automation; once
committed, the process is started: all as `POST /records/{id}/move` does), and the time runs until the status's
on-enter `add_history` has written its row. Baseline: the same move, then the hand-written workflow is started
and runs one activity writing the same row. One move at a time, the two sides taking turns, each move on a
record of its own (the loop guard counts a status's runs on one record a day).
"""

from __future__ import annotations

import os
import statistics
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from temporalio.api.enums.v1 import EventType

from activities.autostart import dispatch_now
from activities.deps import Deps
from activities.mailer import Mailer
from activities.stage_starts import prepare_enter, start_prepared
from bench.baseline import BaselineInput, BaselineWorkflow
from bench.scenarios import Context, _profile_start, _profile_stop, _row_time, _step_row, _worker, latency_summary
from crm import pipeline_store
from crm.models import HistoryEntry, HistoryKind, Record, RecordEvent, RecordEventKind, RecordKind
from crm.pipeline_moves import Move, move_record
from processes.pipeline import Pipeline
from settings import Settings
from workflows.client import notify_dispatcher


async def _records(ctx: Context, type_name: str, n: int) -> list[int]:
    async with ctx.sessions() as session:
        rows = [Record(kind=RecordKind.lead, type=type_name, status="Waiting", title=f"Moved {i}",
                       owner_id=ctx.owner_id) for i in range(n)]
        session.add_all(rows)
        await session.commit()
        return [row.id for row in rows]  # type: ignore[misc]


async def move_to_action(ctx: Context, kinds: tuple[str, ...], n: int, profile: Path | None = None) -> dict[str, Any]:
    """`n` moves a side (two more warm up), the sides taking turns move by move, each with its worker running; with
    `profile`, py-spy samples each worker and this process (which plays the API) into that folder."""
    async with AsyncExitStack() as stack:
        sides = {kind: await stack.enter_async_context(_worker(ctx, kind, f"s8-{kind}")) for kind in kinds}
        tag = next(iter(sides.values()))[2]
        type_name = f"Bench {tag}"
        async with ctx.sessions() as session:
            await pipeline_store.save(session, Pipeline.model_validate({
                "key": f"bench-{tag}"[:63], "name": "Bench moves", "record_kind": "lead",
                "controller_email": "controller@agency.example", "types": [{"name": type_name}],
                "statuses": [{"name": "Waiting"}, {"name": "Moved", "automations": [
                    {"on": "enter", "actions": [{"add_history": {"text": "entered"}}]}]}]}), "bench")
        records = {kind: await _records(ctx, type_name, n + 2) for kind in kinds}
        spent: dict[str, list[float]] = {kind: [] for kind in kinds}
        marks: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
        spies: list[Any] = []
        for i in range(n + 2):  # the first two of each side warm up
            if i == 2 and profile is not None:
                spies = [await _profile_start(proc, str(profile / f"moves-{kind}-worker.txt"))
                         for kind, (proc, _, _) in sides.items()]
                api = SimpleNamespace(pid=os.getpid())  # this process makes the moves as the API does
                spies.append(await _profile_start(api, str(profile / "moves-api.txt")))  # type: ignore[arg-type]
            for kind in kinds:
                _, tq, ids = sides[kind]
                took, mark = await _move(ctx, kind, tq, f"{ids}-{i}", records[kind][i])
                if i >= 2:
                    spent[kind].append(took)
                    marks[kind].append(mark)
        for spy in spies:
            await _profile_stop(spy)
    return {kind: {"kind": kind, **latency_summary(spent[kind]), "parts_ms": await _parts(ctx, marks[kind])}
            for kind in kinds}


async def _parts(ctx: Context, marks: list[dict[str, Any]]) -> dict[str, float]:
    """Where each move's time went, medians in ms: the move's transaction, Temporal accepting the start, the worker
    picking up the first workflow task, that task, and the activity until its row (from the workflows' histories)."""
    parts: dict[str, list[float]] = {}
    for mark in marks:
        events = (await ctx.client.get_workflow_handle(mark["workflow_id"]).fetch_history()).events
        at: dict[int, datetime] = {}
        for event in events:
            at.setdefault(event.event_type, event.event_time.ToDatetime(tzinfo=UTC))
        times = [("move", mark["committed"]), ("start", at[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED]),
                 ("pickup", at[EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED]),
                 ("workflow task", at[EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]), ("activity", mark["done"])]
        before = mark["sent"]
        for name, t in times:
            parts.setdefault(name, []).append((t - before).total_seconds() * 1000)
            before = t
    return {name: statistics.median(values) for name, values in parts.items()}


async def _move(ctx: Context, kind: str, tq: str, wf_id: str, record_id: int) -> tuple[float, dict[str, Any]]:
    """One move, as the API makes it, until the on-enter row is written (template: the status's automation, which
    the move's dispatch starts at once; baseline: the hand-written workflow started after the move)."""
    settings = Settings(temporal_task_queue=tq)
    sent = datetime.now(UTC)
    async with ctx.sessions() as session:
        moved = await move_record(session, record_id, Move(to="Moved", actor="bench"))
        prepared = await prepare_enter(session, moved, settings) if kind == "template" else None
        await session.commit()
    committed = datetime.now(UTC)
    if kind == "template":  # as POST /records/{id}/move goes on (api/routers/records.py `events_recorded`)
        deps = Deps(settings=settings, sessions=ctx.sessions, mailer=Mailer(settings), temporal=ctx.client)
        if not (prepared is not None and await start_prepared(deps, prepared)) and \
                await dispatch_now(deps, record_id, [e.id for e in moved.events if e.id is not None]) is None:
            await notify_dispatcher(ctx.client, settings)
        done = await _row_time(ctx, select(HistoryEntry.created_at).where(
            HistoryEntry.record_id == record_id, HistoryEntry.kind == HistoryKind.note,
            col(HistoryEntry.actor).startswith("process stage-")), f"on-enter row of record {record_id}")
        assert prepared is not None, "the move's automation was not prepared with it"
        wf_id = prepared.workflow_id
    else:
        await ctx.client.start_workflow(BaselineWorkflow.run, BaselineInput(record_id=record_id, steps=1),
                                        id=wf_id, task_queue=tq)
        done = await _row_time(ctx, _step_row(wf_id), f"step row of {wf_id}")
    return (done - sent).total_seconds(), {"sent": sent, "committed": committed, "done": done, "workflow_id": wf_id}


async def moves_in_a_row(ctx: Context, n: int) -> dict[str, Any]:
    """One record moved `n` times in a row between two statuses: each move's time, and what was written (one
    history line and one record event per move, the record's move counter at `n`: nothing lost)."""
    tag = f"{datetime.now(UTC):%H%M%S%f}"
    type_name = f"Bench row {tag}"
    async with ctx.sessions() as session:
        await pipeline_store.save(session, Pipeline.model_validate({
            "key": f"bench-row-{tag}", "name": "Bench moves in a row", "record_kind": "lead",
            "types": [{"name": type_name}], "statuses": [{"name": "Waiting"}, {"name": "Moved"}]}), "bench")
    (record_id,) = await _records(ctx, type_name, 1)
    spent = []
    for i in range(n):
        t = time.perf_counter()
        async with ctx.sessions() as session:
            await move_record(session, record_id, Move(to="Moved" if i % 2 == 0 else "Waiting", actor="bench"))
            await session.commit()
        spent.append(time.perf_counter() - t)
    async with ctx.sessions() as session:
        record = await session.get(Record, record_id)
        lines = (await session.exec(select(func.count()).select_from(HistoryEntry).where(
            HistoryEntry.record_id == record_id, HistoryEntry.kind == HistoryKind.status_changed))).one()
        events = (await session.exec(select(func.count()).select_from(RecordEvent).where(
            RecordEvent.record_id == record_id, RecordEvent.kind == RecordEventKind.status_changed))).one()
    assert record is not None
    return {"moves": n, "counted": record.moves, "history_lines": int(lines), "events": int(events),
            "lost": n - min(record.moves, int(lines), int(events)), "moves_per_s": n / sum(spent),
            **latency_summary(spent)}
