"""`stagecoach_phases_overdue_total` on the worker's Prometheus endpoint: each phase whose deadline passes
counts once, though a worker without a workflow cache replays the whole history at every task."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from processes.instance import CompletePhaseRequest
from tests.deployment.test_metrics import samples, value
from tests.factories import Factory
from tests.serving import free_port
from tests.workflows.helpers import running_worker, start, tasks, template
from worker import metrics_runtime
from workflows.process import ProcessWorkflow


async def test_each_phase_past_its_deadline_counts_once(time_skipping_env: WorkflowEnvironment, sessions: Any,
                                                        factory: Factory, task_queue: str) -> None:
    port = free_port()
    client = await Client.connect(time_skipping_env.client.service_client.config.target_host,
                                  runtime=metrics_runtime(f"127.0.0.1:{port}"),
                                  data_converter=pydantic_data_converter)
    owner = await factory.user()
    record = await factory.record(owner=owner)
    doc = template({"key": "call", "name": "Call the client", "completion": "manual", "deadline_days": 2},
                   {"key": "visit", "name": "Visit", "completion": "manual", "deadline_days": 1})

    async def overdue() -> float:
        async with httpx.AsyncClient(timeout=30) as http:
            page = samples((await http.get(f"http://127.0.0.1:{port}/metrics")).text)
        return value(page, "stagecoach_phases_overdue_total", template=doc["key"])

    async with running_worker(client, sessions, task_queue, worker_max_cached_workflows=0):
        handle = await start(client, task_queue, doc, record.id, owner.id)
        await time_skipping_env.sleep(timedelta(days=3))
        assert (await handle.query(ProcessWorkflow.current_state)).phases[0].overdue
        assert await overdue() == 1
        # completing the phase is a task that replays the history, deadline and all, from the start
        [task] = await tasks(sessions, handle.id)
        await handle.execute_update(ProcessWorkflow.complete_phase, CompletePhaseRequest(task_id=task.id))
        await time_skipping_env.sleep(timedelta(days=2))
        state = await handle.query(ProcessWorkflow.current_state)
        assert state.current_phase == "visit" and state.phases[1].overdue
        assert await overdue() == 2
