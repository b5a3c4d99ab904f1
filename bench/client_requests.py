"""Scenario 9, runnable alone: a client's submission to the record being in its next status, against a hand-written
Temporal workflow receiving the same signal.

    python -m bench.client_requests [--n 40] [--mode memory|sqlite] [--database auto|postgresql|sqlite] [--json OUT]

Template side: a record of a pipeline's type waits in `Waiting` with a client request (auto-move) open on it, and
the request's workflow waiting for its answers (as `send_client_request` starts it). The submission is written as
the form writes it (the request submitted and its outbox row, one transaction), then delivered as the form
delivers it (`submission_stored`: signal-with-start of the request's workflow), which moves the record to
`Answered` (`move_on_answer`). Baseline: the same transaction, then the signal
`client_request_submitted` to a hand-written workflow already waiting for it, whose one activity makes the same
move (`bench/request_baseline.py`). Time: from before the submission's transaction to the move's history row.
Both workers run side by side (processes of their own) and the samples alternate, so drift hits both alike.
Goal: the template side's p50 and p95 at most 1.2× the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from bench import scenarios
from bench.infra import connect, database, dev_server, worker_process
from bench.request_baseline import MoveInput, RequestBaselineWorkflow
from bench.scenarios import Context, _row_time, latency_summary, seed
from crm import pipeline_store
from crm.client_requests import store
from crm.client_requests.models import AutoMove, ClientRequest, ClientRequestSubmission, RequestStatus
from crm.client_requests.questions import RequestTemplate
from crm.db import make_engine, make_sessionmaker
from crm.models import HistoryEntry, HistoryKind, Record, RecordKind
from crm.types import utcnow
from processes.instance import ClientRequestSubmitted
from processes.pipeline import Pipeline
from settings import Settings
from workflows.client import ClientRequestInput, start_request_workflow
from workflows.request_delivery import submission_stored

GOAL = 1.2
KINDS = ("template", "baseline")


async def _prepare(sessions: Any, tag: str, n: int) -> list[tuple[int, int]]:
    """`n` records in `Waiting`, each with a pending request (auto-move) on it: (record id, request id)."""
    type_name = f"Bench request {tag}"
    async with sessions() as session:
        await pipeline_store.save(session, Pipeline.model_validate({
            "key": f"bench-req-{tag}", "name": "Bench requests", "record_kind": "job", "types": [{"name": type_name}],
            "statuses": [{"name": "Waiting"}, {"name": "Answered"}]}), "bench")
        await store.save_template(session, RequestTemplate.model_validate({
            "key": f"bench-{tag}", "language": "en", "title": "Documents",
            "questions": [{"key": "iban", "type": "text", "label": "IBAN"}]}), "bench")
        pairs = []
        for i in range(n):
            record = Record(kind=RecordKind.job, type=type_name, status="Waiting", title=f"Job {i}",
                            email="client@example.org")
            session.add(record)
            await session.flush()
            request, _ = await store.open_request(session, template_key=f"bench-{tag}", record_id=record.id,
                                                  actor="bench", auto_move=AutoMove.on, waiting_status="Waiting")
            pairs.append((record.id or 0, request.id or 0))
        await session.commit()
    return pairs


async def _submit(sessions: Any, request_id: int) -> ClientRequest:
    """What the form's submission writes, in one transaction (the form has read the request first)."""
    async with sessions() as session:
        request = await session.get(ClientRequest, request_id)
        assert request is not None
        request.status, request.submitted_at, request.answers = RequestStatus.submitted, utcnow(), {"iban": "IT60"}
        session.add(request)
        session.add(ClientRequestSubmission(request_id=request_id))
        await session.commit()
        return request


def _moved(record_id: int) -> Any:
    return select(HistoryEntry.created_at).where(HistoryEntry.record_id == record_id,
                                                 HistoryEntry.kind == HistoryKind.status_changed)


