"""Scenario 1 alone, quickly: CPU per process of each side's worker, the dev server and PostgreSQL, and throughput.

    python -m bench.cpu_probe [--rounds 8] [--processes 50] [--mode memory] [--database postgresql] [--json OUT]

One worker per side, kept for every round (warmed first); the rounds alternate the sides in the order
A B B A A B ... so that a drift of the shared machine falls on both alike. For each round it reads the CPU
seconds (user + system, from /proc) the worker, the dev server, the PostgreSQL backends connected to the bench's
database and this process (the caller starting the processes) used while that round's processes ran, and
divides them by the processes. Run it alone (`flock -x /work/wt/HEAVY.lock`). Printed: each
round, then each side's medians and the median of the per-pair ratios (template / hand-written).
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
from pathlib import Path
from typing import Any

from bench.infra import connect, cpu_seconds, database, dev_server, worker_process
from bench.scenarios import PHASES, Context, _gather_limited, _start, _watched, seed
from crm.db import make_engine, make_sessionmaker

KINDS = ("baseline", "template")
TICK = os.sysconf("SC_CLK_TCK")


def postgres_cpu(dbname: str) -> float:
    """CPU seconds of the live PostgreSQL backends connected to `dbname` (the workers' pools keep theirs)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        if name != "postgres":
            continue
        try:
            with open(f"/proc/{entry}/cmdline") as cmdline:
                if f" {dbname} " not in cmdline.read():
                    continue
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICK


async def one_round(ctx: Context, kind: str, worker: Any, tq: str, n: int) -> dict[str, float]:
    options: dict[str, Any] = {} if kind == "template" else {"steps": PHASES}
    ids = f"{tq}-{uuid.uuid4().hex[:6]}"
    dbname = ctx.database_url.rsplit("/", 1)[1]
    before = (cpu_seconds(worker.pid), cpu_seconds(ctx.server.pid), postgres_cpu(dbname), time.process_time())
    t0 = time.monotonic()
    handles = await _gather_limited([
        _start(ctx, kind, "bench-five", tq, f"{ids}-{i}", ctx.record_ids[i % len(ctx.record_ids)], **options)
        for i in range(n)])
    await _watched(worker, _gather_limited([h.result() for h in handles], limit=512), 300 + n * 2)
    elapsed = time.monotonic() - t0
    after = (cpu_seconds(worker.pid), cpu_seconds(ctx.server.pid), postgres_cpu(dbname), time.process_time())
    parts = dict(zip(("worker", "server", "postgres", "caller"),
                     ((a - b) * 1000 / n for a, b in zip(after, before))))
    return {"processes_per_s": n / elapsed, "seconds": elapsed, **{f"{k}_ms": v for k, v in parts.items()},
            "load": os.getloadavg()[0]}


async def probe(mode: str, url: str, rounds: int, n: int, warm: int) -> dict[str, Any]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    owner_id, record_ids = await seed(sessions)
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
    try:
        with dev_server(mode) as server:
            ctx = Context(server=server, database_url=url, sessions=sessions, client=await connect(server.address),
                          owner_id=owner_id, record_ids=record_ids)
            tqs = {kind: f"probe-{kind}-{uuid.uuid4().hex[:6]}" for kind in KINDS}
            async with worker_process("baseline", server, url, tqs["baseline"]) as base, \
                    worker_process("template", server, url, tqs["template"]) as tmpl:
                workers = {"baseline": base, "template": tmpl}
                for kind in KINDS:  # warm: imports, caches, the database pool
                    await one_round(ctx, kind, workers[kind], tqs[kind], warm)
                for r in range(rounds):
                    order = KINDS if r % 2 == 0 else KINDS[::-1]
                    for kind in order:
                        result = await one_round(ctx, kind, workers[kind], tqs[kind], n)
                        runs[kind].append(result)
                        print(f"round {r + 1} {kind:8} {result['processes_per_s']:6.1f}/s  worker "
                              f"{result['worker_ms']:5.1f}  server {result['server_ms']:5.1f}  postgres "
                              f"{result['postgres_ms']:5.1f}  caller {result['caller_ms']:5.1f} ms/process  "
                              f"load {result['load']:.1f}", flush=True)
    finally:
        await engine.dispose()
    summary: dict[str, Any] = {}
    for key in ("processes_per_s", "worker_ms", "server_ms", "postgres_ms", "caller_ms"):
        b = [run[key] for run in runs["baseline"]]
        t = [run[key] for run in runs["template"]]
        summary[key] = {"baseline": statistics.median(b), "template": statistics.median(t),
                        "ratio_of_medians": statistics.median(t) / statistics.median(b),
                        "median_of_pair_ratios": statistics.median(x / y for x, y in zip(t, b) if y)}
    return {"rounds": runs, "summary": summary}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_probe", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--processes", type=int, default=50)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--mode", default="memory")
    parser.add_argument("--database", default="postgresql")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    load = os.getloadavg()
    started = time.strftime("%H:%M:%S", time.gmtime())
    with database(args.database) as (_, url):
        out = asyncio.run(probe(args.mode, url, args.rounds, args.processes, args.warm))
    out.update(started_utc=started, load_at_start=load, load_at_end=os.getloadavg(), argv=sys.argv[1:])
    for key, s in out["summary"].items():
        print(f"{key:16} baseline {s['baseline']:7.2f}  template {s['template']:7.2f}  ratio of medians "
              f"{s['ratio_of_medians']:.3f}  median of pair ratios {s['median_of_pair_ratios']:.3f}")
    print(f"started {started} UTC, load {load[0]:.1f} at start, {out['load_at_end'][0]:.1f} at end")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
