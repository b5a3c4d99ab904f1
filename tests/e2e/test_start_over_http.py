"""A start over the API is as crash-safe as autostart: whatever happens between the run's commit and Temporal's
answer, the run ends up matching Temporal, and a retry with the same request_id starts the process once.

The API talks to the real dev server through a client interceptor that makes the start fail the ways it
can: the API stopped (its request cancelled) after the commit, before the start; Temporal unreachable
before it took the start; Temporal took the start and its answer was lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.client import Client, Interceptor, OutboundInterceptor, StartWorkflowInput, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

from activities.deps import Deps
from activities.mailer import Mailer
from activities.process_runs import ProcessRunActivities, SweepRunsInput
from api.app import create_app
from api.auth import create_key
from api import start_allocation
from crm.models import ApiRole
from crm.process_runs import ProcessRun, RunStatus
from crm.start_reads import read_and_insert
from settings import Settings
from tests.e2e.calls import CALL_TEMPLATE, a_started_call, call_a_lead
from tests.polling import eventually
from tests.serving import free_port, serving
from tests.workflows.helpers import running_worker

class FlakyStarts(Interceptor):
    """What happens to the next start the API sends: None (it goes through), "crash" (the API stops before
    sending it: its request is cancelled), "down" (Temporal unreachable: it never arrives) or "lost" (Temporal
    takes it, and its answer is lost on the way back)."""

    def __init__(self) -> None:
        self.next: str | None = None

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Outbound(next, self)


class _Outbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, flaky: FlakyStarts) -> None:
        super().__init__(next)
        self.flaky = flaky

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        fault, self.flaky.next = self.flaky.next, None
        if fault == "crash":
            raise asyncio.CancelledError("the API process stopped")
        if fault == "down":
            raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")
        handle = await super().start_workflow(input)
        if fault == "lost":
            raise RPCError("deadline exceeded", RPCStatusCode.DEADLINE_EXCEEDED, b"")
        return handle


@dataclass
class Api:
    http: httpx.AsyncClient
    headers: dict[str, str]
    faults: FlakyStarts
    client: Client
    sessions: Any
    deps: Deps

    async def start(self, key: str, record_id: int, request_id: str) -> httpx.Response:
        return await self.http.post("/processes", headers=self.headers,
                                    json={"template": key, "record_id": record_id, "request_id": request_id})

    async def runs(self, record_id: int) -> list[ProcessRun]:
        async with self.sessions() as session:
            return list((await session.exec(select(ProcessRun).where(ProcessRun.record_id == record_id))).all())

    async def marked(self, record_id: int, *statuses: RunStatus) -> None:
        """The record's runs have `statuses`, in the order started: a started run is `running` once the process's first
        step has marked it, a moment after the API answers."""
        async def now() -> bool:
            return [r.status for r in sorted(await self.runs(record_id), key=lambda r: r.id)] == list(statuses)
        await eventually(now, timeout=10, what=f"the runs of record {record_id} {[s.value for s in statuses]}")

    async def workflows(self, key: str) -> list[str]:
        """Every process workflow Temporal has of the template (dev server visibility; its key is the test's
        own, record ids repeat across the SQLite and PostgreSQL runs)."""
        query = f"WorkflowType = 'ProcessWorkflow' AND StagecoachTemplate = '{key}'"
        for _ in range(50):  # visibility follows the start within moments
            ids = [w.id async for w in self.client.list_workflows(query)]
            if ids:
                return ids
            await asyncio.sleep(0.1)
        return []

    async def sweep(self, grace_seconds: float = 0) -> Any:
        return await ActivityEnvironment().run(ProcessRunActivities(self.deps).sweep_process_runs,
                                               SweepRunsInput(grace_seconds=grace_seconds))


@pytest.fixture
async def api(dev_env: Any, sessions: Any, task_queue: str, database_url: str) -> AsyncIterator[Api]:
    faults = FlakyStarts()
    client = Client(dev_env.client.service_client, namespace=dev_env.client.namespace,
                    data_converter=pydantic_data_converter, interceptors=[faults])
    port = free_port()
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, api_port=port)
    async with sessions() as session:
        _, key = await create_key(session, "e2e admin", ApiRole.admin)
    deps = Deps(settings=settings, sessions=sessions, mailer=Mailer(settings), temporal=dev_env.client)
    async with serving(create_app(settings, temporal=client), port), \
            running_worker(dev_env.client, sessions, task_queue), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        yield Api(http=http, headers={"X-API-Key": key}, faults=faults, client=dev_env.client, sessions=sessions,
                  deps=deps)


async def _setup(api: Api) -> tuple[str, int]:
    return await call_a_lead(api.http, api.headers)


async def test_a_start_whose_answer_is_lost_is_a_start(api: Api) -> None:
    """Temporal took the start and its answer was lost: 201, the process is there, a retry finds it."""
    key, record_id = await _setup(api)
    api.faults.next = "lost"
    first = await api.start(key, record_id, "lost-answer")
    assert first.status_code == 201, first.text
    workflow_id = first.json()["workflow_id"]
    assert (await api.http.get(f"/processes/{workflow_id}", headers=api.headers)).status_code == 200
    again = await api.start(key, record_id, "lost-answer")
    assert (again.status_code, again.json()["workflow_id"]) == (200, workflow_id)
    assert await api.workflows(key) == [workflow_id]
    assert [r.workflow_id for r in await api.runs(record_id)] == [workflow_id]
    await api.marked(record_id, RunStatus.running)


async def test_a_start_cut_short_after_the_commit_starts_on_its_retry(api: Api) -> None:
    """The API stopped between the run's commit and the start: the retry with the same request_id starts it."""
    key, record_id = await _setup(api)
    api.faults.next = "crash"
    try:
        crashed = await api.start(key, record_id, "cut-short")
        assert crashed.status_code >= 500
    except httpx.HTTPError:
        pass  # the connection went with the request
    [run] = await api.runs(record_id)
    assert run.status is RunStatus.starting
    retried = await api.start(key, record_id, "cut-short")
    assert (retried.status_code, retried.json()["workflow_id"]) == (201, run.workflow_id)
    state = (await api.http.get(f"/processes/{run.workflow_id}", headers=api.headers)).json()
    assert state["status"] == "running"
    assert await api.workflows(key) == [run.workflow_id]
    await api.marked(record_id, RunStatus.running)


