"""The scenarios, each measured for the template interpreter and its hand-written baseline on one dev server.

Every function returns plain numbers (a dict) for the JSON file; `bench.report` turns
them into the table.
"""

from __future__ import annotations

import asyncio
import functools
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from bench.baseline import BaselineInput, BaselineWorkflow
from bench.infra import DevServer, Proc, rss_bytes, worker_process
from crm import template_store
from crm.models import HistoryEntry, HistoryKind, Record, User
from processes.instance import ProcessInput, SkipPhaseRequest
from processes.template import ProcessTemplate
from processes.template_basics import RecordKind
from processes.validation import validate_template
from workflows.process import ProcessWorkflow
from workflows.client import start_process

PHASES = 5
WARM = 3  # processes run to the end on a new worker before it is measured (the smoke test runs 1)
SETTLE = 1.0  # seconds a parked load rests before its memory is read
TEMPLATES: dict[str, dict[str, Any]] = {
    # scenario 1 and 6: five phases, each one trivial action, completing by themselves
    "bench-five": {"phases": [{"key": f"p{i}", "name": f"Phase {i}",
                               "actions": [{"add_history": {"text": f"phase {i} of {PHASES}"}}]}
                              for i in range(1, PHASES + 1)]},
    # scenario 3: a manual phase waiting for staff, then a phase whose first action is the trivial one
    "bench-skip": {"phases": [{"key": "wait", "name": "Wait for staff", "completion": "manual"},
                              {"key": "next", "name": "Next", "actions": [{"add_history": {"text": "moved on"}}]}]},
    # scenario 4 and 6: parked on a timer (the start delay of a follow-up), then one phase of one action
    "bench-park": {"phases": [{"key": "wake", "name": "Wake up", "actions": [{"add_history": {"text": "woke up"}}]}]},
}


@functools.cache
def template(key: str) -> ProcessTemplate:
    """The bench template `key`, validated once per process, as the API parses a saved version once
    (`crm.template_store.parsed`): a start does not validate it again (that cost ~4 ms of the caller's CPU a
    start, on the machine both sides share). Not to be changed by the caller."""
    return validate_template({"key": key, "name": key.replace("-", " ").capitalize(),
                              "controller_email": "controller@agency.example", "record_kind": "lead",
                              **TEMPLATES[key]})


@dataclass
class Context:
    server: DevServer
    database_url: str
    sessions: async_sessionmaker[AsyncSession]
    client: Client
    owner_id: int
    record_ids: list[int]
    shared: dict[str, tuple[Proc, str]] | None = None  # one worker per side for every scenario (the smoke test)


async def seed(sessions: async_sessionmaker[AsyncSession], records: int = 16) -> tuple[int, list[int]]:
    """One owner, a few lead records and the bench templates (saved, for the API)."""
    async with sessions() as session:
        owner = User(handle=f"bench{uuid.uuid4().hex[:6]}", name="Bench Owner", email="owner@agency.example")
        session.add(owner)
        await session.commit()
        await session.refresh(owner)
        rows = [Record(kind=RecordKind.lead, title=f"Lead {i}", email="client@example.org", owner_id=owner.id)
                for i in range(records)]
        session.add_all(rows)
        await session.commit()
        ids = []
        for row in rows:
            await session.refresh(row)
            ids.append(row.id)
        for key in TEMPLATES:
            await template_store.save(session, template(key), "bench")
    assert owner.id is not None
    return owner.id, ids  # type: ignore[return-value]


def _tq(name: str) -> str:
    return f"bench-{name}-{uuid.uuid4().hex[:6]}"


@asynccontextmanager
async def _worker(ctx: Context, kind: str, name: str) -> AsyncIterator[tuple[Proc, str, str]]:
    """A fresh worker process of `kind` (or the shared one): the process, its task queue, a unique id prefix."""
    if ctx.shared is not None:
        worker, tq = ctx.shared[kind]
        yield worker, tq, _tq(name)
        return
    tq = _tq(name)
    async with worker_process(kind, ctx.server, ctx.database_url, tq) as worker:
        yield worker, tq, tq


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latency_summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": _pct(values, 0.5) * 1000, "p95_ms": _pct(values, 0.95) * 1000,
            "p99_ms": _pct(values, 0.99) * 1000, "mean_ms": statistics.fmean(values) * 1000 if values else 0.0}


async def _start(ctx: Context, kind: str, key: str, task_queue: str, wf_id: str, record_id: int,
                 **options: Any) -> WorkflowHandle[Any, Any]:
    if kind == "template":
        input = ProcessInput(template=template(key), template_version=1, record_id=record_id,
                             owner_id=ctx.owner_id, started_by="bench",
                             start_delay_seconds=options.get("start_delay_seconds", 0))
        return await start_process(ctx.client, input, workflow_id=wf_id, task_queue=task_queue)
    return await ctx.client.start_workflow(
        BaselineWorkflow.run, BaselineInput(record_id=record_id, **options), id=wf_id, task_queue=task_queue)


