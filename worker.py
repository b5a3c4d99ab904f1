"""Runs a Temporal worker with every Stagecoach workflow and activity."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import tracing
from activities.deps import Deps
from activities.heartbeats import HeartbeatInterceptor
from activities.log_context import LogContextInterceptor
from activities.mailer import Mailer
from activities.registry import all_activities
from crm.db import make_engine, make_sessionmaker
from logs import configure_logging
from renderer.pool import RenderPool
from settings import Settings, get_settings
from workflows.client import connect, notify_dispatcher, sdk_runtime
from workflows.registry import ALL_WORKFLOWS
from worker_health import keep_fresh


# A worker shutting down lets its running steps finish (they take milliseconds) before it cancels them: a
# step cancelled in the middle of a database statement leaves its connection abandoned, and on SQLite that
# connection's write lock held until it is garbage-collected.
GRACEFUL_SHUTDOWN = timedelta(seconds=10)
# Stagecoach's workflows run without the SDK's sandbox. The sandbox polices only the modules it imports afresh for
# each run, and Stagecoach passed every module of its workflows through it (importing `workflows/process.py` again
# for every run cost 10-15 % of a one-step process's worker CPU): it policed nothing of them, and still compiled and
# ran a code string for every activation and every payload's serialisation context (14-22 % of a one-webhook
# process's worker CPU: bench/findings.md). What keeps the workflow code deterministic is
# tests/workflows/test_determinism_guard.py: the imports and calls of every `workflows/` module a workflow reaches.
RUNNER = UnsandboxedWorkflowRunner()


def build_worker(client: Client, settings: Settings, deps: Deps, task_queue: str | None = None,
                 **options: Any) -> Worker:
    """The worker; `options` go to `Worker` (the benchmarks size its workflow cache)."""
    options.setdefault("graceful_shutdown_timeout", GRACEFUL_SHUTDOWN)
    options.setdefault("max_concurrent_activities", settings.worker_max_concurrent_activities)
    options.setdefault("max_concurrent_local_activities", settings.worker_max_concurrent_activities)
    options.setdefault("max_concurrent_workflow_tasks", settings.worker_max_concurrent_workflow_tasks)
    options.setdefault("max_cached_workflows", settings.worker_max_cached_workflows)
    return Worker(client, task_queue=task_queue or settings.temporal_task_queue,
                  workflows=ALL_WORKFLOWS, activities=all_activities(deps), workflow_runner=RUNNER,
                  interceptors=[LogContextInterceptor(), HeartbeatInterceptor()], **options)


def metrics_runtime(address: str) -> Runtime:
    """A Temporal runtime serving the SDK's metrics, and Stagecoach's recorded on its meter, on `address`."""
    return sdk_runtime(PrometheusConfig(bind_address=address, counters_total_suffix=True, durations_as_seconds=True))


async def run(settings: Settings) -> None:
    engine = make_engine(settings.database_url, ping_after_idle=settings.database_ping_after_idle_seconds)
    runtime = metrics_runtime(settings.worker_metrics_address) if settings.worker_metrics_address else None
    client = await connect(settings, runtime=runtime)
    deps = Deps(settings=settings, sessions=make_sessionmaker(engine), mailer=Mailer(settings), temporal=client,
                renderer=RenderPool(settings.render_processes, settings.render_memory_mb))
    log = logging.getLogger("stagecoach.worker")
    log.info("worker started", extra={"task_queue": settings.temporal_task_queue, "smtp": deps.mailer.configured})
    try:  # the record-events dispatcher sweeps from now on, even if the signal of an event was lost before
        await notify_dispatcher(client, settings)
    except Exception:
        log.warning("could not start the record-events dispatcher; the next record change will", exc_info=True)
    worker = build_worker(client, settings, deps)
    stopping: list[asyncio.Task[None]] = []

    def stop(signum: signal.Signals) -> None:
        """SIGTERM (a deployment, `make run` stopping) or Ctrl-C: stop polling, let running steps finish."""
        if not stopping:
            log.info("worker stopping", extra={"signal": signum.name,
                                               "grace_seconds": GRACEFUL_SHUTDOWN.total_seconds()})
            stopping.append(asyncio.create_task(worker.shutdown()))

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    health = asyncio.create_task(keep_fresh(settings, client, engine))
    try:
        await worker.run()
        log.info("worker stopped")
    finally:
        health.cancel()
        await deps.renderer.close()
        await engine.dispose()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    if settings.otel_exporter_otlp_endpoint:
        tracing.enable(settings.otel_exporter_otlp_endpoint, "stagecoach-worker")
    try:
        asyncio.run(run(settings))
    finally:
        tracing.disable()
    # Stopped cleanly, its spans and lines written: the interpreter's finalization is skipped, where the Temporal
    # SDK's threads can abort the process after "worker stopped" ("PyGILState_Release: thread state must be current
    # when releasing", exit status -6 for a clean SIGTERM, seen in tests/faults/test_worker_killed.py)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