async def test_a_start_temporal_never_got_is_settled_by_the_sweep_or_by_its_retry(api: Api) -> None:
    """Temporal unreachable: 503 and nothing runs; the sweep finds the run never started (the loop guard and
    the list leave it out); a retry with its request_id starts it after all, once."""
    key, record_id = await _setup(api)
    api.faults.next = "down"
    refused = await api.start(key, record_id, "never-got")
    assert refused.status_code == 503 and "same request_id" in refused.json()["detail"]
    [run] = await api.runs(record_id)
    assert run.status is RunStatus.starting
    swept = await api.sweep()
    assert run.workflow_id in swept.not_started
    assert [r.status for r in await api.runs(record_id)] == [RunStatus.not_started]
    # nor does the record list it among its processes (it did: a process that never existed)
    listed = await api.http.get(f"/records/{record_id}/processes", headers=api.headers)
    assert listed.status_code == 200 and listed.json() == []
    retried = await api.start(key, record_id, "never-got")
    assert (retried.status_code, retried.json()["workflow_id"]) == (201, run.workflow_id)
    await api.marked(record_id, RunStatus.running)
    assert await api.workflows(key) == [run.workflow_id]
    assert (await api.http.get(f"/records/{record_id}/processes", headers=api.headers)).json() == [run.workflow_id]


async def test_the_sweep_confirms_a_start_its_starter_could_not(api: Api) -> None:
    """A run still `starting` whose workflow Temporal has (its starter stopped before marking it): running."""
    key, record_id = await _setup(api)
    api.faults.next = "lost"
    started = (await api.start(key, record_id, "confirm-me")).json()

    async def parked() -> Any:  # its first step (the phase's task) is done: the process marked its run itself
        return (await api.http.get("/tasks", headers=api.headers, params={"workflow_id": started["workflow_id"]})).json()

    await eventually(parked)
    async with api.sessions() as session:  # as if neither the starter nor the process had marked the run
        run = (await session.exec(select(ProcessRun).where(ProcessRun.workflow_id == started["workflow_id"]))).one()
        run.status = RunStatus.starting
        session.add(run)
        await session.commit()
    assert started["workflow_id"] not in (await api.sweep(grace_seconds=3600)).confirmed  # within the grace
    assert started["workflow_id"] in (await api.sweep()).confirmed
    assert [r.status for r in await api.runs(record_id)] == [RunStatus.running]


async def test_the_process_marks_its_run_running_with_its_first_step(
        dev_env: Any, sessions: Any, task_queue: str, database_url: str) -> None:
    """The API answers once Temporal has the workflow and writes nothing more: while no worker polls the task queue
    the run is `starting` (the process is in Temporal, not begun); the process's first step marks it `running`."""
    idle_queue = f"{task_queue}-idle"
    settings = Settings(database_url=database_url, temporal_task_queue=idle_queue, api_port=free_port())
    async with a_started_call(settings, dev_env.client, sessions) as call:
        workflow_id = call.workflow_id
        await dev_env.client.get_workflow_handle(workflow_id).describe()  # Temporal has it
        await asyncio.sleep(0.3)  # what a confirmation after the answer would have written by now (none is sent)

        async def statuses() -> list[RunStatus]:
            async with sessions() as session:
                return [r.status for r in (await session.exec(
                    select(ProcessRun).where(ProcessRun.workflow_id == workflow_id))).all()]

        assert await statuses() == [RunStatus.starting]

        async def running() -> bool:
            return await statuses() == [RunStatus.running]

        async with running_worker(dev_env.client, sessions, idle_queue):
            await eventually(running, timeout=30, what="the run marked running by its first step")


