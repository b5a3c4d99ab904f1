"""Scenario 7: hostile renders. Harmless processes' phase latency on a worker whose render pool is kept busy
by texts that hit their bounds, against the same worker idle; and the worker's memory meanwhile.

The hostile processes' texts read the record, so nothing of them is tried when they are saved: one
loops until its second of processor time is used up, one allocates until its child's memory cap.
`in_flight` of them are kept running the whole time (each becomes an incident, is terminated and
replaced). The harmless processes run five phases of one rendered note each, a few at a time; a
phase's latency is the time between the notes of two consecutive phases (from the rows' `created_at`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

from sqlmodel import select

from bench.infra import Proc, rss_bytes, worker_process
from bench.scenarios import _tq, latency_summary
from crm.models import HistoryEntry, HistoryKind, Record, RecordKind
from processes.instance import ProcessInput, ProcessStatus
from processes.template import ProcessTemplate
from processes.validation import validate_template
from renderer.pool import RENDER_KILL_SECONDS
from settings import Settings
from workflows.client import start_process
from workflows.search_attributes import STATUS

PHASES = 5
CONCURRENT = 4  # harmless processes running at a time
CHILD_READY_MB = 64  # what a render child holds once ready (Python, Jinja2, Babel's data), above which it is capped
TIME_BOMB = "{% for i in range(record.fields.n) %}{% for j in range(record.fields.n) %}{% endfor %}{% endfor %}"
MEMORY_BOMB = ("{% set ns = namespace(x=[]) %}{% set s = record.title * 19000 %}{% for i in range(10000) %}"
               "{% set ns.x = [ns.x" + ", s ~ i" * 10 + "] %}{% endfor %}")


def _template(key: str, *texts: str) -> ProcessTemplate:
    return validate_template({
        "key": key, "name": key, "controller_email": "controller@agency.example", "record_kind": "lead",
        "phases": [{"key": f"p{i}", "name": f"Phase {i}", "actions": [{"add_history": {"text": text}}]}
                   for i, text in enumerate(texts)]})


HARMLESS = _template("bench-harmless", *(f"phase {i}: {{{{ record }}}}, {{{{ record.fields.n | number }}}}"
                                         for i in range(PHASES)))
HOSTILE = [_template("bench-time-bomb", TIME_BOMB), _template("bench-memory-bomb", MEMORY_BOMB)]


def _family(pid: int) -> list[int]:
    """The process and its descendants (the worker's render children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
    return found


class _Memory:
    """The worker's own resident memory and its render children's, sampled until stopped; the largest of each."""

    def __init__(self, worker: Proc) -> None:
        self.worker, self.own, self.children, self.child = worker, 0, 0, 0

    async def sample(self) -> None:
        while True:
            own, rest = rss_bytes(self.worker.pid), []
            for pid in _family(self.worker.pid)[1:]:
                with contextlib.suppress(OSError, RuntimeError):
                    rest.append(rss_bytes(pid))
            self.own, self.children = max(self.own, own), max(self.children, sum(rest))
            self.child = max([self.child, *rest])
            await asyncio.sleep(0.1)


async def _harmless(ctx: Any, worker: Proc, task_queue: str, record_id: int, n: int, tag: str) -> list[float]:
    """n harmless processes, CONCURRENT at a time; the latency of each of their phases after the first."""
    gate = asyncio.Semaphore(CONCURRENT)

    async def one(i: int) -> str:
        async with gate:
            input = ProcessInput(template=HARMLESS, template_version=1, record_id=record_id,
                                 owner_id=ctx.owner_id, started_by="bench")
            handle = await start_process(ctx.client, input, workflow_id=f"bench-harmless-{tag}-{i}",
                                         task_queue=task_queue)
            state = await asyncio.wait_for(handle.result(), 300)
            assert state.status is ProcessStatus.completed, state.status
            return handle.id

    ids = await asyncio.gather(*(one(i) for i in range(n)))
    worker.check()
    gaps = []
    async with ctx.sessions() as session:
        for wf_id in ids:
            rows = (await session.exec(select(HistoryEntry.created_at).where(
                HistoryEntry.workflow_id == wf_id, HistoryEntry.kind == HistoryKind.note)
                .order_by(HistoryEntry.id))).all()
            assert len(rows) == PHASES, rows
            gaps += [(b - a).total_seconds() for a, b in zip(rows, rows[1:], strict=False)]
    return gaps


async def _hostile(ctx: Any, task_queue: str, record_id: int, in_flight: int, counts: dict[str, int]) -> None:
    """Keep `in_flight` hostile processes running: each one that became an incident is terminated and replaced."""

    async def lane(k: int) -> None:
        for round_ in range(1_000_000):
            template = HOSTILE[(k + round_) % len(HOSTILE)]
            input = ProcessInput(template=template, template_version=1, record_id=record_id,
                                 owner_id=ctx.owner_id, started_by="bench")
            handle = await start_process(ctx.client, input, task_queue=task_queue,
                                         workflow_id=f"bench-hostile-{uuid.uuid4().hex[:10]}")
            # the status search attribute, which the server keeps: a query would run on the worker measured, 10
            # times a second for each of them (60 workflow tasks a second that no installation's users make)
            while (await handle.describe()).typed_search_attributes.get(STATUS) != ProcessStatus.incident.value:
                await asyncio.sleep(0.1)
            counts[template.key] = counts.get(template.key, 0) + 1
            await handle.terminate("bench: replaced by another")

    await asyncio.gather(*(lane(k) for k in range(in_flight)))


async def hostile_renders(ctx: Any, harmless: int, in_flight: int) -> dict[str, Any]:
    """The harmless processes' phase latency idle and beside `in_flight` hostile processes, and the memory."""
    async with ctx.sessions() as session:
        record = Record(kind=RecordKind.lead, title="Villa", fields={"n": 10_000}, owner_id=ctx.owner_id)
        session.add(record)
        await session.commit()
        await session.refresh(record)
    assert record.id is not None
    tq = _tq("s7")
    async with worker_process("template", ctx.server, ctx.database_url, tq) as worker:
        await _harmless(ctx, worker, tq, record.id, CONCURRENT, "warm")  # the pool's children started
        idle_memory = _Memory(worker)
        sampling = asyncio.create_task(idle_memory.sample())
        idle = await _harmless(ctx, worker, tq, record.id, harmless, "idle")
        sampling.cancel()
        counts: dict[str, int] = {}
        load = asyncio.create_task(_hostile(ctx, tq, record.id, in_flight, counts))
        busy_memory = _Memory(worker)
        sampling = asyncio.create_task(busy_memory.sample())
        while sum(counts.values()) < in_flight:  # every hostile text has hit its bound once: known as such
            if load.done():
                load.result()
            await asyncio.sleep(0.2)
        started, before = time.monotonic(), sum(counts.values())
        busy = await _harmless(ctx, worker, tq, record.id, harmless, "busy")
        seconds, during = time.monotonic() - started, sum(counts.values()) - before
        for task in (load, sampling):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await load
    settings = Settings()
    idle_s, busy_s = latency_summary(idle), latency_summary(busy)
    cap = (settings.render_processes + 2) * (settings.render_memory_mb + CHILD_READY_MB)  # fast, new, slow lanes
    return {
        "harmless_processes": harmless, "hostile_in_flight": in_flight, "idle": idle_s, "busy": busy_s,
        "p95_ratio": busy_s["p95_ms"] / idle_s["p95_ms"] if idle_s["p95_ms"] else None,
        "hostile_incidents": counts, "hostile_incidents_during": during,
        "busy_seconds": seconds, "render_kill_seconds": RENDER_KILL_SECONDS,
        "worker_rss_mb_idle": idle_memory.own / 2**20, "worker_rss_mb_busy": busy_memory.own / 2**20,
        "worker_memory_ratio": busy_memory.own / idle_memory.own if idle_memory.own else None,
        "children_rss_mb_busy": busy_memory.children / 2**20, "largest_child_rss_mb": busy_memory.child / 2**20,
        "children_ceiling_mb": cap, "render_memory_mb": settings.render_memory_mb,
    }
