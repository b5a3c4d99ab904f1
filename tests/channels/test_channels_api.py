"""Channels over the API: endpoint names checked at save, SMS segments shown, endpoints a 410 disabled enabled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, get_args

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.console.delivery_pages import KINDS
from crm.deliveries import DeliveryKind, DisabledEndpoint
from renderer.pool import shared_pool
from settings import Settings
from tests.bad_input.conftest import Api, _keys

SECRET = "whsec_" + "c2VudGluZWwtd2ViaG9vay1zZWNyZXQtMTIzNDU2Nzg="
TEMPLATE = """
key: channels-{tag}
name: Channels
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: tell
    name: Tell
    actions:
      - webhook: {{endpoint: {endpoint}}}
      - send_sms: {{text: "Gentile {{{{ record.title }}}}, la aspettiamo in agenzia."}}
"""


@pytest.fixture
async def api(dev_env: WorkflowEnvironment, sessions: Any, database_url: str, task_queue: str) -> AsyncIterator[Api]:
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue,
                        webhook_endpoints={"crm": {"url": "https://crm.example.com/hooks?token=x", "secret": SECRET}})
    app = create_app(settings, temporal=dev_env.client, renderer=shared_pool())
    keys, ids = await _keys(sessions)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://stagecoach", timeout=30) as http:
        yield Api(http=http, keys=keys, key_ids=ids, base_url="http://stagecoach")


def yaml(endpoint: str, tag: str) -> dict[str, Any]:
    return {"content": TEMPLATE.format(endpoint=endpoint, tag=tag), "headers": {"Content-Type": "application/yaml"}}


async def test_endpoints_are_checked_and_segments_shown_at_save(api: Api, sessions: Any) -> None:
    admin = api.as_("admin")
    refused = await api.http.post("/templates/validate", headers={**admin, **yaml("crn", "a")["headers"]},
                                  content=yaml("crn", "a")["content"])
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"path": "phases[0].actions[0].webhook.endpoint",
                                         "message": "no webhook endpoint 'crn' in WEBHOOK_ENDPOINTS (did you mean "
                                                    "'crm'?)"}]
    saved = await api.http.post("/templates", headers={**admin, **yaml("crm", "b")["headers"]},
                                content=yaml("crm", "b")["content"])
    assert saved.status_code == 201, saved.text
    assert saved.json()["notes"] == ["phases[0].actions[1].send_sms.text: 1 segment (35 GSM-7 characters); each "
                                     "value it shows adds its length, and one with a character outside GSM-7 (ł, "
                                     "ż, an emoji) makes the whole text UCS-2, 70 characters a segment"]

    listed = await api.http.get("/webhook-endpoints", headers=admin)  # (and the endpoints other tests disabled)
    assert [e for e in listed.json() if e["name"] == "crm"] == [{"name": "crm", "host": "crm.example.com", "disabled": False, "reason": None,
                              "disabled_at": None, "enabled_at": None, "enabled_by": None}]
    async with sessions() as session:
        existing = await session.get(DisabledEndpoint, "crm")
        if existing is not None:
            await session.delete(existing)
        session.add(DisabledEndpoint(name="crm", reason="answered 410 Gone"))
        await session.commit()
    assert {e["name"]: e for e in (await api.http.get("/webhook-endpoints", headers=admin)).json()}["crm"]["disabled"]
    enabled = await api.http.post("/webhook-endpoints/crm/enable", headers=admin)
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False and enabled.json()["enabled_by"]
    unknown = await api.http.post("/webhook-endpoints/crn/enable", headers=admin)
    assert unknown.status_code == 404 and "did you mean 'crm'" in unknown.json()["detail"]
    assert (await api.http.get("/webhook-endpoints", headers=api.as_("staff"))).status_code == 403


async def test_pipeline_automations_have_their_endpoints_checked_at_save(api: Api) -> None:
    """A status's webhook names an endpoint of WEBHOOK_ENDPOINTS, as a process template's must."""
    from tests.pipelines.conftest import repair_pipeline

    def pipeline(endpoint: str) -> dict[str, Any]:
        document = repair_pipeline()
        document["statuses"][1]["automations"] = [{"on": "enter", "actions": [{"webhook": {"endpoint": endpoint}}]}]
        return {**document, "controller_email": "controller@agency.example"}

    admin = api.as_("admin")
    for route in ("/pipelines/validate", "/pipelines"):
        refused = await api.http.post(route, headers=admin, json=pipeline("crn"))
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [{"path": "statuses[1].automations[0].actions[0].webhook.endpoint",
                                             "message": "no webhook endpoint 'crn' in WEBHOOK_ENDPOINTS (did you "
                                                        "mean 'crm'?)"}]
    checked = await api.http.post("/pipelines/validate", headers=admin, json=pipeline("crm"))
    assert checked.status_code == 200, checked.text


async def test_deliveries_are_filtered_by_a_kind_there_is(api: Api) -> None:
    """`?kind=sms` answered an empty list, as if no SMS had been sent: the kind is `send_sms`"""
    refused = await api.http.get("/deliveries", headers=api.as_("staff"), params={"kind": "sms"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == "query.kind", refused.text
    assert (await api.http.get("/deliveries", headers=api.as_("staff"), params={"kind": "send_sms"})).status_code == 200
    assert set(KINDS) == set(get_args(DeliveryKind))  # the console's filter offers each kind
