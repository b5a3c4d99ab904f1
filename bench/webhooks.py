"""Scenario 11, runnable alone: a phase with one `webhook` action against a hand-written Temporal activity doing the
same POST, in throughput (target: the baseline at most 1.2× the template's processes/s).

    python -m bench.webhooks [--processes N] [--rounds R] [--mode memory|sqlite] [--database auto|sqlite|postgresql]
                             [--json OUT] [--profile DIR] [--baseline-runner R] [--baseline-activity activity|local]

Both sides POST the same JSON body with Standard Webhooks headers signed with the endpoint's secret, through
httpx, to a receiver in this process (asyncio, answering 200 at once, keeping the connection open). Template
side: processes of a one-phase template whose only action is `- webhook: {endpoint: bench}` (its body rendered
in the render pool, the delivery recorded once before it leaves, the address checked, the outcome and the
history line written with the phase's bookkeeping). Baseline: `bench.baseline.WebhookBaselineWorkflow`, one
activity that signs and POSTs the same body and records nothing; and, to tell the engine's cost from the cost of
keeping what was sent, the same activity keeping a delivery row (`recorded`: inserted once by step key before
the POST, its answer written after), as a careful hand-written one would. Each round starts N processes at once on a
fresh worker of one side and times them from the first start to the last completion; the sides take turns, the
order reversed every other round, and the target's ratio is the median of the rounds' own ratios (the table
keeps each side's median round). The receiver counts the POSTs: one per process.

The baseline's worker runs the SDK's default sandbox, which imports the hand-written workflow's module again for
every run, as a hand-written worker usually does; Stagecoach's worker runs without the sandbox (`worker.RUNNER`).
`--baseline-runner unsandboxed` runs the baseline's worker the same way (the like-for-like reading, bench/findings.md);
`passthrough` keeps the sandbox but passes the baseline's module through it.

The issue's baseline POSTs from a regular activity; the template's step makes its first attempt as a local activity
(`workflows/first_attempt.py`). `--baseline-activity local` makes the hand-written POST a local activity too: a
reading of what the same choice gives a hand-written workflow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

SECRET = "whsec_" + "YmVuY2gtd2ViaG9vay1zZWNyZXQtMTIzNDU2Nzg5MA=="
TARGET = 1.2
KINDS = ("baseline", "recorded", "template")  # "recorded": the hand-written activity keeping a delivery row
WARM = 3


class Receiver:
    """A minimal HTTP/1.1 server on 127.0.0.1: every request answered 200 with a small JSON body."""

    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.server: asyncio.base_events.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                headers = dict(line.split(":", 1) for line in head.decode("latin-1").split("\r\n")[1:] if ":" in line)
                fields = {name.strip().lower(): value.strip() for name, value in headers.items()}
                await reader.readexactly(int(fields.get("content-length", "0")))
                self.ids[fields.get("webhook-id", "")] += 1
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n"
                             b'{"ok":true}')
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def _children(pid: int) -> list[int]:
    """The process's children (the render pool's processes), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _cpu(worker_pid: int, server_pid: int, database_url: str) -> dict[str, float]:
    """CPU seconds used so far by the worker, its render processes, the dev server and this database's PostgreSQL
    backends (the machine is shared: what each side costs does not depend on the load, its rate does)."""
    from bench.infra import cpu_seconds, database_cpu_seconds

    def safe(pid: int) -> float:
        try:
            return cpu_seconds(pid)
        except OSError:
            return 0.0

    return {"worker": safe(worker_pid), "render": sum(safe(pid) for pid in _children(worker_pid)),
            "temporal": safe(server_pid), "postgresql": database_cpu_seconds(database_url)}


def _template() -> Any:
    from processes.validation import validate_template

    return validate_template({"key": "bench-webhook", "name": "Bench webhook", "record_kind": "lead",
                              "controller_email": "controller@agency.example",
                              "phases": [{"key": "post", "name": "Post",
                                          "actions": [{"webhook": {"endpoint": "bench"}}]}]})


async def _round(ctx: Any, kind: str, n: int, profile: Path | None = None) -> dict[str, Any]:
    from bench.baseline import WebhookBaselineInput, WebhookBaselineWorkflow
    from bench.scenarios import _gather_limited, _profile_start, _profile_stop, _watched, _worker
    from processes.instance import ProcessInput
    from workflows.client import start_process

    template = _template()

    async def start(tq: str, wf_id: str, record_id: int) -> Any:
        if kind == "template":
            return await start_process(ctx.client, ProcessInput(
                template=template, template_version=1, record_id=record_id, owner_id=ctx.owner_id,
                started_by="bench"), workflow_id=wf_id, task_queue=tq)
        return await ctx.client.start_workflow(WebhookBaselineWorkflow.run, WebhookBaselineInput(
            record_id=record_id, endpoint="bench", recorded=kind == "recorded",
            local=os.environ.get("BENCH_BASELINE_ACTIVITY") == "local"), id=wf_id, task_queue=tq)

    async with _worker(ctx, "template" if kind == "template" else "baseline", f"s9-{kind}") as (worker, tq, ids):
        warm = [await start(tq, f"{ids}-warm-{i}", ctx.record_ids[0]) for i in range(WARM)]
        await _watched(worker, asyncio.gather(*(h.result() for h in warm)), 120)
        spy = await _profile_start(worker, str(profile / f"webhook-{kind}.txt") if profile else None)
        cpu0, t0 = _cpu(worker.pid, ctx.server.pid, ctx.database_url), time.monotonic()
        handles = await _gather_limited([start(tq, f"{ids}-{i}", ctx.record_ids[i % len(ctx.record_ids)])
                                         for i in range(n)])
        await _watched(worker, _gather_limited([h.result() for h in handles], limit=512), 300 + n * 2)
        elapsed = time.monotonic() - t0
        cpu1 = _cpu(worker.pid, ctx.server.pid, ctx.database_url)
        await _profile_stop(spy)
    return {"kind": kind, "processes": n, "seconds": elapsed, "processes_per_s": n / elapsed,
            "cpu_ms_per_process": {part: (cpu1[part] - cpu0[part]) * 1000 / n for part in cpu1}}