async def answers_to_move(ctx: Context, n: int) -> dict[str, Any]:
    """Scenario 9 on the context's dev server: `n` answers on each side (after warm-up), alternating."""
    tag, warm = uuid.uuid4().hex[:8], scenarios.WARM
    sessions, client = ctx.sessions, ctx.client
    pairs = {kind: await _prepare(sessions, f"{kind[0]}{tag}", n + warm) for kind in KINDS}
    spent: dict[str, list[float]] = {kind: [] for kind in KINDS}
    async with AsyncExitStack() as workers:
        if ctx.shared is not None:
            queues = {kind: ctx.shared[kind][1] for kind in KINDS}
        else:
            queues = {kind: f"s9-{kind}-{tag}" for kind in KINDS}
            for kind in KINDS:
                await workers.enter_async_context(worker_process(kind, ctx.server, ctx.database_url, queues[kind]))
        settings = Settings(temporal_task_queue=queues["template"])
        for i in range(n + warm):
            for kind in KINDS if i % 2 == 0 else tuple(reversed(KINDS)):
                record_id, request_id = pairs[kind][i]
                if kind == "baseline":  # the hand-written workflow waits for the signal already
                    handle = await client.start_workflow(
                        RequestBaselineWorkflow.run, MoveInput(record_id=record_id, to="Answered",
                                                               step_key=f"bench/{tag}/{record_id}"),
                        id=f"s9-{tag}-{record_id}", task_queue=queues["baseline"])
                else:  # as `send_client_request` starts it: it waits for the answers
                    await start_request_workflow(client, settings, ClientRequestInput(
                        request_id=request_id, wait_until=utcnow() + timedelta(days=1)))
                await asyncio.sleep(0.05)  # both started: what is timed is the answer alone
                sent = datetime.now(UTC)
                request = await _submit(sessions, request_id)
                if kind == "template":
                    async with sessions() as session:
                        await submission_stored(client, settings, session, request)
                else:
                    await handle.signal(RequestBaselineWorkflow.submitted,
                                        ClientRequestSubmitted(request_id=request_id, submitted_at=sent))
                done = await _row_time(ctx, _moved(record_id), f"move of record {record_id}")
                if i >= warm:
                    spent[kind].append((done - sent).total_seconds())
    results: dict[str, Any] = {kind: latency_summary(values) for kind, values in spent.items()}
    for q in ("p50", "p95"):
        results[f"ratio_{q}"] = results["template"][f"{q}_ms"] / results["baseline"][f"{q}_ms"]
    return results


async def measure(n: int, mode: str, db_choice: str) -> dict[str, Any]:
    """Scenario 9 alone: a fresh database and dev server of its own."""
    with database(db_choice) as (db_kind, url), dev_server(mode) as server:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        owner_id, record_ids = await seed(sessions, records=1)
        ctx = Context(server=server, database_url=url, sessions=sessions, client=await connect(server.address),
                      owner_id=owner_id, record_ids=record_ids)
        try:
            results = await answers_to_move(ctx, n)
        finally:
            await engine.dispose()
    return {"mode": mode, "database": db_kind, "goal": GOAL, **results,
            "within_goal": results["ratio_p50"] <= GOAL and results["ratio_p95"] <= GOAL}


def targets(mode: str, m: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """The rows of the report's targets (`bench/report.py`)."""
    if "answers_to_move" not in m:  # a run from before scenario 9
        return []
    s = m["answers_to_move"]
    return [(mode, f"9: client's answers to the next status {q} vs hand-written", f"≤ {GOAL}", f"{s[f'ratio_{q}']:.2f}",
             "met" if s[f"ratio_{q}"] <= GOAL else "**missed**") for q in ("p50", "p95")]


def section(m: dict[str, Any]) -> list[str]:
    """The report's section (`bench/report.py`)."""
    if "answers_to_move" not in m:
        return []
    rows = [(label, m["answers_to_move"][kind]) for label, kind in (
        ("hand-written (signal to a waiting workflow)", "baseline"), ("client request (auto-move)", "template"))]
    return ["### 9. A client's answers to the record's next status", "",
            "A record waits in a status with a client request (auto-move) open on it; the submission is written as",
            "the form writes it and delivered as the form delivers it (a signal to the request's workflow, which",
            "moves the record). The baseline writes the same submission, then signals a hand-written workflow",
            "waiting for it, whose one activity makes the same move. Timed until the move's history row.", "",
            "| | answers | p50 ms | p95 ms | mean ms |", "|---|---|---|---|---|",
            *[f"| {label} | {r['n']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['mean_ms']:.1f} |"
              for label, r in rows],
            f"| ratio | | {m['answers_to_move']['ratio_p50']:.2f} | {m['answers_to_move']['ratio_p95']:.2f} | |", ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.client_requests", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="samples per side (after warm-up)")
    parser.add_argument("--mode", default="memory", choices=["memory", "sqlite"], help="the dev server's mode")
    parser.add_argument("--database", default="auto", choices=["auto", "postgresql", "sqlite"])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    results = asyncio.run(measure(args.n, args.mode, args.database))
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