async def test_many_starts_at_once_each_start_one_process(api: Api) -> None:
    """Starts sent together, on one record and on several, while the processes already started write their
    runs: each answers 201 with a process id of its own and the next number, never a 500 (the allocations
    collided and ran out of tries, or SQLite said 'database is locked')."""
    key, record_id = await _setup(api)
    others = [(await call_a_lead(api.http, api.headers))[1] for _ in range(3)]
    targets = [record_id] * 40 + others * 2
    answers = await asyncio.gather(*[api.start(key, target, f"together-{n}") for n, target in enumerate(targets)])
    assert [a.status_code for a in answers] == [201] * len(targets), [a.text for a in answers if a.status_code != 201]
    started = [a.json()["workflow_id"] for a in answers]
    assert len(set(started)) == len(targets)
    assert sorted(r.sequence for r in await api.runs(record_id)) == list(range(1, 41))


async def test_a_start_reads_the_version_saved_since_and_the_one_asked_for(api: Api) -> None:
    """Parsed template versions are kept by the API: a version saved after a start is the next start's latest,
    an earlier one asked for by number is still that one, and every start is confirmed (`running`)."""
    key, record_id = await _setup(api)
    first = await api.start(key, record_id, "v-first")
    assert first.status_code == 201 and first.json()["version"] == 1, first.text
    saved = await api.http.post("/templates", headers={**api.headers, "Content-Type": "application/yaml"},
                                content=CALL_TEMPLATE.format(key=key).replace("name: Call a lead", "name: Call again"))
    assert saved.status_code == 201, saved.text
    assert (await api.start(key, record_id, "v-latest")).json()["version"] == 2
    asked = await api.http.post("/processes", headers=api.headers,
                                json={"template": key, "record_id": record_id, "version": 1})
    assert asked.status_code == 201 and asked.json()["version"] == 1, asked.text
    missing = await api.http.post("/processes", headers=api.headers,
                                  json={"template": key, "record_id": record_id, "version": 3})
    assert missing.status_code == 422 and missing.json()["detail"] == f"template '{key}' has no version 3"
    unknown = await api.http.post("/processes", headers=api.headers, json={"template": "nope", "record_id": record_id})
    assert unknown.status_code == 422 and unknown.json()["type"] == "ReferenceNotFound"
    assert [error["path"] for error in unknown.json()["errors"]] == ["body.template"]
    no_record = await api.http.post("/processes", headers=api.headers, json={"template": key, "record_id": 10**9})
    assert no_record.status_code == 422 and no_record.json()["detail"] == f"no record {10**9}"
    assert no_record.json()["errors"] == [{"path": "body.record_id", "message": f"no record {10**9}"}]
    assert sorted(r.template_version for r in await api.runs(record_id)) == [1, 1, 2]
    await api.marked(record_id, RunStatus.running, RunStatus.running, RunStatus.running)


async def test_a_start_with_its_template_at_hand_reads_and_inserts_at_once(
        api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL, once the API has parsed a template version (its first start), the next start allocates its run
    in the statement that reads the record and the version (crm.start_reads.read_and_insert)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite reads, then inserts")
    inserted: list[bool] = []

    async def counted(*args: Any, **kwargs: Any) -> Any:
        reads, run = await read_and_insert(*args, **kwargs)
        inserted.append(run is not None)
        return reads, run

    monkeypatch.setattr(start_allocation, "read_and_insert", counted)
    key, record_id = await _setup(api)
    for n in range(3):
        started = await api.start(key, record_id, f"at-hand-{n}")
        assert started.status_code == 201, started.text
    assert inserted == [True, True]
    await api.marked(record_id, RunStatus.running, RunStatus.running, RunStatus.running)


async def test_a_start_on_a_restricted_record_is_for_those_who_see_it(api: Api) -> None:
    """A restricted record is read in full (its access list): a key that does not see it finds no record; the
    owner comes from the record, and an owner given that does not exist is refused."""
    key, record_id = await _setup(api)
    owner = (await api.http.get(f"/records/{record_id}", headers=api.headers)).json()["owner_id"]
    hidden = await api.http.patch(f"/records/{record_id}", headers=api.headers, json={"restricted": True})
    assert hidden.status_code == 200, hidden.text
    async with api.sessions() as session:
        _, staff_key = await create_key(session, "e2e staff", ApiRole.staff)
    refused = await api.http.post("/processes", headers={"X-API-Key": staff_key},
                                  json={"template": key, "record_id": record_id})
    assert refused.status_code == 422 and refused.json()["detail"] == f"no record {record_id}"  # as if missing
    started = await api.start(key, record_id, "restricted")
    assert started.status_code == 201 and started.json()["owner_id"] == owner, started.text
    nobody = await api.http.post("/processes", headers=api.headers,
                                 json={"template": key, "record_id": record_id, "owner_id": 10**9})
    assert nobody.status_code == 422 and nobody.json()["type"] == "ReferenceNotFound"
    assert nobody.json()["errors"] == [{"path": "body.owner_id", "message": f"no user {10**9}"}]
    assert [r.request_id is not None for r in await api.runs(record_id)] == [True]
