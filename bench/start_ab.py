"""Side by side: the start path: client.start_workflow and several API processes (other code trees) on one dev server,
alternating rounds; starts/s, p50/p99 and the CPU per start of each API process (from /proc).

python -m bench.start_ab --database postgresql --side old=/tmp/before --side new=. [--side uv=.:/tmp/uvloop-site]
(a side: a name, the root of a code tree, and a folder put on its PYTHONPATH; the tree before: `git archive`)

--paced-rounds N: then N short paced rounds a side, alternating (open loop, as scenario 2's paced part: each start sent
on time whether or not the earlier ones have answered), at half the closed loop's direct rate unless --paced-rate says:
the p99 of each round and their median, so a change in the paced p99 can be told from the machine's moments.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from api.auth import create_key
from api.http_protocol import api_command
from bench.infra import (_die_with_parent, _env, connect, cpu_seconds, database, dev_server, free_port,
                         stop_process, wait_port)
from bench.scenarios import Context, _start, latency_summary, seed
from bench.start_path import paced
from crm.db import make_engine, make_sessionmaker
from crm.models import ApiRole

ROOT = Path(__file__).resolve().parent.parent


@asynccontextmanager
async def api(server: Any, url: str, tq: str, root: Path, extra_path: str | None):
    port = free_port()
    env = _env(server, url, tq)
    env["PYTHONPATH"] = str(root) + (os.pathsep + extra_path if extra_path else "")
    proc = subprocess.Popen(api_command("127.0.0.1", port, "--log-level", "warning"),
                            cwd=root, env=env, preexec_fn=_die_with_parent)
    try:
        await asyncio.to_thread(wait_port, port, proc)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        await asyncio.to_thread(stop_process, proc)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="postgresql")
    parser.add_argument("--mode", default="memory")
    parser.add_argument("--side", action="append", default=[], help="name=root[:extra sys.path]")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--starts", type=int, default=320)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--profile", default=None, help="side name to record with py-spy (last round)")
    parser.add_argument("--gil", action="store_true", help="py-spy only the thread holding the GIL (its --gil)")
    parser.add_argument("--paced-rounds", type=int, default=0)
    parser.add_argument("--paced-starts", type=int, default=200, help="starts in each paced round")
    parser.add_argument("--paced-rate", type=float, default=None, help="starts/s (half the direct rate if not given)")
    args = parser.parse_args()
    with database(args.database) as (kind, url):
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        owner_id, record_ids = await seed(sessions)
        async with sessions() as session:
            _, key = await create_key(session, "ab", ApiRole.staff)
        with dev_server(args.mode) as server:
            client = await connect(server.address)
            ctx = Context(server=server, database_url=url, sessions=sessions, client=client, owner_id=owner_id,
                          record_ids=record_ids)
            tq = "ab-start"
            async with AsyncExitStack() as stack:
                apis = {}
                for side in args.side:
                    name, _, rest = side.partition("=")
                    root, _, extra = rest.partition(":")
                    apis[name] = await stack.enter_async_context(
                        api(server, url, tq, Path(root).resolve(), extra or None))
                per = args.starts // args.clients
                counter = iter(range(10**9))

                async def direct_round() -> list[float]:
                    async def one(c: int) -> list[float]:
                        spent = []
                        for _ in range(per):
                            t = time.monotonic()
                            await _start(ctx, "template", "bench-five", tq, f"ab-d-{next(counter)}", record_ids[c])
                            spent.append(time.monotonic() - t)
                        return spent
                    return [s for x in await asyncio.gather(*(one(c) for c in range(args.clients))) for s in x]

                def http_round(base: str) -> Any:
                    async def run() -> list[float]:
                        async def one(c: int) -> list[float]:
                            spent = []
                            async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key},
                                                         timeout=60) as http:
                                for _ in range(per):
                                    t = time.monotonic()
                                    r = await http.post("/processes", json={"template": "bench-five",
                                                                           "record_id": record_ids[c]})
                                    spent.append(time.monotonic() - t)
                                    r.raise_for_status()
                            return spent
                        return [s for x in await asyncio.gather(*(one(c) for c in range(args.clients))) for s in x]
                    return run

                sides = {"direct": (direct_round, None)}
                for name, (base, pid) in apis.items():
                    sides[name] = (http_round(base), pid)
                results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
                for name, (run, _) in sides.items():
                    await run()  # warm up
                for r in range(args.rounds):
                    order = list(sides.items())
                    if r % 2:
                        order.reverse()
                    for name, (run, pid) in order:
                        spy = None
                        if args.profile == name and r == args.rounds - 1:
                            (ROOT / "build").mkdir(exist_ok=True)  # py-spy writes nothing, and says so to no one
                            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
                                                    str(pid), "--format", "raw", "--rate", "500", "--output",
                                                    str(ROOT / "build" / f"profile-{name}-{kind}.txt"),
                                                    "--nonblocking", *(["--gil"] if args.gil else [])],
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                            await asyncio.sleep(1)
                        load = os.getloadavg()[0]
                        c0 = cpu_seconds(pid) if pid else time.process_time()
                        s0 = cpu_seconds(server.pid)
                        t0 = time.monotonic()
                        spent = await run()
                        elapsed = time.monotonic() - t0
                        c1 = cpu_seconds(pid) if pid else time.process_time()
                        s1 = cpu_seconds(server.pid)
                        if spy is not None:
                            spy.send_signal(2)
                            spy.wait()
                        summary = latency_summary(spent)
                        results[name].append({"rate": len(spent) / elapsed, "p50": summary["p50_ms"],
                                              "p99": summary["p99_ms"], "cpu": (c1 - c0) * 1000 / len(spent),
                                              "server_cpu": (s1 - s0) * 1000 / len(spent), "load": load})
                        print(f"round {r} {name:8} {len(spent) / elapsed:7.1f}/s p50 {summary['p50_ms']:6.1f} "
                              f"p99 {summary['p99_ms']:6.1f} cpu {(c1 - c0) * 1000 / len(spent):5.2f} ms "
                              f"server {(s1 - s0) * 1000 / len(spent):5.2f} ms load {load:.1f}", flush=True)
                if args.paced_rounds:
                    await paced_rounds(args, ctx, key, tq, apis, results, counter)
                print(f"--- {kind}, dev server {args.mode}, medians of {args.rounds} rounds "
                      f"({args.starts} starts by {args.clients} clients)")
                direct_rate = statistics.median(x["rate"] for x in results["direct"])
                for name, rows in results.items():
                    med = {k: statistics.median(x[k] for x in rows) for k in rows[0]}
                    print(f"{name:8} {med['rate']:7.1f}/s ratio {med['rate'] / direct_rate:5.2f} "
                          f"p50 {med['p50']:6.1f} p99 {med['p99']:6.1f} cpu {med['cpu']:5.2f} ms "
                          f"server {med['server_cpu']:5.2f} ms load {med['load']:.1f}", flush=True)
        await engine.dispose()


async def paced_rounds(args: Any, ctx: Context, key: str, tq: str, apis: dict[str, tuple[str, int]],
                       results: dict[str, list[dict[str, float]]], counter: Any) -> None:
    """Short paced rounds of every side in turn (the order reversed every other round); prints each round's p50, p95,
    p99 and the medians of each side's rounds."""
    rate = args.paced_rate or statistics.median(x["rate"] for x in results["direct"]) / 2
    clients = len(ctx.record_ids)
    https = {name: httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=60)
             for name, (base, _) in apis.items()}

    def over_http(http: httpx.AsyncClient) -> Any:
        async def call(i: int) -> None:
            response = await http.post("/processes", json={"template": "bench-five",
                                                           "record_id": ctx.record_ids[i % clients]})
            response.raise_for_status()
        return call

    async def direct(i: int) -> None:
        await _start(ctx, "template", "bench-five", tq, f"ab-p-{next(counter)}", ctx.record_ids[i % clients])

    sides = {"direct": direct, **{name: over_http(http) for name, http in https.items()}}
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    try:
        for r in range(args.paced_rounds):
            order = list(sides.items())
            if r % 2:
                order.reverse()
            for name, call in order:
                load = os.getloadavg()[0]
                summary = await paced(call, rate, args.paced_starts)
                rows[name].append(summary)
                print(f"paced {r} {name:8} {rate:6.1f}/s p50 {summary['p50_ms']:6.1f} p95 {summary['p95_ms']:6.1f} "
                      f"p99 {summary['p99_ms']:6.1f} max {summary['max_ms']:6.1f} load {load:.1f}", flush=True)
    finally:
        for http in https.values():
            await http.aclose()
    print(f"--- paced at {rate:.1f}/s, medians of {args.paced_rounds} rounds of {args.paced_starts} starts")
    for name, summaries in rows.items():
        med = {k: statistics.median(x[k] for x in summaries) for k in ("p50_ms", "p95_ms", "p99_ms")}
        by_round = " ".join(f"{x['p99_ms']:.0f}" for x in summaries)
        print(f"{name:8} p50 {med['p50_ms']:6.1f} p95 {med['p95_ms']:6.1f} p99 {med['p99_ms']:6.1f} "
              f"(p99 by round: {by_round})", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
