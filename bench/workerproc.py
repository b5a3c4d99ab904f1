"""One worker process for the benchmarks: `python -m bench.workerproc template|baseline`.

The template worker is the real one (`worker.build_worker`); the baseline worker runs
only the hand-written workflow and its activity. Each runs in its own process so its
memory can be read on its own. Both get the same workflow cache size, big enough to keep
every parked process in memory (the SDK's default is 1,000). The runner profiles it from
outside with py-spy (`--profile`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections import Counter
from typing import Any

from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.deps import Deps
from activities.mailer import Mailer
from bench.baseline import BASELINE_WORKFLOWS, baseline_activities
from bench.request_baseline import RequestBaselineWorkflow, request_baseline_activities
from crm.db import make_engine, make_sessionmaker
from logs import configure_logging
from renderer.pool import RenderPool
from settings import Settings
from worker import build_worker
from workflows.client import connect

CACHE = 25_000


async def serve(kind: str, settings: Settings) -> None:
    engine = make_engine(settings.database_url, pool_size=20, max_overflow=20) \
        if settings.database_url.startswith("postgresql") else make_engine(settings.database_url)
    statements = _count_statements(engine) if os.environ.get("BENCH_STATEMENTS") else None
    client = await connect(settings)
    deps = Deps(settings=settings, sessions=make_sessionmaker(engine), mailer=Mailer(settings), temporal=client,
                renderer=RenderPool(settings.render_processes, settings.render_memory_mb))
    options: dict[str, object] = {"max_cached_workflows": CACHE}
    if kind == "template":
        worker = build_worker(client, settings, deps, **options)
    else:
        runner = os.environ.get("BENCH_BASELINE_RUNNER", "default")  # bench.webhooks --baseline-runner
        if runner == "passthrough":  # its module passed through the sandbox, not imported again for every run
            options["workflow_runner"] = SandboxedWorkflowRunner(
                restrictions=SandboxRestrictions.default.with_passthrough_modules("bench"))
        elif runner == "unsandboxed":  # as Stagecoach's worker runs (worker.RUNNER)
            options["workflow_runner"] = UnsandboxedWorkflowRunner()
        worker = Worker(client, task_queue=settings.temporal_task_queue,
                        workflows=[*BASELINE_WORKFLOWS, RequestBaselineWorkflow],
                        activities=[*baseline_activities(deps), *request_baseline_activities(deps)],
                        **options)  # type: ignore[arg-type]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.create_task(worker.run())
    await asyncio.sleep(0.5)  # a worker that cannot start fails right away
    if running.done():
        running.result()
    print("ready", flush=True)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
    if running.done():  # a worker that fails must not look idle: the runner sees this process end
        running.result()
        raise RuntimeError("the worker stopped by itself")
    await worker.shutdown()
    await running
    await deps.renderer.close()
    await engine.dispose()
    if statements is not None:  # appended: one JSON line per worker, each statement's first words and its count
        with open(os.environ["BENCH_STATEMENTS"], "a") as out:
            out.write(json.dumps({"kind": kind, "statements": dict(statements.most_common())}) + "\n")


def _count_statements(engine: Any) -> Counter[str]:
    """Count what the worker sends to the database (BENCH_STATEMENTS=file): each statement's first 90 characters,
    marked `[compiled]` when SQLAlchemy compiled it for this execution (not found in its cache)."""
    from sqlalchemy import event
    from sqlalchemy.engine.default import CacheStats

    counts: Counter[str] = Counter()

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, _parameters: Any, context: Any, _many: Any) -> None:
        compiled = getattr(context, "cache_hit", None) not in (None, CacheStats.CACHE_HIT)  # (a textual one: None)
        counts[" ".join(statement.split())[:90] + (" [compiled]" if compiled else "")] += 1

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(_conn: Any) -> None:
        counts["BEGIN (implicit)"] += 1

    @event.listens_for(engine.sync_engine, "commit")
    def _commit(_conn: Any) -> None:
        counts["COMMIT"] += 1

    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["template", "baseline"])
    args = parser.parse_args()
    settings = Settings(log_level="WARNING")  # TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE, DATABASE_URL from the runner
    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(serve(args.kind, settings))
    # the worker has shut down cleanly; skip interpreter finalization, where the SDK's threads can abort
    # the process ("PyGILState_Release: thread state must be current")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
