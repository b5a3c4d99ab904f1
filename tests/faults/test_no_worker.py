"""No worker polls the processes' task queue (stopped, or every one stuck): the API still answers.

A read of a running process's live state and a staff request to it need a worker to take them. The API waits
PROCESS_ANSWER_SECONDS for one, then answers 503 saying so, holding no database connection meanwhile; a
staff request sent again with the same Idempotency-Key once a worker runs learns what the first did. The
console's process page says the process is not available just now.
"""

from __future__ import annotations

import asyncio
import html
import uuid
from typing import Any

import httpx
import psycopg
from temporalio import workflow
from temporalio.client import Client, Interceptor, OutboundInterceptor, QueryWorkflowInput
from temporalio.common import RawValue
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from settings import Settings
from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.e2e.calls import a_started_call
from tests.faults.conftest import named, psycopg_url
from tests.polling import eventually
from tests.serving import free_port
from tests.workflows.helpers import running_worker

PROBLEM_JSON = "application/problem+json"


async def _idle_in_transaction(database_url: str, name: str) -> int:
    """How many of the API's connections (named `name`) have idled inside a transaction for a second or more
    (PostgreSQL; 0 on SQLite): longer than between two statements of a request, shorter than the wait."""
    if not database_url.startswith("postgresql"):
        return 0
    async with await psycopg.AsyncConnection.connect(psycopg_url(database_url), autocommit=True) as conn:
        return (await (await conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'idle in transaction' "
            "AND now() - state_change >= interval '1 second'",
            (name,))).fetchone())[0]  # type: ignore[index]


async def _while_in_flight(request: asyncio.Task[httpx.Response], database_url: str, name: str) -> list[int]:
    """Sample the API's connections idle in a transaction until `request` is answered."""
    seen = []
    while not request.done():
        seen.append(await _idle_in_transaction(database_url, name))
        await asyncio.sleep(0.05)
    return seen


async def test_without_a_worker_reads_and_staff_requests_answer_503_and_a_retry_learns_the_outcome(
        dev_env: Any, sessions: Any, task_queue: str, database_url: str) -> None:
    name = f"noworker-{uuid.uuid4().hex[:8]}"
    settings = Settings(database_url=named(database_url, name), temporal_task_queue=task_queue, api_port=free_port(),
                        process_answer_seconds=3)
    async with a_started_call(settings, dev_env.client, sessions) as call:
        http, headers, workflow_id = call.http, call.admin, call.workflow_id

        read = asyncio.create_task(http.get(f"/processes/{workflow_id}", headers=headers))
        assert set(await _while_in_flight(read, database_url, name)) <= {0}
        answer = read.result()
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == PROBLEM_JSON
        assert "is the worker running" in answer.json()["detail"] and "nothing was changed" in answer.json()["detail"]

        abort = {"headers": {**headers, "Idempotency-Key": f"abort-{name}"}, "json": {"reason": "client withdrew"}}
        sent = asyncio.create_task(http.post(f"/processes/{workflow_id}/abort", **abort))
        assert set(await _while_in_flight(sent, database_url, name)) <= {0}
        answer = sent.result()
        assert answer.status_code == 503, answer.text
        assert "may still apply" in answer.json()["detail"]

        async with running_worker(dev_env.client, sessions, task_queue):
            again = await http.post(f"/processes/{workflow_id}/abort", **abort)
            assert again.status_code == 200, again.text
            assert again.json()["status"] == "aborted"
            read_again = await http.get(f"/processes/{workflow_id}", headers=headers)
            assert read_again.status_code == 200, read_again.text
            assert read_again.json()["status"] == "aborted"


class CountedQueries(Interceptor):
    """Counts the queries the API sends its processes."""

    def __init__(self) -> None:
        self.sent = 0

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        counter = self

        class Counting(OutboundInterceptor):
            async def query_workflow(self, input: QueryWorkflowInput) -> Any:
                counter.sent += 1
                return await super().query_workflow(input)

        return Counting(next)


async def test_the_console_says_the_process_is_not_available_and_reads_it_once(
        dev_env: Any, sessions: Any, task_queue: str, database_url: str) -> None:
    """The console's process page, with no worker: 503 "not available just now" in the office's language (not "not
    found"); an abort the process did not answer shows why, without reading the process again (as long a wait)."""
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, api_port=free_port(),
                        process_answer_seconds=2, locale="it")
    queries = CountedQueries()
    temporal = Client(**{**dev_env.client.config(), "interceptors": [queries]})
    admin = await staff_user(sessions, role="admin")
    async with a_started_call(settings, temporal, sessions) as call:
        http, workflow_id = call.http, call.workflow_id
        signed = await sign_in_async(http, admin.user.handle, admin.password)
        assert signed.status_code in (200, 303), signed.text

        page = await http.get(f"/console/processes/{workflow_id}")
        assert page.status_code == 503, page.text
        assert "<h1>Non disponibile al momento</h1>" in page.text, page.text
        assert "nessun worker ha preso la richiesta (il worker è in funzione?)" in html.unescape(page.text), page.text
        assert queries.sent == 1

        token = csrf_token(await http.get("/console"))
        aborted = await http.post(f"/console/processes/{workflow_id}/abort",
                                  data={"csrf_token": token, "reason": "il cliente ha rinunciato", "confirm": "1",
                                        "idempotency_key": f"abort-{uuid.uuid4().hex}"})
        assert aborted.status_code == 503, aborted.text
        assert "<h1>Non disponibile al momento</h1>" in aborted.text, aborted.text
        assert "invia di nuovo il modulo per conoscerne l'esito" in html.unescape(aborted.text), aborted.text
        assert queries.sent == 1  # the abort's answer was not followed by a read


@workflow.defn(name="ProcessWorkflow")
class FailingProcessWorkflow:
    """A worker's code that fails every workflow task of a process (a bug shipped, or a change replayed wrong)."""

    @workflow.run
    async def run(self, input: RawValue) -> None:
        raise RuntimeError("a bug in the workflow code")

    @workflow.query
    def current_state(self) -> None:
        raise RuntimeError("never answered")


async def test_a_process_whose_workflow_task_fails_is_read_as_503_saying_so(
        dev_env: Any, sessions: Any, task_queue: str, database_url: str) -> None:
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, api_port=free_port(),
                        process_answer_seconds=3)
    async with a_started_call(settings, dev_env.client, sessions) as call:
        async with Worker(dev_env.client, task_queue=task_queue, workflows=[FailingProcessWorkflow],
                          workflow_runner=UnsandboxedWorkflowRunner(), max_cached_workflows=0):
            async def refused() -> httpx.Response | None:
                answer = await call.http.get(f"/processes/{call.workflow_id}", headers=call.admin)
                return answer if answer.status_code == 503 and "failing" in answer.text else None

            answer = await eventually(refused, 60, "the read answered 503")
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert "workflow task is failing" in answer.json()["detail"] and "nothing was changed" in answer.json()["detail"]
