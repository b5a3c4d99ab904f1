"""A template changed over the API while 50 of its processes wait: they finish on their version."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlmodel import col, select
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.deps import Deps
from activities.mailer import Mailer
from crm.models import HistoryEntry, HistoryKind, Task
from processes.instance import ProcessStatus
from settings import Settings
from tests.factories import Factory
from tests.faults.conftest import (
    create_template,
    end_task_queue,
    serve_api,
    workflow_task_failures,
)
from tests.figures import Figures
from tests.polling import eventually
from worker import RUNNER, build_worker
from workflows.process import ProcessWorkflow
from workflows.registry import ALL_WORKFLOWS

WAITING = 50  # fixed by the issue
NEW = 5
CONCURRENCY = 10


def versions(key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    base = {"key": key, "name": "Onboarding", "controller_email": "controller@agency.example", "record_kind": "lead"}
    call = {"key": "call", "name": "Call the client", "completion": "manual"}
    v1 = {**base, "phases": [call, {"key": "close", "name": "Close", "actions": [
        {"add_history": {"text": "closed by version 1"}}]}]}
    v2 = {**base, "name": "Onboarding, new", "phases": [
        {"key": "intro", "name": "Introduce", "actions": [{"add_history": {"text": "introduced by version 2"}}]},
        call, {"key": "wrap-up", "name": "Wrap up", "actions": [{"add_history": {"text": "wrapped up by version 2"}}]}]}
    return v1, v2


async def test_template_changed_while_50_processes_wait(dev_env: WorkflowEnvironment, sessions: Any,
                                                        factory: Factory, task_queue: str, database_url: str,
                                                        figures: Figures) -> None:
    """Template changed while 50 instances wait: they finish on version 1, new ones run version 2."""
    client = dev_env.client
    owner = await factory.user()
    records = [await factory.record(owner=owner) for _ in range(10)]
    key = f"onboarding-{uuid.uuid4().hex[:6]}"
    v1, v2 = versions(key)
    limit = asyncio.Semaphore(CONCURRENCY)
    config = Settings(database_url=database_url, temporal_task_queue=task_queue,
                      record_events_sweep_seconds=30 * 24 * 3600)

    def worker() -> Worker:
        return build_worker(client, config, Deps(settings=config, sessions=sessions, mailer=Mailer(config),
                                                  temporal=client))

    try:
        async with serve_api(sessions, client, database_url=database_url, task_queue=task_queue) as api:
            assert (await create_template(api, v1))["version"] == 1

            async def start(i: int) -> dict[str, Any]:
                async with limit:
                    response = await api.http.post("/processes", headers=api.staff, json={
                        "template": key, "record_id": records[i % len(records)].id})
                assert response.status_code == 201, response.text
                return response.json()

            async def waiting(ids: list[str]) -> bool:
                async with sessions() as session:
                    found = (await session.exec(select(Task.workflow_id).where(col(Task.workflow_id).in_(ids)))).all()
                return set(found) == set(ids)

            async with worker():
                old = await asyncio.gather(*(start(i) for i in range(WAITING)))
                old_ids = [p["workflow_id"] for p in old]
                await eventually(lambda: waiting(old_ids), 120, "the 50 wait on their task")
            # a new version is saved, and a new worker (a deploy) takes over: it has none of the 50 in its
            # cache, so each one is replayed from its history when it wakes up
            saved = await create_template(api, v2)
            async with worker():
                new = await asyncio.gather(*(start(i) for i in range(NEW)))
                new_ids = [p["workflow_id"] for p in new]
                await eventually(lambda: waiting(new_ids), 120, "the new ones wait on their task")

                async def complete(workflow_id: str) -> int:
                    async with limit:
                        response = await api.http.post(f"/processes/{workflow_id}/complete", headers=api.staff,
                                                       json={})
                    return response.status_code

                codes = await asyncio.gather(*(complete(w) for w in old_ids + new_ids))
                assert set(codes) == {200}, codes

                async def finish(workflow_id: str) -> tuple[Any, Any]:
                    async with limit:
                        handle = client.get_workflow_handle_for(ProcessWorkflow.run, workflow_id)
                        state = await asyncio.wait_for(handle.result(), 120)
                        return state, await handle.fetch_history()

                everyone = old_ids + new_ids
                results = dict(zip(everyone, await asyncio.gather(*(finish(w) for w in everyone)), strict=True))
    finally:
        await end_task_queue(client, task_queue)

    async with sessions() as session:
        notes = (await session.exec(select(HistoryEntry.workflow_id, HistoryEntry.text).where(
            col(HistoryEntry.workflow_id).in_(old_ids + new_ids), HistoryEntry.kind == HistoryKind.note))).all()
    texts: dict[str, list[str]] = {}
    for workflow_id, text in notes:
        texts.setdefault(workflow_id, []).append(text)
    on_v1 = [w for w in old_ids if results[w][0].template_version == 1
             and [p.key for p in results[w][0].phases] == ["call", "close"]
             and texts.get(w) == ["closed by version 1"]]
    on_v2 = [w for w in new_ids if results[w][0].template_version == 2
             and [p.key for p in results[w][0].phases] == ["intro", "call", "wrap-up"]
             and texts.get(w) == ["introduced by version 2", "wrapped up by version 2"]]
    failures = sum(workflow_task_failures(h.events) for _, h in results.values())
    # and each history replays on today's code
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=pydantic_data_converter, workflow_runner=RUNNER)
    replay_failures = [result.replay_failure for _, h in results.values()
                       if (result := await replayer.replay_workflow(h, raise_on_replay_failure=False)).replay_failure]
    figures["processes waiting on version 1 when version 2 was saved"] = WAITING
    figures["finished on version 1"] = len(on_v1)
    figures["started after the change, on version 2"] = len(on_v2)
    figures["processes not completed"] = sum(s.status is not ProcessStatus.completed for s, _ in results.values())
    figures["workflow task failures (non-determinism)"] = failures
    figures["histories replayed on the current code"] = len(results)
    figures["replay failures"] = len(replay_failures)
    assert saved["version"] == 2 and all(p["version"] == 1 for p in old) and all(p["version"] == 2 for p in new)
    assert all(s.status is ProcessStatus.completed for s, _ in results.values())
    assert len(on_v1) == WAITING and len(on_v2) == NEW
    assert failures == 0 and replay_failures == []
