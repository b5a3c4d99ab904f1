"""Scenario 2, the start path: `POST /processes` over HTTP against `client.start_workflow` of the same input.

No worker polls the queue, so only the start path is timed. The sides take turns for `rounds` rounds (which one
goes first alternates), each round `total` starts by `clients` concurrent callers; the target's ratio is the median
of the rounds' own ratios (one side alone drifts with the machine within a run), and the tables keep each side's
median round.

The HTTP callers are aiohttp sessions, one keep-alive connection each. The caller runs on the same two cores as the
API and the dev server, so its own CPU counts against the side it drives: the Temporal client (Rust underneath) took
1.2 to 1.8 ms a start, httpx (pure Python) 1.5 to 3.2 ms, aiohttp (its parser in C) 0.5 to 0.8 ms (bench/findings.md).
The same starts through httpx are measured in the same rounds (`api_httpx`) and reported beside, not held to the
target.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx

from api.auth import create_key
from bench.infra import api_process, cpu_seconds, database_cpu_seconds
from bench.scenarios import Context, _start, _tq, latency_summary
from crm.models import ApiRole

SIDES = ("direct", "api", "api_httpx")
KEEP_ALIVE = 4.0  # seconds a caller keeps an idle connection (uvicorn: 5)
Caller = Callable[[int], Awaitable[list[float]]]


async def start_path(ctx: Context, total: int, clients: int, rounds: int = 1) -> dict[str, Any]:
    """`total` starts by `clients` concurrent callers, each side in turn for `rounds` rounds, then paced."""
    tq = _tq("s2")
    async with ctx.sessions() as session:
        _, key = await create_key(session, "bench staff", ApiRole.staff)
    per_client = total // clients
    body = [{"template": "bench-five", "record_id": ctx.record_ids[c]} for c in range(clients)]
    ids = itertools.count()

    async def direct(c: int) -> list[float]:
        return await _timed(per_client, lambda: _start(ctx, "template", "bench-five", tq, f"{tq}-direct-{next(ids)}",
                                                        ctx.record_ids[c]))

    async with api_process(ctx.server, ctx.database_url, tq) as api:
        headers = {"X-API-Key": key}
        # the callers let a connection go after 4 s idle: uvicorn closes it after 5 (its default keep-alive), and a
        # caller that kept it longer could write to one closing while the other sides had their rounds
        sessions = [aiohttp.ClientSession(api.url, headers=headers, connector=aiohttp.TCPConnector(
            keepalive_timeout=KEEP_ALIVE)) for _ in range(clients)]
        httpx_clients = [httpx.AsyncClient(base_url=api.url, headers=headers, timeout=60,
                                           limits=httpx.Limits(keepalive_expiry=KEEP_ALIVE)) for _ in range(clients)]

        async def by_aiohttp(c: int) -> list[float]:
            return await _timed(per_client, lambda: _post(sessions[c], body[c]))

        async def by_httpx(c: int) -> list[float]:
            return await _timed(per_client, lambda: _post_httpx(httpx_clients[c], body[c]))

        def cpu() -> dict[str, float]:  # the machine is shared: what each start costs does not depend on it
            return {"caller": time.process_time(), "api": cpu_seconds(api.pid), "temporal": cpu_seconds(ctx.server.pid),
                    "postgresql": database_cpu_seconds(ctx.database_url)}

        callers: dict[str, Caller] = {"direct": direct, "api": by_aiohttp, "api_httpx": by_httpx}
        try:
            for side in SIDES:  # warm up: connections, caches
                await asyncio.gather(*(callers[side](c) for c in range(clients)))
            runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
            for r in range(rounds):
                for side in SIDES if r % 2 == 0 else SIDES[::-1]:
                    runs[side].append(await _round(callers[side], clients, cpu))
            results = _summary(runs, clients, per_client * clients)
            # the latency a caller sees, at half the rate the machine did: each start sent on time (an open loop)
            rate = results["direct"]["starts_per_s"] / 2
            open_loop = sessions[0]  # one session: at most 100 connections, as many as httpx's pool

            async def by_http(i: int) -> None:
                await _post(open_loop, body[i % clients])

            async def by_client(i: int) -> None:
                await _start(ctx, "template", "bench-five", tq, f"{tq}-paced-{i}", ctx.record_ids[i % clients])

            results["paced"] = {"rate_per_s": rate, "direct": await paced(by_client, rate, total),
                                "api": await paced(by_http, rate, total)}
        finally:
            await asyncio.gather(*(s.close() for s in sessions), *(h.aclose() for h in httpx_clients))
    return results


async def _timed(n: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    """`n` calls one after the other: how long each took, in seconds."""
    spent = []
    for _ in range(n):
        t = time.monotonic()
        await call()
        spent.append(time.monotonic() - t)
    return spent


async def _post_httpx(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    (await client.post("/processes", json=body)).raise_for_status()


async def _post(session: aiohttp.ClientSession, body: dict[str, Any]) -> None:
    async with session.post("/processes", json=body) as response:
        await response.read()
        response.raise_for_status()


async def _round(caller: Caller, clients: int, cpu: Callable[[], dict[str, float]]) -> dict[str, Any]:
    before, t0 = cpu(), time.monotonic()
    spent = [s for per in await asyncio.gather(*(caller(c) for c in range(clients))) for s in per]
    elapsed, after = time.monotonic() - t0, cpu()
    return {"starts_per_s": len(spent) / elapsed, **latency_summary(spent),
            "cpu_ms_per_start": {part: (after[part] - before[part]) * 1000 / len(spent) for part in after}}


def _summary(runs: dict[str, list[dict[str, Any]]], clients: int, starts: int) -> dict[str, Any]:
    """Each side's median round, the medians of the rounds' own ratios, and every round's rate."""
    rounds = len(runs["direct"])
    out: dict[str, Any] = {"clients": clients, "starts": starts, "rounds": rounds}
    for side, sides in runs.items():
        out[side] = sorted(sides, key=lambda run: run["starts_per_s"])[(rounds - 1) // 2]
    for side, name in (("api", "ratio"), ("api_httpx", "ratio_httpx")):
        out[name] = statistics.median(a["starts_per_s"] / d["starts_per_s"]
                                      for a, d in zip(runs[side], runs["direct"], strict=True))
    out["rounds_starts_per_s"] = {side: [run["starts_per_s"] for run in sides] for side, sides in runs.items()}
    return out


async def paced(call: Callable[[int], Awaitable[None]], rate: float, n: int) -> dict[str, float]:
    """`n` calls, one every 1/`rate` seconds whether or not the earlier ones have answered: their latencies."""
    spent: list[float] = []

    async def one(i: int) -> None:
        t = time.monotonic()
        await call(i)
        spent.append(time.monotonic() - t)

    calls, t0 = [], time.monotonic()
    for i in range(n):
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        calls.append(asyncio.create_task(one(i)))
    await asyncio.gather(*calls)
    return {**latency_summary(spent), "max_ms": max(spent) * 1000}
