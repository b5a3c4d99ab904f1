"""`make bench`: every scenario, template against hand-written baseline, on a dev server started for the run.

    python -m bench [--quick | --tiny | --scale F] [--modes memory,sqlite] [--growth 1,4,16]
                    [--json OUT] [--markdown OUT] [--profile DIR] [--profile-moves DIR] [--no-data-scale] [--no-csv-import]
                    [--only-hostile | --only-moves | --only-one-server | --only-data-scale | --only-csv-import | --only-start-path]

Full runs write bench/results.json and docs/benchmarks.md; `--quick` writes to build/ so a
smoke run never replaces the committed figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import csv_import, report, scenarios, start_report
from bench.client_requests import answers_to_move
from bench.hostile import hostile_renders
from bench.infra import ROOT, connect, database, dev_server, worker_process
from bench.pipelines import move_to_action, moves_in_a_row
from bench.profile import summarize
from bench.scenarios import Context, parked, phase_overhead, seed, signal_to_move
from bench.start_path import start_path
from crm.db import make_engine, make_sessionmaker

KINDS = ("baseline", "template")
GROWTH = (1, 4, 16)  # scenario 6: scenarios 1 and 4 at these multiples of their load


@dataclass(frozen=True)
class Loads:
    phase_processes: int  # scenario 1 at 1× (6 repeats it at 4× and 16×)
    starts: int  # scenario 2
    clients: int
    moves: int  # scenario 3
    parked: int  # scenario 4 at 16× (6 runs it at 1/16 and 1/4 of that)
    parked_sqlite: int  # at most this many parked on the dev server with its SQLite file
    rounds: int = 7  # scenario 1 at 1×: paired rounds of the two sides; the median of the pairs' ratios counts
    harmless: int = 40  # scenario 7: harmless processes on the idle worker, then beside hostile renders
    hostile: int = 6  # scenario 7: hostile processes kept running
    record_moves: int = 5_000  # scenario 8: moves of one record in a row

    def scaled(self, factor: float) -> Loads:
        return Loads(rounds=self.rounds, harmless=self.harmless, hostile=self.hostile,
                     record_moves=max(50, round(self.record_moves * factor)),
                     phase_processes=max(4, round(self.phase_processes * factor)),
                     starts=max(40, round(self.starts * factor)), clients=self.clients,
                     moves=max(10, round(self.moves * factor)), parked=max(32, round(self.parked * factor)),
                     parked_sqlite=max(32, round(self.parked_sqlite * factor)))


FULL = Loads(phase_processes=50, starts=400, clients=8, moves=100, parked=10_000, parked_sqlite=2_500, harmless=100)
QUICK = Loads(phase_processes=2, starts=40, clients=4, moves=6, parked=64, parked_sqlite=64, rounds=3, harmless=12,
              hostile=3, record_moves=200)
TINY = Loads(phase_processes=2, starts=8, clients=2, moves=2, parked=8, parked_sqlite=8, rounds=1, harmless=2,
             hostile=2, record_moves=10)  # the smoke test's


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    temporal = subprocess.run([sys.executable.replace("python", "temporal"), "--version"], capture_output=True,
                              text=True).stdout.strip() if Path(sys.executable.replace("python", "temporal")).exists() \
        else ""
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mb": mem, "python": platform.python_version(),
            "os": f"{platform.system()} {platform.release()}", "temporal": temporal,
            "load_average_at_start": list(os.getloadavg())}


def commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", flush=True)


async def once_more(what: str, measure: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """A measurement that failed (a stalled or dead worker, a timeout) is taken again once, with new processes."""
    try:
        return await measure()
    except (RuntimeError, TimeoutError) as error:
        log(f"{what} failed ({error}); measuring it again")
        result = await measure()
        result["retried_after"] = str(error)
        return result


async def run_mode(mode: str, loads: Loads, growth: tuple[int, ...], database_url: str,
                   profile: Path | None, shared: bool = False) -> dict[str, Any]:
    """Every scenario on a dev server in `mode`. `shared`: one worker per side and one server for all (smoke test)."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    owner_id, record_ids = await seed(sessions)
    out: dict[str, Any] = {"phase_overhead": {}, "parked": {}}
    try:
        with dev_server(mode) as server:
            async with AsyncExitStack() as workers:
                ctx = Context(server=server, database_url=database_url, sessions=sessions,
                              client=await connect(server.address), owner_id=owner_id, record_ids=record_ids)
                if shared:
                    ctx.shared = {}
                    for kind in KINDS:
                        tq = f"bench-{kind}-{uuid.uuid4().hex[:6]}"
                        ctx.shared[kind] = (await workers.enter_async_context(
                            worker_process(kind, server, database_url, tq)), tq)
                await _on_one_server(ctx, mode, loads, growth, profile, out)
                if mode == "memory":  # scenario 7: the worker's render pool, not the server, is measured
                    log(f"{mode}: scenario 7, {loads.harmless} harmless processes beside {loads.hostile} hostile")
                    out["hostile"] = await once_more("scenario 7", lambda: hostile_renders(ctx, loads.harmless,
                                                                                           loads.hostile))
                await _parked_loads(ctx, shared, mode, loads, growth, database_url, out)
    finally:
        await engine.dispose()
    return out


