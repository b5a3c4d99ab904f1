"""Issue-3 behaviour over HTTP on the dev server: a self-following template runs into the loop guard."""

from __future__ import annotations

import uuid
from typing import Any

from tests.e2e.conftest import Stack
from tests.polling import eventually


async def test_a_template_that_follows_itself_is_stopped_by_the_loop_guard(stack: Stack) -> None:
    http, admin, staff = stack.http, stack.as_("admin"), stack.as_("staff")
    handle = f"ada{uuid.uuid4().hex[:6]}"
    owner = (await http.post("/users", headers=admin, json={
        "handle": handle, "name": "Ada", "email": f"{handle}@agency.example"})).json()
    record = (await http.post("/records", headers=staff, json={
        "kind": "lead", "title": "Looping lead", "owner_id": owner["id"]})).json()
    key = f"again-{uuid.uuid4().hex[:6]}"
    saved = await http.post("/templates", headers={**admin, "Content-Type": "application/yaml"}, content=f"""
key: {key}
name: Check again
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: check
    name: Check
    actions:
      - add_history: {{text: "checked"}}
      - start_follow_up: {{template: {key}}}
""")
    assert saved.status_code == 201, saved.text
    started = await http.post("/processes", headers=staff, json={"template": key, "record_id": record["id"]})
    assert started.status_code == 201

    async def cancelled() -> Any:
        page = (await http.get("/processes", headers=staff, params={"template": key, "status": "cancelled"})).json()
        return page["items"]
    [summary] = await eventually(cancelled, timeout=60)
    # the manual start counts: it and 9 follow-ups run, the 10th follow-up is the day's 11th run
    assert summary["workflow_id"] == f"process-{key}-{record['id']}-11"
    # the list says who ended it and why
    assert summary["ended_by"] == "loop guard" and "11 times today" in summary["end_reason"]
    state = (await http.get(f"/processes/{summary['workflow_id']}", headers=staff)).json()
    assert state["status"] == "cancelled" and "11 times today" in state["end_reason"]
    assert state["parent_workflow_id"] == f"process-{key}-{record['id']}-10"
    history = (await http.get(f"/records/{record['id']}/history", headers=staff, params={"limit": 1000})).json()
    assert [h["kind"] for h in history].count("loop_guard") == 1
    assert [h["text"] for h in history].count("checked") == 10
    mails = (await http.get("/outbox", headers=staff, params={"workflow_id": summary["workflow_id"]})).json()
    assert sorted(m["to_address"] for m in mails) == sorted(["controller@agency.example", owner["email"]])
