"""The `webhook` action against real local HTTP servers, on the Temporal dev server (retries take real time)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlmodel import select
from standardwebhooks.webhooks import Webhook as Verifier
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from temporalio.testing import WorkflowEnvironment

from crm.deliveries import Delivery, DeliveryStatus, DisabledEndpoint
from crm.models import HistoryKind
from processes.instance import ProcessStatus, ResolveIncidentRequest
from settings import Settings
from tests.channels.receivers import Received, Receiver, receiver
from tests.factories import Factory
from tests.polling import eventually
from tests.serving import free_port, serving
from tests.workflows.helpers import history, rows, running_worker, start, template, until
from workflows.process import ProcessWorkflow
from workflows.run import ACTION_RETRY

SECRET = "whsec_" + "c2VudGluZWwtd2ViaG9vay1zZWNyZXQtMTIzNDU2Nzg="  # base64 of a sentinel
TOKEN = "Bearer sentinel-header-token-5f1e"
BODY = '{"lead": {{ record.title | tojson }}, "phase": {{ phase.name | tojson }}, "n": {{ record.id }}}'


def hook(endpoint: str, body: str = BODY) -> dict[str, Any]:
    return {"key": "notify", "name": "Notify the CRM", "actions": [{"webhook": {"endpoint": endpoint, "body": body}}]}


def endpoint(url: str) -> dict[str, Any]:
    return {"url": url, "secret": SECRET, "headers": {"Authorization": TOKEN}}


async def deliveries(sessions: Any, workflow_id: str) -> list[Delivery]:
    return await rows(sessions, Delivery, workflow_id)


async def test_a_webhook_is_signed_sent_once_and_recorded_and_no_secret_reaches_temporal(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    client = dev_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner, title='Villa "Ginestra" à Cefalù')
    async with receiver() as target, running_worker(client, sessions, task_queue, outbound_allowed_hosts=["127.0.0.1"],
                                                    webhook_endpoints={"crm": endpoint(target.url("/hooks"))}):
        handle = await start(client, task_queue, template(hook("crm")), record.id, owner.id)
        state = await handle.result()
        exported = json.dumps((await handle.fetch_history()).to_json_dict())
    assert state.status is ProcessStatus.completed
    [received] = target.at("/hooks")
    assert json.loads(received.body) == {"lead": 'Villa "Ginestra" à Cefalù', "phase": "Notify the CRM", "n": record.id}
    assert received.headers["authorization"] == TOKEN
    assert received.headers["content-type"] == "application/json"
    Verifier(SECRET).verify(received.body, received.headers)  # raises unless the signature is the endpoint's
    [delivery] = await deliveries(sessions, handle.id)
    assert delivery.status is DeliveryStatus.delivered and delivery.attempts == 1
    assert delivery.message_id == received.headers["webhook-id"] and delivery.response_status == 200
    assert delivery.response_body == '{"ok":true}'
    assert [e.kind for e in await history(sessions, handle.id)].count(HistoryKind.webhook_sent) == 1
    # the endpoint's secret and headers are read by the activity: Temporal never sees them
    assert SECRET not in exported and SECRET.removeprefix("whsec_") not in exported and TOKEN not in exported
    assert target.url("/hooks") not in exported


async def test_a_body_rendered_with_a_key_twice_or_nan_is_an_incident_and_nothing_is_sent(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    """A body with `{% %}` blocks is checked as it renders: what only Python's json reads was sent as is (NaN), or
    sent without one of its values (a key twice)"""
    client = dev_env.client
    owner = await factory.user()
    bodies = {"twice": '{% if true %}{"stato": "nuovo", "stato": {{ record.status | tojson }}}{% endif %}',
              "nan": '{% if true %}{"prezzo": {{ "nan" | float | tojson }}}{% endif %}'}
    async with receiver() as target, running_worker(client, sessions, task_queue, outbound_allowed_hosts=["127.0.0.1"],
                                                    webhook_endpoints={"crm": endpoint(target.url("/hooks"))}):
        said = {}
        for name, body in bodies.items():
            record = await factory.record(owner=owner)
            handle = await start(client, task_queue, template(hook("crm", body)), record.id, owner.id)
            incident = (await until(handle, lambda s: s.incident is not None)).incident
            assert incident is not None and incident.error_type == "WebhookBodyInvalid", name
            said[name] = incident.message
    assert 'the key "stato" is given twice' in said["twice"]
    assert "NaN is not a JSON value" in said["nan"]
    assert target.at("/hooks") == []


async def test_webhook_failures_each_behave_as_documented(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    """Down, slow, 500 then 200, 429 with Retry-After, 410, 422, a redirect to loopback, and a name that resolves
    to 127.0.0.1 without the allow-list."""
    client = dev_env.client
    owner = await factory.user()
    down_port = free_port()

    async def flaky(r: Received, n: int) -> Response:
        return PlainTextResponse("oops", status_code=500) if n == 1 else JSONResponse({"ok": True})

    async def busy(r: Received, n: int) -> Response:
        return PlainTextResponse("slow down", status_code=429, headers={"Retry-After": "3"}) if n == 1 \
            else JSONResponse({"ok": True})

    async def slow(r: Received, n: int) -> Response:
        if n == 1:
            await asyncio.sleep(3)  # past the read timeout
        return JSONResponse({"ok": True})

    async def broken(r: Received, n: int) -> Response:
        return PlainTextResponse("still broken", status_code=500)

    async def gone(r: Received, n: int) -> Response:
        return PlainTextResponse("no such hook", status_code=410)

    async def refused(r: Received, n: int) -> Response:
        return PlainTextResponse("x" * 5000 if n == 1 else "fine", status_code=422 if n == 1 else 200)

    late = Receiver(port=down_port)  # the endpoint that is down until the test serves it
    async with receiver() as target:
        async def redirect(r: Received, n: int) -> Response:
            return RedirectResponse(target.url("/internal"), status_code=302)

        target.answers.update({"/flaky": flaky, "/busy": busy, "/slow": slow, "/gone": gone, "/refused": refused,
                               "/redirect": redirect, "/broken": broken})
        endpoints = {name: endpoint(target.url(f"/{name}")) for name in
                     ("flaky", "busy", "slow", "gone", "refused", "redirect", "broken")}
        endpoints["rebind"] = endpoint(target.url("/rebind", host="localhost"))  # localhost: not on the allow-list
        endpoints["down"] = endpoint(f"http://127.0.0.1:{down_port}/down")
        async with running_worker(client, sessions, task_queue, outbound_allowed_hosts=["127.0.0.1"],
                                  webhook_endpoints=endpoints, webhook_read_timeout_seconds=0.5):
            handles = {}
            for name in endpoints:
                record = await factory.record(owner=owner, title=f"lead {name}")
                handles[name] = await start(client, task_queue, template(hook(name)), record.id, owner.id)

            async def down_tried() -> bool:
                return any(d.attempts for d in await deliveries(sessions, handles["down"].id))

            await eventually(down_tried, 30, "the first attempt to the endpoint that is down")
            # the endpoint comes up on its port: the next attempt reaches it
            async with serving(late.app(), down_port):
                results = {name: await asyncio.wait_for(handles[name].result(), 60)
                           for name in ("flaky", "busy", "slow", "down")}
            incidents = {name: (await until(handles[name], lambda s: s.incident is not None)).incident
                         for name in ("gone", "refused", "redirect", "rebind", "broken")}
            # staff retry the refused one once the receiver takes it
            await handles["refused"].execute_update(ProcessWorkflow.resolve_incident,
                                                    ResolveIncidentRequest(action="retry"))
            refused_state = await asyncio.wait_for(handles["refused"].result(), 30)
            # a process posting to the endpoint that answered 410 meets it disabled, without a request
            again = await start(client, task_queue, template(hook("gone")), (await factory.record(owner=owner)).id,
                                owner.id)
            disabled = (await until(again, lambda s: s.incident is not None)).incident

    assert all(s.status is ProcessStatus.completed for s in results.values())
    for name in ("flaky", "busy", "slow"):
        first, second = target.at(f"/{name}")
        assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body, name
        [delivery] = await deliveries(sessions, handles[name].id)
        assert delivery.status is DeliveryStatus.delivered and delivery.attempts == 2, name
    busy_first, busy_second = target.at("/busy")
    assert busy_second.at - busy_first.at >= 2.9  # Retry-After: 3, where the retry policy alone waits 1 s
    assert len(late.at("/down")) == 1
    assert incidents["gone"].error_type == "EndpointGone" and len(target.at("/gone")) == 1
    assert disabled is not None and disabled.error_type == "EndpointDisabled" and len(target.at("/gone")) == 1
    async with sessions() as session:
        gone = await session.get(DisabledEndpoint, "gone")
        disabled_rows = {d.name: d.disabled for d in (await session.exec(select(DisabledEndpoint))).all()}
    assert disabled_rows.get("gone") is True and not any(disabled_rows.get(name) for name in results)
    assert gone is not None and gone.disabled_at is not None  # the time as staff read it, in TIMEZONE's words
    assert gone.reason == f"answered 410 Gone on {Settings().show(gone.disabled_at)}", gone.reason
    assert incidents["refused"].error_type == "WebhookRefused" and "422" in incidents["refused"].message
    assert refused_state.status is ProcessStatus.completed and len(target.at("/refused")) == 2
    [refused_delivery] = await deliveries(sessions, handles["refused"].id)
    assert refused_delivery.attempts == 2 and refused_delivery.response_body == "fine"
    assert incidents["redirect"].error_type == "WebhookRefused" and "not followed" in incidents["redirect"].message
    assert target.at("/internal") == []
    assert incidents["rebind"].error_type == "AddressRefused" and "127.0.0.1" in incidents["rebind"].message
    assert target.at("/rebind") == []
    # a 500 to every attempt: the retries run out, the process holds an incident, and the delivery says it failed
    assert incidents["broken"].error_type == "WebhookNotDelivered"
    assert len(target.at("/broken")) == ACTION_RETRY.maximum_attempts
    [broken_delivery] = await deliveries(sessions, handles["broken"].id)
    assert broken_delivery.status is DeliveryStatus.failed and broken_delivery.response_body == "still broken"
    assert broken_delivery.attempts == ACTION_RETRY.maximum_attempts
    [redirect_delivery] = await deliveries(sessions, handles["redirect"].id)
    assert redirect_delivery.status is DeliveryStatus.failed and redirect_delivery.response_status == 302