async def _on_one_server(ctx: Context, mode: str, loads: Loads, growth: tuple[int, ...], profile: Path | None,
                         out: dict[str, Any]) -> None:
    """Scenarios 1 (and 6's repeats of it), 2, 3, 8 and 9, on one dev server."""
    for factor in growth:
        n = loads.phase_processes * factor
        # the load the target is read at runs in paired rounds, one of each side back to back (which goes first
        # alternates), and the target is the median of the pairs' ratios: on a shared machine one side alone
        # drifted by 2x within one run, and a ratio of each side's median round rewards such a drift
        rounds = loads.rounds if factor == growth[0] else 1
        runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
        for r in range(rounds):
            for kind in KINDS if r % 2 == 0 else KINDS[::-1]:
                log(f"{mode}: scenario 1, {kind}, {n} processes" + (f", round {r + 1} of {rounds}" if rounds > 1 else ""))
                runs[kind].append(await once_more(f"scenario 1 ({kind}, {n})",
                                                  lambda: phase_overhead(ctx, kind, n)))
        pair = out["phase_overhead"].setdefault(str(factor), {})
        for kind in KINDS:  # the median round (the lower middle one for an even count)
            pair[kind] = sorted(runs[kind], key=lambda run: run["processes_per_s"])[(len(runs[kind]) - 1) // 2]
        if rounds > 1:
            pair["rounds"] = [{kind: runs[kind][r]["processes_per_s"] for kind in KINDS} for r in range(rounds)]
            pair["ratio"] = statistics.median(r["template"] / r["baseline"] for r in pair["rounds"])
    if profile is not None and mode == "memory":  # an extra run under py-spy, not used for the figures
        n = loads.phase_processes
        for kind in KINDS:
            log(f"{mode}: scenario 1 under py-spy, {kind}, {n} processes")
            path = profile / f"phase-{kind}.txt"
            await phase_overhead(ctx, kind, n, str(path))
            out.setdefault("profiles", {})[kind] = {
                "file": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
                **summarize(path, n)}
    log(f"{mode}: scenario 2, {loads.starts} starts by {loads.clients} clients")
    out["start_path"] = await start_path(ctx, loads.starts, loads.clients, loads.rounds)
    out["signal_to_move"] = {}
    for kind in KINDS:
        log(f"{mode}: scenario 3, {kind}, {loads.moves} moves")
        out["signal_to_move"][kind] = await once_more(f"scenario 3 ({kind})",
                                                      lambda: signal_to_move(ctx, kind, loads.moves))
    await _moves(ctx, mode, loads, out)
    log(f"{mode}: scenario 9, {loads.moves} client answers moving a record, each side")
    out["answers_to_move"] = await once_more("scenario 9", lambda: answers_to_move(ctx, loads.moves))


async def _moves(ctx: Context, mode: str, loads: Loads, out: dict[str, Any], profile: Path | None = None) -> None:
    """Scenario 8: one record moved many times in a row, then moves into a status with an on-enter action (each
    side's moves in alternating rounds, so that a drift of the shared machine falls on both); with `profile`, the
    latter under py-spy (the workers and the process making the moves), its files in that folder."""
    log(f"{mode}: scenario 8, {loads.record_moves} moves of one record in a row")
    out["moves_in_a_row"] = await moves_in_a_row(ctx, loads.record_moves)
    log(f"{mode}: scenario 8, {loads.moves} moves a side into a status with an on-enter action")
    out["move_to_action"] = await once_more("scenario 8", lambda: move_to_action(ctx, KINDS, loads.moves, profile))


async def _parked_loads(base: Context, shared: bool, mode: str, loads: Loads, growth: tuple[int, ...],
                        database_url: str, out: dict[str, Any]) -> None:
    """Scenario 4 (and 6's repeats of it): each load on a fresh dev server and worker, unless `shared`."""
    rates = {kind: 20.0 for kind in KINDS}  # parked/s assumed for the first (smallest) load
    most = loads.parked_sqlite if mode == "sqlite" else loads.parked
    for factor in growth:
        n = loads.parked * factor // growth[-1]
        if n > most:
            log(f"{mode}: scenario 4 at {n} parked left out (at most {most} on this server)")
            continue
        for kind in KINDS:
            log(f"{mode}: scenario 4, {kind}, {n} parked")

            async def measure() -> dict[str, Any]:
                if shared:
                    return await parked(base, kind, n, rates[kind])
                with dev_server(mode) as server:  # a fresh server: its memory growth is this load's alone
                    ctx = Context(server=server, database_url=database_url, sessions=base.sessions,
                                  client=await connect(server.address), owner_id=base.owner_id,
                                  record_ids=base.record_ids)
                    return await parked(ctx, kind, n, rates[kind])

            result = await once_more(f"scenario 4 ({kind}, {n})", measure)
            out["parked"].setdefault(str(factor), {})[kind] = result
            rates[kind] = result["parked_per_s"]


async def hostile_only(loads: Loads, database_url: str) -> dict[str, Any]:
    """Scenario 7 alone, on a dev server in memory (its figures go into an earlier full run's results)."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    owner_id, record_ids = await seed(sessions)
    try:
        with dev_server("memory") as server:
            ctx = Context(server=server, database_url=database_url, sessions=sessions,
                          client=await connect(server.address), owner_id=owner_id, record_ids=record_ids)
            log(f"memory: scenario 7, {loads.harmless} harmless processes beside {loads.hostile} hostile")
            return await once_more("scenario 7", lambda: hostile_renders(ctx, loads.harmless, loads.hostile))
    finally:
        await engine.dispose()


async def start_path_only(loads: Loads, modes: list[str], database_url: str) -> dict[str, Any]:
    """Scenario 2 alone, on a dev server in each mode: the figures `make bench` reports, in a minute."""
    engine = make_engine(database_url)
    owner_id, record_ids = await seed(make_sessionmaker(engine))
    out: dict[str, Any] = {}
    try:
        for mode in modes:
            with dev_server(mode) as server:
                ctx = Context(server=server, database_url=database_url, sessions=make_sessionmaker(engine),
                              client=await connect(server.address), owner_id=owner_id, record_ids=record_ids)
                log(f"{mode}: scenario 2, {loads.starts} starts by {loads.clients} clients")
                out[mode] = figures = await start_path(ctx, loads.starts, loads.clients, loads.rounds)
                log(f"{mode}: {start_report.start_path_line(figures)}")
    finally:
        await engine.dispose()
    return out


async def one_server_only(mode: str, loads: Loads, database_url: str) -> dict[str, Any]:
    """Scenarios 1 (its target load's rounds), 2, 3, 8 and 9 alone, on one dev server in `mode` (not 4 and 6)."""
    engine = make_engine(database_url)
    owner_id, record_ids = await seed(sessions := make_sessionmaker(engine))
    out: dict[str, Any] = {"phase_overhead": {}}
    try:
        with dev_server(mode) as server:
            ctx = Context(server=server, database_url=database_url, sessions=sessions,
                          client=await connect(server.address), owner_id=owner_id, record_ids=record_ids)
            await _on_one_server(ctx, mode, loads, (1,), None, out)
    finally:
        await engine.dispose()
    return out


async def moves_only(mode: str, loads: Loads, database_url: str, profile: Path | None = None) -> dict[str, Any]:
    """Scenario 8 alone on a dev server in `mode`: the moves in a row, then the moves into a status with an
    on-enter action against the hand-written workflow."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    owner_id, record_ids = await seed(sessions)
    out: dict[str, Any] = {}
    try:
        with dev_server(mode) as server:
            ctx = Context(server=server, database_url=database_url, sessions=sessions,
                          client=await connect(server.address), owner_id=owner_id, record_ids=record_ids)
            await _moves(ctx, mode, loads, out, profile / mode if profile is not None else None)
    finally:
        await engine.dispose()
    return out


ONLY = ("hostile", "moves", "one-server", "data-scale", "csv-import")  # what `--only-...` measures again on its own


def measured_now(command: str) -> dict[str, Any]:
    """When and how a scenario measured on its own was measured (`bench.figures.measured_apart` writes it)."""
    return {"command": command, "date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit(),
            "load_average_at_start": machine()["load_average_at_start"]}


def rerun_only(which: str, loads: Loads, db_choice: str, modes: list[str], quick: bool, import_rows: int,
               command: str, json_path: Path, md_path: Path, profile: Path | None = None) -> int:
    """`--only-hostile`, `--only-moves`, `--only-one-server`, `--only-data-scale`, `--only-csv-import`: measure
    that scenario again and put it in place of the one in `json_path`, saying when and how it was measured; render
    `md_path` again from it (every other section comes from the figures as they were)."""
    results = json.loads(json_path.read_text())
    measured = measured_now(command)
    section = _data_scale_in(md_path) if results.get("data_scale") else None
    if which == "data-scale":
        figures, section = data_scale_section(quick, ROOT / "build")
        results["data_scale"] = figures and {**figures, "measured": measured}
    elif which == "csv-import":
        results["csv_import"] = {**asyncio.run(csv_import.measure(import_rows, csv_import.reachable())),
                                 "measured": measured}
    else:
        with database(db_choice) as (_, url):
            if which == "hostile":
                figures = asyncio.run(hostile_only(loads, url))
                results["modes"].setdefault("memory", {})["hostile"] = {**figures, "measured": measured}
            elif which == "one-server":
                for mode in modes:
                    figures = asyncio.run(one_server_only(mode, loads, url))
                    kept = results["modes"].setdefault(mode, {})  # scenario 6's larger loads stay as they were
                    kept.setdefault("phase_overhead", {})["1"] = figures.pop("phase_overhead")["1"]
                    kept.update(figures, one_server={"measured": measured})
            else:
                for mode in modes:
                    if profile is not None:
                        (profile / mode).mkdir(parents=True, exist_ok=True)
                    figures = asyncio.run(moves_only(mode, loads, url, profile))
                    figures["move_to_action"]["measured"] = measured
                    results["modes"].setdefault(mode, {}).update(figures)
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    md_path.write_text(report.render(results, data_scale=section))
    log(f"scenario {which} measured again: {json_path}, {md_path}")
    return 0


def _data_scale_in(md_path: Path) -> str | None:
    """Scenario 5's section as the page has it (the heading and the line render() writes before it taken off)."""
    if not md_path.exists():
        return None
    text = md_path.read_text()
    start = text.find("## 5. Scale of the data")
    findings = ROOT / "bench" / "findings.md"
    marks = ["## 10. CSV import", *([findings.read_text().strip().splitlines()[0]] if findings.exists() else [])]
    ends = [end for end in (text.find(mark, start + 1) for mark in marks) if end > start] if start >= 0 else []
    section = text[start:min(ends) if ends else None].strip() if start >= 0 else None
    if section:
        section = section.split("\n", 1)[1].strip().removeprefix("Measured by `bench/data_scale.py` (its own "
                                                                "section below).").strip()
    return section or None


def data_scale_section(quick: bool, out_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Scenario 5 (scale of the data) is `bench/data_scale.py`'s: run it when it is there, keep its section."""
    if not (ROOT / "bench" / "data_scale.py").exists():
        return None, None
    stem = "bench-quick-data-scale" if quick else "bench-data-scale"  # a smoke run keeps the full run's section
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    log("scenario 5: python -m bench.data_scale")
    command = [sys.executable, "-m", "bench.data_scale", "--json", str(json_path), "--markdown", str(md_path)]
    done = subprocess.run(command + (["--quick"] if quick else []), cwd=ROOT)
    figures = json.loads(json_path.read_text()) if json_path.exists() else None
    section = md_path.read_text() if md_path.exists() else None
    if done.returncode != 0:
        section = (section or "") + f"\n\n`bench.data_scale` exited with code {done.returncode}.\n"
    return figures, section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small loads: a smoke run of a few minutes")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # tests/test_bench_smoke.py
    parser.add_argument("--growth", default=",".join(map(str, GROWTH)), help="scenario 6's load factors")
    parser.add_argument("--scale", type=float, default=None, help="multiply the full loads by this")
    parser.add_argument("--modes", default="memory,sqlite", help="dev server modes: memory,sqlite")
    parser.add_argument("--database", default="auto", choices=["auto", "postgresql", "sqlite"],
                        help="Stagecoach's database (auto: PostgreSQL when reachable)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--profile", type=Path, default=None,
                        help="profile scenario 1's workers with py-spy (an extra run) and keep the profiles here")
    parser.add_argument("--profile-moves", type=Path, default=None,
                        help="with --only-moves: measure scenario 8's moves into a status under py-spy (both workers "
                             "and the process moving), the profiles in this folder")
    parser.add_argument("--no-data-scale", action="store_true", help="leave scenario 5 out")
    parser.add_argument("--only-hostile", action="store_true",
                        help="measure scenario 7 (hostile renders) alone and put it into the JSON file's results")
    parser.add_argument("--only-csv-import", action="store_true",
                        help="measure scenario 10 (CSV import) alone and put it into the JSON file's results")
    parser.add_argument("--no-csv-import", action="store_true", help="leave scenario 10 out")
    parser.add_argument("--only-start-path", action="store_true",
                        help="measure scenario 2 (the start path) alone, on each mode; its figures go to build/ only, "
                             "each mode's with when and how it was measured")
    parser.add_argument("--only-moves", action="store_true",
                        help="measure scenario 8 (moves, on-enter automations) alone, on each --modes server, into "
                             "the JSON file's results")
    parser.add_argument("--only-one-server", action="store_true",
                        help="measure scenarios 1 (its target load), 2, 3, 8 and 9 alone, on each --modes server, into "
                             "the JSON file's results")
    parser.add_argument("--only-data-scale", action="store_true",
                        help="measure scenario 5 (scale of the data) alone, into the JSON file's results")
    parser.add_argument("--render", action="store_true",
                        help="only render the markdown again from the JSON file (and build/bench-data-scale.md)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up: drop the database, stop the servers
    quick = args.quick or args.tiny or bool(os.environ.get("QUICK"))
    loads = TINY if args.tiny else QUICK if quick else FULL.scaled(args.scale) if args.scale else FULL
    growth = tuple(int(g) for g in args.growth.split(","))
    if args.tiny:
        scenarios.WARM, scenarios.SETTLE = 1, 0.2
    build = ROOT / "build"
    build.mkdir(exist_ok=True)
    json_path = args.json or (build / "bench-quick.json" if quick else ROOT / "bench" / "results.json")
    md_path = args.markdown or (build / "bench-quick.md" if quick else ROOT / "docs" / "benchmarks.md")
    if args.render:
        results = json.loads(json_path.read_text())
        section_path = build / "bench-data-scale.md"
        section = section_path.read_text() if results.get("data_scale") and section_path.exists() else None
        md_path.write_text(report.render(results, data_scale=section))
        return 0
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
    if os.environ.get("BENCH_FROM_MAKE"):
        command = "make bench" + (" QUICK=1" if quick else "") + (f" BENCH_SCALE={args.scale:g}" if args.scale else "")
        command += f" BENCH_ARGS='{os.environ['BENCH_ARGS']}'" if os.environ.get("BENCH_ARGS") else ""
    import_rows = 1_000 if args.tiny else 10_000 if quick else 100_000
    only = [name for name in ONLY if getattr(args, "only_" + name.replace("-", "_"))]
    if only:
        return rerun_only(only[0], loads, args.database, args.modes.split(","), quick, import_rows, command,
                          json_path, md_path, args.profile_moves)
    if args.only_start_path:
        measured = measured_now(command)
        with database(args.database) as (db_kind, url):
            figures = asyncio.run(start_path_only(loads, args.modes.split(","), url))
        for mode_figures in figures.values():  # ready to take the place of a mode's `start_path` in the results
            mode_figures["measured"] = measured
        out = args.json or build / f"bench-start-path-{db_kind}.json"
        out.write_text(json.dumps({"command": command, "date": datetime.now(UTC).isoformat(timespec="seconds"),
                                   "commit": measured["commit"], "machine": machine(), "database": db_kind,
                                   "loads": loads.__dict__, "start_path": figures}, indent=2) + "\n")
        return 0
    results: dict[str, Any] = {"command": command, "date": datetime.now(UTC).isoformat(timespec="seconds"),
                               "commit": commit(), "machine": machine(), "quick": quick,
                               "loads": loads.__dict__, "modes": {},
                               "worker_sandbox": "default (the template interpreter passed through)"}
    started = time.monotonic()
    with database(args.database) as (db_kind, url):
        results["database"] = db_kind
        for mode in args.modes.split(","):
            results["modes"][mode] = asyncio.run(run_mode(mode, loads, growth, url, args.profile, shared=args.tiny))
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")  # so far, should a later part fail
    figures, section = (None, None) if args.no_data_scale else data_scale_section(quick, build)
    results["data_scale"] = figures
    if not args.no_csv_import:
        log(f"scenario 10: CSV import of {import_rows:,} contacts against a plain bulk insert")
        results["csv_import"] = asyncio.run(csv_import.measure(
            import_rows, ["sqlite"] if args.database == "sqlite" else csv_import.reachable(), 1 if args.tiny else 2))
    results["seconds"] = time.monotonic() - started
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(report.render(results, data_scale=section, profiles=args.profile))
    log(f"done in {results['seconds'] / 60:.1f} min: {json_path.relative_to(ROOT) if json_path.is_relative_to(ROOT) else json_path}, "
        f"{md_path.relative_to(ROOT) if md_path.is_relative_to(ROOT) else md_path}")
    return 0
