"""A pooled PostgreSQL connection is pinged only once it has idled (crm/db.py, DATABASE_PING_AFTER_IDLE_SECONDS): a
busy API reuses its connections without a round trip each, and a connection the database killed meanwhile
(restarted, or ended it) is still no error. One that idled is replaced when its ping fails; the start path
tries its first statements once more on a new connection when one taken without a ping proves dead.

PostgreSQL only (SQLite has no connection to lose). The connections are killed with `pg_terminate_backend`,
found by an `application_name` of the test's own: no other test's connection is touched.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select
from temporalio.client import Client, Interceptor, OutboundInterceptor, StartWorkflowInput, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from api.app import create_app
from api.auth import create_key
from crm.db import make_engine
from crm.models import ApiRole
from crm.process_runs import ProcessRun, RunStatus
from settings import Settings
from tests.e2e.calls import call_a_lead
from tests.faults.conftest import named, psycopg_url
from tests.serving import free_port, serving
from workflows.client import PROCESS_WORKFLOW


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's pooled connections")
    return database_url


async def _kill(url: str, name: str) -> int:
    """End every connection named `name` and wait until PostgreSQL has let them go: how many there were."""
    async with await psycopg.AsyncConnection.connect(psycopg_url(url), autocommit=True) as conn:
        killed = (await (await conn.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s) AS ended", (name,))).fetchone())[0]  # type: ignore[index]
        for _ in range(500):  # the backends end at once; pg_stat_activity shows it within moments
            left = (await (await conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                              (name,))).fetchone())[0]  # type: ignore[index]
            if left == 0:
                return killed
            await conn.execute("SELECT pg_sleep(0.01)")
    raise AssertionError(f"connections named {name} still there")


async def test_a_connection_back_from_use_is_not_pinged_and_one_that_idled_is(postgres_url: str) -> None:
    """A connection taken again within the idle time is used without a ping (a dead one then fails its
    statement, and the pool is renewed); past it, a ping finds it dead and a new connection is used."""
    for ping_after, pinged in ((3600, False), (0, True)):
        name = f"ping-{uuid.uuid4().hex[:8]}"
        engine = make_engine(named(postgres_url, name), ping_after_idle=ping_after, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as conn:
                assert (await conn.execute(text("SELECT 1"))).scalar() == 1
            assert await _kill(postgres_url, name) == 1
            async with engine.connect() as conn:
                if pinged:
                    assert (await conn.execute(text("SELECT 2"))).scalar() == 2
                else:
                    with pytest.raises(DBAPIError) as caught:
                        await conn.execute(text("SELECT 2"))
                    assert caught.value.connection_invalidated
            async with engine.connect() as conn:  # renewed either way
                assert (await conn.execute(text("SELECT 3"))).scalar() == 3
        finally:
            await engine.dispose()


class KillingConnections(Interceptor):
    """Ends the API's database connections while Temporal is asked to start a process: the next start's read
    then takes a pooled connection that is dead."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name = url, name

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Killing(next, self)


class _Killing(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, killer: KillingConnections) -> None:
        super().__init__(next)
        self.killer = killer

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        if input.workflow == PROCESS_WORKFLOW:  # not the record-events dispatcher a new record wakes
            assert await _kill(self.killer.url, self.killer.name) >= 1
        return await super().start_workflow(input)


async def test_a_start_whose_pooled_connections_the_database_killed_is_a_start(
        dev_env: Any, sessions: Any, postgres_url: str, task_queue: str) -> None:
    """The API's pooled connections killed before a start and again while Temporal is asked (no ping: they
    were just used; the key is in the cache, so the start's read is the request's first statement): each start
    reads and inserts on new connections, 201, one run per start."""
    name = f"api-{uuid.uuid4().hex[:8]}"
    port = free_port()
    settings = Settings(database_url=named(postgres_url, name), temporal_task_queue=task_queue, api_port=port,
                        database_ping_after_idle_seconds=3600, api_key_cache_seconds=300)
    client = Client(dev_env.client.service_client, namespace=dev_env.client.namespace,
                    data_converter=pydantic_data_converter, interceptors=[KillingConnections(postgres_url, name)])
    async with sessions() as session:
        _, key = await create_key(session, "connections admin", ApiRole.admin)
    headers = {"X-API-Key": key}
    async with serving(create_app(settings, temporal=client), port), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        template, record_id = await call_a_lead(http, headers)
        started = []
        for _ in range(2):
            killed = await _kill(postgres_url, name)  # the first time, the key's and the record's connections; the
            assert killed >= 1 or started  # second, none is left alive: the interceptor killed the start's
            response = await http.post("/processes", headers=headers,
                                       json={"template": template, "record_id": record_id})
            assert response.status_code == 201, response.text
            started.append(response.json()["workflow_id"])

            async with sessions() as session:  # no worker polls the queue: no first step has marked the run
                runs = (await session.exec(select(ProcessRun).where(ProcessRun.record_id == record_id))).all()
            assert sorted(r.workflow_id for r in runs) == sorted(started)
            assert {r.status for r in runs} == {RunStatus.starting}


async def test_a_request_whose_pooled_connection_the_database_killed_answers_503_then_works(
        dev_env: Any, sessions: Any, postgres_url: str, task_queue: str) -> None:
    """Any other request that takes a dead connection without a ping (the database restarted within the idle
    time) answers 503 with Retry-After, never a 500; the pool is renewed and the same request then answers."""
    name = f"api-{uuid.uuid4().hex[:8]}"
    port = free_port()
    settings = Settings(database_url=named(postgres_url, name), temporal_task_queue=task_queue, api_port=port,
                        database_ping_after_idle_seconds=3600, api_key_cache_seconds=300)
    client = Client(dev_env.client.service_client, namespace=dev_env.client.namespace,
                    data_converter=pydantic_data_converter)
    async with sessions() as session:
        _, key = await create_key(session, "connections admin", ApiRole.admin)
    headers = {"X-API-Key": key}
    async with serving(create_app(settings, temporal=client), port), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        assert (await http.get("/records?limit=1", headers=headers)).status_code == 200
        assert await _kill(postgres_url, name) >= 1
        refused = await http.get("/records?limit=1", headers=headers)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
        assert "connection was lost" in refused.json()["detail"]
        assert (await http.get("/records?limit=1", headers=headers)).status_code == 200
