"""The worker (`python worker.py`, a real child process) killed with SIGKILL while a webhook or an SMS is on its
way: a webhook is sent again with the same id and body; an SMS is never sent twice."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse, Response
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from crm.deliveries import Delivery, DeliveryStatus
from processes.instance import ProcessStatus, ResolveIncidentRequest
from tests.channels.receivers import Received, Receiver, receiver
from tests.factories import Factory
from tests.faults.conftest import WorkerProcess, end_task_queue
from tests.figures import Figures
from tests.polling import eventually
from tests.workflows.helpers import rows, start, template
from workflows.process import ProcessWorkflow

SECRET = "whsec_" + "a2lsbGVkLXdvcmtlci13ZWJob29rLXNlY3JldA=="


def outbound_worker(tmp_path: Path, database_url: str, task_queue: str, temporal_address: str,
                   **env: str) -> WorkerProcess:
    worker = WorkerProcess(tmp_path, database_url=database_url, temporal_address=temporal_address,
                           task_queue=task_queue)
    worker.env.update(OUTBOUND_ALLOWED_HOSTS='["127.0.0.1"]', **env)
    return worker


@dataclass
class Hold:
    """Holds the first `count` requests a server gets (one per process) until `release`; `held` once all are in."""

    server: Receiver
    count: int
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def answering(self, answer: dict[str, Any]) -> Callable[[Received, int], Awaitable[Response]]:
        async def hold_first(r: Received, n: int) -> Response:
            if len(self.server.received) <= self.count:
                if len(self.server.received) == self.count:
                    self.held.set()
                await self.release.wait()
            return JSONResponse(answer)
        return hold_first


COUNT = 3  # processes, each held on its first request until the worker is killed


@asynccontextmanager
async def killed_mid_send(dev_env: WorkflowEnvironment, factory: Factory, task_queue: str, tmp_path: Path,
                          database_url: str, server: Receiver, path: str, answer: dict[str, Any],
                          document: dict[str, Any], **env: str) -> AsyncIterator[list[WorkflowHandle[Any, Any]]]:
    """COUNT processes of `document`, one per lead, whose first request to `server` at `path` is held until the
    worker (a child process, started with `env`) has been killed with SIGKILL and started again: yields their
    handles with the new worker running, and stops it after."""
    client = dev_env.client
    owner = await factory.user()
    hold = Hold(server, COUNT)
    server.answers[path] = hold.answering(answer)
    worker = outbound_worker(tmp_path, database_url, task_queue, client.service_client.config.target_host, **env)
    await worker.start()
    try:
        handles = []
        for i in range(COUNT):
            record = await factory.record(owner=owner, title=f"lead {i}", phone=f"+39 333 000 000{i}")
            handles.append(await start(client, task_queue, document, record.id, owner.id))
        await asyncio.wait_for(hold.held.wait(), 60)
        worker.kill(signal.SIGKILL)
        hold.release.set()  # the answers go to connections the kill closed
        await worker.start()
        yield handles
    finally:
        hold.release.set()
        worker.kill(signal.SIGTERM)
        await end_task_queue(client, task_queue)


async def test_worker_killed_during_webhooks_sends_each_again_with_the_same_id_and_body(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str, tmp_path: Path,
        database_url: str, figures: Figures) -> None:
    document = template({"key": "notify", "name": "Notify", "actions": [{"webhook": {
        "endpoint": "crm", "body": '{"lead": {{ record.title | tojson }}, "at": {{ now | string | tojson }}}'}}]})
    async with receiver() as target:
        endpoints = json.dumps({"crm": {"url": target.url("/hooks"), "secret": SECRET}})
        async with killed_mid_send(dev_env, factory, task_queue, tmp_path, database_url, target, "/hooks",
                                   {"ok": True}, document, WEBHOOK_ENDPOINTS=endpoints) as handles:
            states = [await asyncio.wait_for(h.result(), 120) for h in handles]

    bodies: dict[str, set[bytes]] = {}
    for r in target.at("/hooks"):
        bodies.setdefault(r.headers["webhook-id"], set()).add(r.body)
    different = sum(len(b) - 1 for b in bodies.values())
    figures["processes"] = COUNT
    figures["webhook requests received"] = len(target.at("/hooks"))
    figures["distinct webhook ids"] = len(bodies)
    figures["webhook ids received with different bodies"] = different
    assert all(s.status is ProcessStatus.completed for s in states)
    assert different == 0 and len(bodies) == COUNT
    assert len(target.at("/hooks")) == 2 * COUNT  # each sent again after the kill
    for handle in handles:
        [delivery] = await rows(sessions, Delivery, handle.id)
        assert delivery.status is DeliveryStatus.delivered and delivery.attempts == 2


async def test_worker_killed_during_sms_sends_none_twice_and_asks_staff(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str, tmp_path: Path,
        database_url: str, figures: Figures) -> None:
    document = template({"key": "text", "name": "Text", "actions": [{"send_sms": {"text": "Ciao {{ record.title }}"}}]})
    async with receiver() as gateway:
        async with killed_mid_send(dev_env, factory, task_queue, tmp_path, database_url, gateway, "/sms",
                                   {"id": "SM1"}, document,
                                   SMS_GATEWAY=json.dumps({"url": gateway.url("/sms")})) as handles:

            async def asking(handle: Any) -> Any:
                state = await handle.query(ProcessWorkflow.current_state)
                return state.incident

            incidents = [await eventually(lambda h=h: asking(h), 90, "an incident asking whether it was sent")
                         for h in handles]
            received_before_staff = len(gateway.at("/sms"))
            # staff: the first was sent (skip); the second was not (retry sends it, as asked)
            await handles[0].execute_update(ProcessWorkflow.resolve_incident, ResolveIncidentRequest(action="skip"))
            await handles[1].execute_update(ProcessWorkflow.resolve_incident, ResolveIncidentRequest(action="retry"))
            states = [await asyncio.wait_for(h.result(), 60) for h in handles[:2]]

    numbers = [json.loads(r.body)["to"] for r in gateway.at("/sms")]
    twice_unasked = received_before_staff - len(set(numbers[:received_before_staff]))
    figures["processes"] = COUNT
    figures["SMS received by the gateway before staff answered"] = received_before_staff
    figures["SMS sent twice without staff asking"] = twice_unasked
    assert twice_unasked == 0 and received_before_staff == COUNT
    assert all(i.error_type == "DeliveryOutcomeUnknown" and "was it sent?" in i.message for i in incidents)
    assert all(s.status is ProcessStatus.completed for s in states)
    assert numbers.count("+393330000001") == 2 and numbers.count("+393330000000") == 1  # the retry staff asked for
    statuses = [(await rows(sessions, Delivery, h.id))[0].status for h in handles]
    assert statuses == [DeliveryStatus.unknown, DeliveryStatus.delivered, DeliveryStatus.unknown]
