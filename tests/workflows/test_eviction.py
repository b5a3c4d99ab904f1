"""A waiting process dropped from a stopped worker's cache ends quietly: nothing of it runs on when Python collects it."""

from __future__ import annotations

import gc
import sys
from typing import Any

from temporalio.testing import WorkflowEnvironment

from processes.instance import ProcessStatus
from tests.factories import Factory
from tests.workflows.helpers import running_worker, start, template, until


async def test_a_waiting_process_collected_after_its_worker_stopped_runs_no_cleanup(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    """Python closes the coroutine of a run the stopped worker held: no `await` in a `finally` may run then
    ("coroutine ignored GeneratorExit", and a command sent from another workflow's context)"""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    doc = template({"key": "call", "name": "Call the client", "completion": "manual", "deadline_days": 3,
                    "actions": [{"reminder": {"after_days": 1}}]})
    client = time_skipping_env.client
    ignored: list[str] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: ignored.append(f"{unraisable.exc_value!r} in {unraisable.object!r}")
    try:
        async with running_worker(client, sessions, task_queue):
            handle = await start(client, task_queue, doc, record.id, owner.id)
            await until(handle, lambda s: s.status is ProcessStatus.running and s.phases[0].task_id is not None)
        for _ in range(3):
            gc.collect()
    finally:
        sys.unraisablehook = previous
    assert not ignored, ignored
