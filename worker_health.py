"""The worker's health file, for container health checks.

While it runs, the worker rewrites WORKER_HEALTH_FILE every WORKER_HEALTH_INTERVAL_SECONDS, but only after
Temporal's frontend and the database have both answered. `python -m worker_health` (the Compose health
check) exits 0 when the file was written within the last three intervals, and 1 saying why otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from settings import Settings, get_settings
from workflows.client import temporal_unready

STALE_AFTER_INTERVALS = 3

log = logging.getLogger("stagecoach.worker")


async def probe(client: Client, engine: AsyncEngine, timeout: float) -> None:
    """Raises unless Temporal and the database both answer within `timeout` seconds each."""
    why = await temporal_unready(client, timeout)
    if why is not None:
        raise ConnectionError(f"Temporal: {why}")
    async with asyncio.timeout(timeout), engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def write(path: Path, task_queue: str) -> None:
    """Replace the file in one step, so a health check never reads half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"checked_at": time.time(), "task_queue": task_queue, "pid": os.getpid()}))
    tmp.replace(path)


async def keep_fresh(settings: Settings, client: Client, engine: AsyncEngine) -> None:
    """Runs beside the worker until cancelled, then removes the file; does nothing without WORKER_HEALTH_FILE."""
    path, interval = settings.worker_health_file, settings.worker_health_interval_seconds
    if path is None:
        return
    healthy: bool | None = None
    try:
        while True:
            try:
                await probe(client, engine, timeout=interval)
                write(path, settings.temporal_task_queue)
                if healthy is not True:
                    log.info("worker healthy", extra={"health_file": str(path)})
                healthy = True
            except Exception as exc:  # any failure leaves the file to go stale
                if healthy is not False:
                    log.warning("worker unhealthy: %s: %s", type(exc).__name__, exc, extra={"health_file": str(path)})
                healthy = False
            await asyncio.sleep(interval)
    finally:  # a stopping worker is not healthy any more
        path.unlink(missing_ok=True)


def check(settings: Settings, now: float | None = None) -> str | None:
    """Why the worker is not healthy, or None when it is."""
    path = settings.worker_health_file
    if path is None:
        return "WORKER_HEALTH_FILE is not set"
    try:
        checked_at = float(json.loads(path.read_text())["checked_at"])
    except FileNotFoundError:
        return f"{path} does not exist: the worker has not reached Temporal and the database yet"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{path}: unreadable ({type(exc).__name__})"
    age = (time.time() if now is None else now) - checked_at
    limit = STALE_AFTER_INTERVALS * settings.worker_health_interval_seconds
    if age > limit:
        return f"{path} is {age:.0f}s old (more than {limit:.0f}s): the worker cannot reach Temporal or the database"
    return None


def main() -> None:
    problem = check(get_settings())
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(1)
    print("healthy")


if __name__ == "__main__":
    main()
