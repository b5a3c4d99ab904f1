"""The worker's health check (docker-compose.yml): a file the worker rewrites while Temporal and the database
answer, removed when it stops; `python -m worker_health` says whether it is fresh."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from crm.migrate import upgrade_database
from settings import Settings
from tests.faults.conftest import WorkerProcess, end_task_queue
from tests.polling import eventually
from worker_health import check


async def test_a_running_worker_is_healthy_and_a_stopped_one_is_not(dev_env: Any, tmp_path: Path,
                                                                    task_queue: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'stagecoach.db'}"
    upgrade_database(url)  # the migrate job's part: the worker itself no longer migrates
    health = tmp_path / "worker-health.json"
    worker = WorkerProcess(tmp_path, database_url=url, task_queue=task_queue,
                           temporal_address=dev_env.client.service_client.config.target_host)
    worker.env.update(WORKER_HEALTH_FILE=str(health), WORKER_HEALTH_INTERVAL_SECONDS="0.5")
    await worker.start()
    try:
        await eventually(lambda: asyncio.sleep(0, health.exists()), what="the health file is written")
        probe = subprocess.run([sys.executable, "-m", "worker_health"], env=worker.env, capture_output=True,
                               text=True, timeout=120)
        assert (probe.returncode, probe.stdout.strip()) == (0, "healthy"), probe.stderr
    finally:
        worker.kill(signal.SIGTERM)
        assert worker.proc is not None and worker.proc.wait(timeout=60) == 0
        await end_task_queue(dev_env.client, task_queue)
    assert not health.exists()
    settings = Settings(worker_health_file=health)
    assert "does not exist" in (check(settings) or "")


def test_a_health_file_not_rewritten_for_three_intervals_is_stale(tmp_path: Path) -> None:
    health = tmp_path / "worker-health.json"
    health.write_text('{"checked_at": 1000.0}')
    settings = Settings(worker_health_file=health, worker_health_interval_seconds=10)
    assert check(settings, now=1029.0) is None
    assert "31s old" in (check(settings, now=1031.0) or "")
    health.write_text("{half a fi")
    assert "unreadable" in (check(settings) or "")
    assert check(Settings()) == "WORKER_HEALTH_FILE is not set"
