"""The `send_sms` action against a fake SMS gateway over real local HTTP, on the Temporal dev server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response
from temporalio.testing import WorkflowEnvironment

from crm.deliveries import Delivery, DeliveryStatus
from crm.models import HistoryKind
from processes.instance import ProcessStatus, ResolveIncidentRequest
from tests.channels.receivers import Received, receiver
from tests.factories import Factory
from tests.workflows.helpers import history, rows, running_worker, start, template, until
from workflows.process import ProcessWorkflow

TOKEN = "Bearer sentinel-sms-gateway-token-77ac"
TEXT = "Buongiorno {{ record.title }}, la richiamiamo domani."


def sms(to: str = "record_contact", text: str = TEXT) -> dict[str, Any]:
    return {"key": "text", "name": "Text the lead", "actions": [{"send_sms": {"to": to, "text": text}}]}


def gateway(url: str) -> dict[str, Any]:
    return {"url": url, "headers": {"Authorization": TOKEN}, "sender": "Agenzia",
            "payload": {"destination": "{to}", "body": "{text}", "from": "{from}", "client_ref": "{reference}"},
            "message_id_field": "sid"}


async def test_sms_are_normalised_sent_through_the_gateway_and_each_failure_behaves(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    client = dev_env.client
    owner = await factory.user()
    contact = await factory.record(owner=owner, title="Jan Kowalski", phone="512 345 678", fields={"country": "PL"})

    async def answer(r: Received, n: int) -> Response:
        to = json.loads(r.body)["destination"]
        if to == "+393331111111" and not any(json.loads(x.body)["destination"] == to for x in target.received[:-1]):
            return PlainTextResponse("busy", status_code=503)
        if to == "+393332222222":
            return PlainTextResponse("internal error", status_code=500)
        if to == "+393333333333":
            return PlainTextResponse("unknown destination", status_code=422)
        return JSONResponse({"sid": f"SM{to[1:]}"})

    async with receiver() as target:
        target.answers["/messages"] = answer
        async with running_worker(client, sessions, task_queue, outbound_allowed_hosts=["127.0.0.1"],
                                  sms_gateway=gateway(target.url("/messages"))):
            records = {
                "it": await factory.record(owner=owner, title="Giulia Bianchi", phone="333 123 4567",
                                           fields={"country": "IT"}),
                "pl": await factory.record(owner=owner, title="Oferta", contact_id=contact.id),  # the contact's phone
                "busy": await factory.record(owner=owner, title="busy", phone="+39 333 111 1111"),
                "unknown": await factory.record(owner=owner, title="unknown", phone="333 222 2222"),
                "refused": await factory.record(owner=owner, title="refused", phone="333 333 3333"),
                "invalid": await factory.record(owner=owner, title="invalid", phone="12"),
            }
            handles = {name: await start(client, task_queue, template(sms()), record.id, owner.id)
                       for name, record in records.items()}
            done = {name: await asyncio.wait_for(handles[name].result(), 60) for name in ("it", "pl", "busy")}
            incidents = {name: (await until(handles[name], lambda s: s.incident is not None)).incident
                         for name in ("unknown", "refused", "invalid")}
            # staff say the message of unknown outcome was sent: skip, and nothing is sent again
            await handles["unknown"].execute_update(ProcessWorkflow.resolve_incident,
                                                    ResolveIncidentRequest(action="skip"))
            skipped = await asyncio.wait_for(handles["unknown"].result(), 30)
            exported = json.dumps((await handles["it"].fetch_history()).to_json_dict())

    assert all(state.status is ProcessStatus.completed for state in done.values())
    sent = [json.loads(r.body) for r in target.at("/messages")]
    by_number: dict[str, int] = {}
    for body in sent:
        by_number[body["destination"]] = by_number.get(body["destination"], 0) + 1
    assert by_number == {"+393331234567": 1, "+48512345678": 1, "+393331111111": 2, "+393332222222": 1,
                         "+393333333333": 1}
    it = next(b for b in sent if b["destination"] == "+393331234567")
    assert it["body"] == "Buongiorno Giulia Bianchi, la richiamiamo domani." and it["from"] == "Agenzia"
    assert all(r.headers["authorization"] == TOKEN for r in target.at("/messages"))
    [delivery] = await rows(sessions, Delivery, handles["it"].id)
    assert delivery.status is DeliveryStatus.delivered and delivery.provider_id == "SM393331234567"
    assert it["client_ref"] == delivery.message_id and delivery.target == "+393331234567"
    lines = await history(sessions, handles["it"].id)
    assert [e.text for e in lines if e.kind is HistoryKind.sms_sent] == ["SMS to +393331234567: 1 segment "
                                                                         "(49 GSM-7 characters)"]
    assert incidents["unknown"].error_type == "DeliveryOutcomeUnknown" and "was it sent?" in incidents["unknown"].message
    assert skipped.status is ProcessStatus.completed
    [unknown] = await rows(sessions, Delivery, handles["unknown"].id)
    assert unknown.status is DeliveryStatus.unknown and unknown.attempts == 1 and unknown.response_status == 500
    assert incidents["refused"].error_type == "SmsRefused"
    assert incidents["refused"].message.endswith("answered 422: unknown destination")  # the gateway's reason, for staff
    assert incidents["invalid"].error_type == "SmsNumberInvalid" and await rows(sessions, Delivery,
                                                                                handles["invalid"].id) == []
    assert TOKEN not in exported and "Bearer" not in exported and target.url("/messages") not in exported


async def test_without_a_gateway_sms_are_kept_in_the_outbox(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    owner = await factory.user(phone="+33 6 12 34 56 78")
    record = await factory.record(owner=owner, title="Dupont")
    async with running_worker(dev_env.client, sessions, task_queue):
        handle = await start(dev_env.client, task_queue, template(sms("record_owner", "Appelez {{ record.title }} €")),
                             record.id, owner.id)
        state = await asyncio.wait_for(handle.result(), 30)
    assert state.status is ProcessStatus.completed
    [delivery] = await rows(sessions, Delivery, handle.id)
    assert (delivery.status, delivery.target, delivery.body) == (DeliveryStatus.held, "+33612345678",
                                                                 "Appelez Dupont €")
    assert "kept in the outbox" in next(e.text for e in await history(sessions, handle.id)
                                        if e.kind is HistoryKind.sms_sent)


async def test_look_alikes_of_gsm_characters_are_sent_as_them_and_the_text_stays_gsm_7(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    """Babel's no-break space in a price, and a word processor's ’, made the text UCS-2: twice the segments paid"""
    owner = await factory.user(phone="+39 333 765 4321")
    record = await factory.record(owner=owner, title="Villa Rosa", fields={"prezzo": 250000})
    text = ("Buongiorno, le confermiamo l’offerta per {{ record.title }} al prezzo di "
            "{{ record.fields.prezzo | currency('EUR') }} – a presto… Agenzia Rossi, via dell’Orto 5, Forlì")
    async with running_worker(dev_env.client, sessions, task_queue, locale="it_IT"):
        handle = await start(dev_env.client, task_queue, template(sms("record_owner", text)), record.id, owner.id)
        state = await asyncio.wait_for(handle.result(), 30)
    assert state.status is ProcessStatus.completed
    [delivery] = await rows(sessions, Delivery, handle.id)
    assert delivery.body == ("Buongiorno, le confermiamo l'offerta per Villa Rosa al prezzo di 250.000 € - a "
                             "presto... Agenzia Rossi, via dell'Orto 5, Forlì")
    assert "1 segmento (127 caratteri GSM-7)" in next(e.text for e in await history(sessions, handle.id)
                                                     if e.kind is HistoryKind.sms_sent)
