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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlmodel import select

from bench.infra import connect, database, dev_server, worker_process
from bench.request_baseline import MoveInput, RequestBaselineWorkflow
from bench.scenarios import _row_time, latency_summary
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
WARM = 3


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


async def measure(n: int, mode: str, db_choice: str) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    with database(db_choice) as (db_kind, url), dev_server(mode) as server:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        client = await connect(server.address)
        queues = {"template": f"s9-template-{tag}", "baseline": f"s9-baseline-{tag}"}
        pairs = {kind: await _prepare(sessions, f"{kind[0]}{tag}", n + WARM) for kind in queues}
        spent: dict[str, list[float]] = {kind: [] for kind in queues}
        settings = Settings(temporal_task_queue=queues["template"])
        async with worker_process("template", server, url, queues["template"]), \
                worker_process("baseline", server, url, queues["baseline"]):
            for i in range(n + WARM):
                for kind in ("template", "baseline") if i % 2 == 0 else ("baseline", "template"):
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
                    done = await _row_time_any(sessions, _moved(record_id), f"move of record {record_id}")
                    if i >= WARM:
                        spent[kind].append((done - sent).total_seconds())
        await engine.dispose()
    results: dict[str, Any] = {"mode": mode, "database": db_kind, "goal": GOAL,
                               **{kind: latency_summary(values) for kind, values in spent.items()}}
    for q in ("p50_ms", "p95_ms"):
        results[f"ratio_{q.removesuffix('_ms')}"] = results["template"][q] / results["baseline"][q]
    results["within_goal"] = results["ratio_p50"] <= GOAL and results["ratio_p95"] <= GOAL
    return results


async def _row_time_any(sessions: Any, query: Any, what: str) -> datetime:
    return await _row_time(SimpleNamespace(sessions=sessions), query, what)  # type: ignore[arg-type]


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
