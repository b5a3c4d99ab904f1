"""Runs a Temporal worker with every Stagecoach workflow and activity."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.deps import Deps
from activities.heartbeats import HeartbeatInterceptor
from activities.log_context import LogContextInterceptor
from activities.mailer import Mailer
from activities.registry import all_activities
from crm.db import make_engine, make_sessionmaker
from crm.migrate import upgrade_database
from logs import configure_logging
from renderer.pool import RenderPool
from settings import Settings, get_settings
from workflows.client import connect, notify_dispatcher
from workflows.registry import ALL_WORKFLOWS


# A worker shutting down lets its running steps finish (they take milliseconds) before it cancels them: a
# step cancelled in the middle of a database statement leaves its connection abandoned, and on SQLite that
# connection's write lock held until it is garbage-collected.
GRACEFUL_SHUTDOWN = timedelta(seconds=10)


def build_worker(client: Client, settings: Settings, deps: Deps, task_queue: str | None = None,
                 **options: Any) -> Worker:
    """The worker; `options` go to `Worker` (the benchmarks size its workflow cache)."""
    options.setdefault("graceful_shutdown_timeout", GRACEFUL_SHUTDOWN)
    return Worker(client, task_queue=task_queue or settings.temporal_task_queue,
                  workflows=ALL_WORKFLOWS, activities=all_activities(deps),
                  interceptors=[LogContextInterceptor(), HeartbeatInterceptor()], **options)


async def run(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    client = await connect(settings)
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
    try:
        await worker.run()
        log.info("worker stopped")
    finally:
        await deps.renderer.close()
        await engine.dispose()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    upgrade_database(settings.database_url)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
