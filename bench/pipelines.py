"""Scenario 8: a move into a status with one on-enter action, against a hand-written workflow doing the same.

Template side: a record of a pipeline's type is moved (crm/pipeline_moves.py, as the API does: the status,
its history line and the record event in one transaction), the record-events dispatcher is signalled, and
the time runs until the status's on-enter `add_history` has written its row. Baseline: the same move, then
the hand-written workflow is started and runs one activity writing the same row. One move at a time, each
on a record of its own (the loop guard counts a status's runs on one record a day).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from bench.baseline import BaselineInput, BaselineWorkflow
from bench.scenarios import Context, _row_time, _step_row, _worker, latency_summary
from crm import pipeline_store
from crm.models import HistoryEntry, HistoryKind, Record, RecordKind
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


async def move_to_action(ctx: Context, kind: str, n: int) -> dict[str, Any]:
    async with _worker(ctx, kind, f"s8-{kind}") as (_, tq, ids):
        type_name = f"Bench {ids}"
        async with ctx.sessions() as session:
            await pipeline_store.save(session, Pipeline.model_validate({
                "key": f"bench-{ids}"[:63], "name": "Bench moves", "record_kind": "lead",
                "controller_email": "controller@agency.example", "types": [{"name": type_name}],
                "statuses": [{"name": "Waiting"}, {"name": "Moved", "automations": [
                    {"on": "enter", "actions": [{"add_history": {"text": "entered"}}]}]}]}), "bench")
        records = await _records(ctx, type_name, n + 2)
        settings = Settings(temporal_task_queue=tq)
        spent = []
        for i, record_id in enumerate(records):  # the first two warm up
            sent = datetime.now(UTC)
            async with ctx.sessions() as session:
                await move_record(session, record_id, Move(to="Moved", actor="bench"))
                await session.commit()
            if kind == "template":
                await notify_dispatcher(ctx.client, settings)
                done = await _row_time(ctx, select(HistoryEntry.created_at).where(
                    HistoryEntry.record_id == record_id, HistoryEntry.kind == HistoryKind.note,
                    col(HistoryEntry.actor).startswith("process stage-")), f"on-enter row of record {record_id}")
            else:
                wf_id = f"{ids}-{i}"
                await ctx.client.start_workflow(BaselineWorkflow.run, BaselineInput(record_id=record_id, steps=1),
                                                id=wf_id, task_queue=tq)
                done = await _row_time(ctx, _step_row(wf_id), f"step row of {wf_id}")
            if i >= 2:
                spent.append((done - sent).total_seconds())
        return {"kind": kind, **latency_summary(spent)}