async def measure(mode: str, n: int, rounds: int, database_url: str, profile: Path | None = None) -> dict[str, Any]:
    from bench.infra import connect, dev_server
    from bench.scenarios import Context, seed
    from crm.db import make_engine, make_sessionmaker

    receiver = Receiver()
    await receiver.start()
    os.environ["WEBHOOK_ENDPOINTS"] = json.dumps({"bench": {"url": f"http://127.0.0.1:{receiver.port}/hook",
                                                            "secret": SECRET}})
    os.environ["OUTBOUND_ALLOWED_HOSTS"] = '["127.0.0.1"]'  # the workers inherit both
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    owner_id, record_ids = await seed(sessions)
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    try:
        with dev_server(mode) as server:
            ctx = Context(server=server, database_url=database_url, sessions=sessions,
                          client=await connect(server.address), owner_id=owner_id, record_ids=record_ids)
            for r in range(rounds):
                for kind in KINDS if r % 2 == 0 else KINDS[::-1]:  # no side always first
                    print(f"[bench.webhooks] {mode}: {kind}, {n} processes, round {r + 1} of {rounds}", flush=True)
                    runs[kind].append(await _round(ctx, kind, n, profile if r == rounds - 1 else None))
    finally:
        await engine.dispose()
        await receiver.stop()
    median = {kind: sorted(runs[kind], key=lambda run: run["processes_per_s"])[(rounds - 1) // 2] for kind in KINDS}
    # the target's ratio: the median of each round's own (its sides ran one after the other, on the same state of
    # the machine), not the ratio of each side's median round, which a drift of one side over the run decides
    ratio = _paired(runs, "baseline")
    recorded = _paired(runs, "recorded")
    posts = sum(receiver.ids.values())
    return {"mode": mode, "processes": n, "rounds": rounds, "median": median, "ratio": ratio,
            "ratio_to_recorded": recorded, "target": TARGET,
            "ratio_of_medians": median["baseline"]["processes_per_s"] / median["template"]["processes_per_s"],
            "meets_target": ratio <= TARGET, "posts": posts, "distinct_webhook_ids": len(receiver.ids),
            "rounds_processes_per_s": {kind: [run["processes_per_s"] for run in runs[kind]] for kind in KINDS},
            "cpu_ms_per_process": {kind: {part: statistics.median(run["cpu_ms_per_process"][part] for run in runs[kind])
                                          for part in runs[kind][0]["cpu_ms_per_process"]} for kind in KINDS},
            "spread": {kind: statistics.pstdev([run["processes_per_s"] for run in runs[kind]]) for kind in KINDS}}


def _paired(runs: dict[str, list[dict[str, Any]]], side: str) -> float:
    """The median over rounds of `side`'s rate over the template's in the same round."""
    return statistics.median(run["processes_per_s"] / template["processes_per_s"]
                             for run, template in zip(runs[side], runs["template"], strict=True))


def main(argv: list[str] | None = None) -> int:
    from bench.infra import database

    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--mode", default="memory", choices=["memory", "sqlite"], help="the dev server's mode")
    parser.add_argument("--database", default="auto", choices=["auto", "postgresql", "sqlite"])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--profile", type=Path, default=None,
                        help="py-spy each side's worker in the last round and keep the raw profiles here")
    parser.add_argument("--baseline-runner", default="default", choices=["default", "passthrough", "unsandboxed"],
                        help="the hand-written workers' workflow runner: the SDK's default sandbox, that sandbox "
                             "passing the baseline's module through, or none (as Stagecoach's worker)")
    parser.add_argument("--baseline-activity", default="activity", choices=["activity", "local"],
                        help="the hand-written POST as a regular activity (the issue's baseline) or as a local "
                             "activity, as the template's first attempt runs")
    args = parser.parse_args(argv)
    os.environ["BENCH_BASELINE_RUNNER"] = args.baseline_runner  # the workers inherit it
    os.environ["BENCH_BASELINE_ACTIVITY"] = args.baseline_activity
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with database(args.database) as (db_kind, url):
        result = asyncio.run(measure(args.mode, args.processes, args.rounds, url, args.profile))
    result["database"] = db_kind
    result["baseline_runner"] = args.baseline_runner
    result["baseline_activity"] = args.baseline_activity
    result["run"] = uuid.uuid4().hex[:8]
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    print(text)
    print(f"[bench.webhooks] baseline ({args.baseline_runner} runner, {args.baseline_activity})/template = "
          f"{result['ratio']:.2f} "
          f"(target <= {TARGET}): "
          f"{'met' if result['meets_target'] else 'NOT met'}; hand-written keeping a delivery row/template = "
          f"{result['ratio_to_recorded']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