async def _watched(worker: Proc, coro: Any, timeout: float) -> Any:
    """Await `coro`; fail at once if the worker process ends, and after `timeout` seconds."""
    task = asyncio.ensure_future(coro)
    deadline = time.monotonic() + timeout
    try:
        while not task.done():
            worker.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no result after {timeout:.0f}s")
            await asyncio.wait([task], timeout=1)
        return task.result()
    finally:
        task.cancel()


async def _gather_limited(coros: list[Any], limit: int = 64) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with gate:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


async def _history_shape(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    history = await handle.fetch_history()
    kinds = Counter(event.event_type for event in history.events)
    return {"events": len(history.events),
            "by_type": {EventType.Name(k).removeprefix("EVENT_TYPE_"): v for k, v in sorted(kinds.items())},
            "activities": kinds.get(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, 0),
            "workflow_tasks": kinds.get(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 0)}


# --- scenario 1 (and 6): phase overhead ---------------------------------------------------------

async def phase_overhead(ctx: Context, kind: str, n: int, profile: str | None = None) -> dict[str, Any]:
    """n five-phase processes started at once; processes/s from the first start to the last completion."""
    options = {} if kind == "template" else {"steps": PHASES}
    async with _worker(ctx, kind, f"s1-{kind}") as (worker, tq, ids):
        warm = [await _start(ctx, kind, "bench-five", tq, f"{ids}-warm-{i}", ctx.record_ids[0], **options)
                for i in range(WARM)]
        await _watched(worker, asyncio.gather(*(h.result() for h in warm)), 120)
        rss_before = worker.rss()
        spy = await _profile_start(worker, profile)
        t0 = time.monotonic()
        handles = await _gather_limited([
            _start(ctx, kind, "bench-five", tq, f"{ids}-{i}", ctx.record_ids[i % len(ctx.record_ids)], **options)
            for i in range(n)])
        started = time.monotonic() - t0
        await _watched(worker, _gather_limited([h.result() for h in handles], limit=512), 300 + n * 2)
        elapsed = time.monotonic() - t0
        await _profile_stop(spy)
        shape = await _history_shape(handles[0])
        return {"kind": kind, "processes": n, "seconds": elapsed, "start_seconds": started,
                "processes_per_s": n / elapsed, "history_events": shape["events"],
                "events_per_phase": shape["events"] / PHASES, "activities_per_phase": shape["activities"] / PHASES,
                "workflow_tasks_per_phase": shape["workflow_tasks"] / PHASES, "event_types": shape["by_type"],
                "worker_rss_mb": worker.rss() / 2**20, "worker_rss_growth_mb": (worker.rss() - rss_before) / 2**20}


async def _profile_start(worker: Proc, path: str | None) -> Any:
    if not path:
        return None
    spy = Path(sys.executable).parent / "py-spy"
    return await asyncio.create_subprocess_exec(
        str(spy), "record", "--pid", str(worker.pid), "--format", "raw", "--output", path, "--rate", "200", "--gil",
        "--nonblocking", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def _profile_stop(spy: Any) -> None:
    if spy is not None:
        spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
        await spy.wait()


# --- scenario 3: signal to move ------------------------------------------------------------------

async def _row_time(ctx: Context, query: Any, what: str, timeout: float = 60) -> datetime:
    """When the history row `query` finds was written, polling until it is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with ctx.sessions() as session:
            found = (await session.exec(query)).first()
        if found is not None:
            return found if found.tzinfo else found.replace(tzinfo=UTC)
        await asyncio.sleep(0.005)
    raise TimeoutError(f"no {what}")


def _kind_row(wf_id: str, kind: HistoryKind) -> Any:
    return select(HistoryEntry.created_at).where(HistoryEntry.workflow_id == wf_id, HistoryEntry.kind == kind)


def _step_row(wf_id: str) -> Any:
    return select(HistoryEntry.created_at).where(HistoryEntry.step_key == f"{wf_id}/step/0")


async def signal_to_move(ctx: Context, kind: str, n: int) -> dict[str, Any]:
    """Staff skip (update) of a waiting phase → the next phase's first action written; against a signal."""
    async with _worker(ctx, kind, f"s3-{kind}") as (_, tq, ids):
        handles = []
        for i in range(n + 2):  # two for warm-up
            wf_id = f"{ids}-{i}"
            if kind == "template":
                handle = await _start(ctx, kind, "bench-skip", tq, wf_id, ctx.record_ids[0])
            else:
                handle = await _start(ctx, kind, "", tq, wf_id, ctx.record_ids[0], steps=1, wait_for_signal=True)
            handles.append(handle)
        for handle in handles:  # wait until each one waits: its task opened / its first row written
            if kind == "template":
                while (await handle.query(ProcessWorkflow.current_state)).phases[0].task_id is None:
                    await asyncio.sleep(0.01)
            else:
                await _row_time(ctx, _kind_row(handle.id, HistoryKind.note), f"note row for {handle.id}")
        spent = []
        for i, handle in enumerate(handles):
            sent = datetime.now(UTC)
            if kind == "template":
                moving = asyncio.create_task(handle.execute_update(ProcessWorkflow.skip_phase,
                                                                   SkipPhaseRequest(reason="bench", actor="bench")))
                # the first action of the next phase is the only `note` row of the process
                done = await _row_time(ctx, _kind_row(handle.id, HistoryKind.note), f"note row for {handle.id}")
                await moving
            else:
                await handle.signal(BaselineWorkflow.advance)
                done = await _row_time(ctx, _step_row(handle.id), f"step row for {handle.id}")
            if i >= 2:
                spent.append((done - sent).total_seconds())
        return {"kind": kind, **latency_summary(spent)}


# --- scenario 4 (and 6): parked processes ---------------------------------------------------------

async def _count(ctx: Context, prefix: str, kind: HistoryKind) -> int:
    query = select(func.count()).select_from(HistoryEntry).where(
        col(HistoryEntry.workflow_id).startswith(prefix), HistoryEntry.kind == kind)
    async with ctx.sessions() as session:
        return int((await session.exec(query)).one())


async def _until_count(ctx: Context, worker: Proc, prefix: str, kind: HistoryKind, n: int,
                       stall: float = 120) -> float:
    """When the n-th row of `kind` is there; fails when the worker ends or nothing moves for `stall` s."""
    last, moved = -1, time.monotonic()
    while (count := await _count(ctx, prefix, kind)) < n:
        worker.check()
        if count != last:
            last, moved = count, time.monotonic()
        elif time.monotonic() - moved > stall:
            raise TimeoutError(f"{prefix}: {count} of {n} {kind.value} rows, none more for {stall:.0f}s")
        await asyncio.sleep(0.1)
    return time.monotonic()


async def parked(ctx: Context, kind: str, n: int, parked_per_s: float) -> dict[str, Any]:
    """n processes parked on timers that come due together; memory per parked process and wake-up time.

    The due time is set from `parked_per_s` (measured at a smaller load in the same run) so that
    all are parked before it comes; `parked_before_due` says whether they were.
    """
    options = {} if kind == "template" else {"steps": 1}
    async with _worker(ctx, kind, f"s4-{kind}") as (worker, tq, ids):
        warm = [await _start(ctx, kind, "bench-park", tq, f"{ids}-warm-{i}", ctx.record_ids[0],
                             start_delay_seconds=0.2, **options) for i in range(WARM)]
        await _watched(worker, asyncio.gather(*(h.result() for h in warm)), 120)
        await asyncio.sleep(SETTLE)
        worker_before, server_before = worker.rss(), rss_bytes(ctx.server.pid)
        prefix = f"{ids}-p-"
        t0 = time.monotonic()
        lead = 3 * SETTLE + 1.25 * n / parked_per_s
        due = time.time() + lead
        due_mono = t0 + lead

        async def one(i: int) -> None:
            await _start(ctx, kind, "bench-park", tq, f"{prefix}{i}", ctx.record_ids[i % len(ctx.record_ids)],
                         start_delay_seconds=max(due - time.time(), 0.0), **options)

        await _gather_limited([one(i) for i in range(n)])
        calls_done = time.monotonic()
        all_parked = await _until_count(ctx, worker, prefix, HistoryKind.process_started, n)
        parked_before_due = all_parked < due_mono
        if parked_before_due:
            await asyncio.sleep(min(2 * SETTLE, max(due_mono - time.monotonic() - 0.5, 0)))
        worker_parked, server_parked = worker.rss(), rss_bytes(ctx.server.pid)
        all_done = await _until_count(ctx, worker, prefix, HistoryKind.process_ended, n,
                                      stall=120 + max(due_mono - time.monotonic(), 0))
        return {
            "kind": kind, "processes": n, "start_calls_seconds": calls_done - t0,
            "start_seconds": all_parked - t0, "parked_per_s": n / (all_parked - t0),
            "parked_before_due": parked_before_due, "lead_seconds": lead,
            "fire_seconds": all_done - max(due_mono, all_parked), "fired_per_s": n / (all_done - max(due_mono, all_parked)),
            "worker_rss_mb_before": worker_before / 2**20, "worker_rss_mb_parked": worker_parked / 2**20,
            "worker_kb_per_process": (worker_parked - worker_before) / 1024 / n,
            "server_rss_mb_before": server_before / 2**20, "server_rss_mb_parked": server_parked / 2**20,
            "server_kb_per_process": (server_parked - server_before) / 1024 / n,
        }
