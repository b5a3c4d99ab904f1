"""A pipeline over HTTP on the dev server: a record enters its type's initial status and its automations run
(an email over real SMTP, a note), a move out runs the on-exit actions and aborts what was scheduled, and the
runs carry the pipeline and the status as search attributes in Temporal."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e


def pipeline_yaml(tag: str) -> str:
    return f"""
key: web-{tag}
name: Web leads {tag}
record_kind: lead
controller_email: controller@agency.example
statuses:
  - name: New
    automations:
      - on: enter
        channels: [web]
        actions:
          - send_email: {{to: record_owner, subject: "New web lead", body: "{{{{ record.title }}}} is new."}}
      - on: scheduled
        after_days: 3
        actions: [{{add_history: {{text: "three days without contact"}}}}]
      - on: exit
        actions: [{{add_history: {{text: "left New for {{{{ record.status }}}}"}}}}]
  - name: Contacted
types: [{{name: Web lead {tag}}}]
"""


async def test_stage_automations_over_http(stack: Stack, dev_env: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    admin, staff = stack.as_("admin"), stack.as_("staff")
    owner = (await stack.http.post("/users", headers=admin, json={
        "handle": f"o{tag}", "name": "Owner", "email": f"o{tag}@agency.example"})).json()
    saved = await stack.http.post("/pipelines", headers={**admin, "Content-Type": "application/yaml"},
                                  content=pipeline_yaml(tag))
    assert saved.status_code == 201, saved.text
    record = (await stack.http.post("/records", headers=staff, json={
        "kind": "lead", "type": f"Web lead {tag}", "title": f"Flat {tag}", "channel": "web",
        "owner_id": owner["id"]})).json()
    assert record["status"] == "New"
    assert await eventually(lambda: _mail(stack, owner["email"]), what="the on-enter email")

    async def runs() -> list[Any]:
        query = f"StagecoachPipeline = 'web-{tag}' AND StagecoachStage = 'New'"
        return [w async for w in dev_env.client.list_workflows(query)]
    listed = await eventually(runs, what="the stage's run in Temporal's list")
    assert listed[0].search_attributes["StagecoachRecord"] == [str(record["id"])]

    moved = await stack.http.post(f"/records/{record['id']}/move", headers=staff,
                                  json={"to": "Contacted", "reason": "called back"})
    assert moved.status_code == 200, moved.text

    async def left() -> list[dict[str, Any]]:
        lines = (await stack.http.get(f"/records/{record['id']}/history", headers=staff)).json()
        return [line for line in lines if line["text"] == "left New for Contacted"]
    assert await eventually(left, what="the on-exit note")
    lines = (await stack.http.get(f"/records/{record['id']}/history", headers=staff)).json()
    assert [line["kind"] for line in lines].count("status_changed") == 1
    aborted = await eventually(lambda: _aborted(stack, record["id"]), what="the scheduled note cancelled")
    assert "left 'New'" in aborted[0]["text"]


async def _mail(stack: Stack, address: str) -> list[Any]:
    return stack.mail.to(address)


async def _aborted(stack: Stack, record_id: int) -> list[dict[str, Any]]:
    lines = (await stack.http.get(f"/records/{record_id}/history", headers=stack.as_("staff"))).json()
    return [line for line in lines if line["kind"] == "process_aborted"]
