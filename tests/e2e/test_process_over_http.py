"""The tour, over HTTP: save a template, start it on a record, finish it, steer it; real SMTP and dev server."""

from __future__ import annotations

import uuid
from typing import Any

from tests.e2e.conftest import Stack
from tests.polling import eventually

PROBLEM = "application/problem+json"


def template_yaml(key: str, body: str = "Hello {{ record.title }}, {{ responsible.name }} will call you.") -> str:
    return f"""
key: {key}
name: Welcome a lead
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: welcome
    name: Welcome
    responsible: record_owner
    actions:
      - send_email: {{to: record_contact, subject: "Welcome, {{{{ record.title }}}}", body: "{body}"}}
  - key: call
    name: Call the lead
    responsible: record_owner
    completion: manual
    deadline_days: 2
  - key: wait
    name: Wait a week
    start: {{after_days: 7}}
"""


async def _setup(stack: Stack) -> tuple[dict[str, Any], dict[str, Any], str]:
    http, admin, staff = stack.http, stack.as_("admin"), stack.as_("staff")
    handle = f"luca{uuid.uuid4().hex[:6]}"
    agent = (await http.post("/users", headers=admin, json={
        "handle": handle, "name": "Luca Bianchi", "email": f"{handle}@agency.example"})).json()
    record = (await http.post("/records", headers=staff, json={
        "kind": "lead", "title": "Flat in Via Roma 3", "email": f"client-{handle}@example.org",
        "owner_id": agent["id"]})).json()
    key = f"welcome-{uuid.uuid4().hex[:6]}"
    response = await http.post("/templates", headers={**admin, "Content-Type": "application/yaml"},
                               content=template_yaml(key))
    assert response.status_code == 201, response.text
    return agent, record, key


async def test_a_template_runs_on_a_record_from_start_to_end(stack: Stack) -> None:
    http, admin, staff = stack.http, stack.as_("admin"), stack.as_("staff")
    agent, record, key = await _setup(stack)

    # a broken template is refused with its path, and nothing is stored
    broken = template_yaml(f"broken-{uuid.uuid4().hex[:6]}", body="Dear {{ recrod.title }}")
    response = await http.post("/templates", headers={**admin, "Content-Type": "application/yaml"}, content=broken)
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "TemplateInvalid"
    assert response.json()["errors"] == [{"path": "phases[0].actions[0].send_email.body",
                                          "message": "unknown variable 'recrod' (did you mean 'record'?)"}]
    # saving the same content again keeps version 1
    same = await http.post("/templates", headers={**admin, "Content-Type": "application/yaml"},
                           content=template_yaml(key))
    assert same.status_code == 200 and same.json()["version"] == 1

    started = await http.post("/processes", headers=staff, json={"template": key, "record_id": record["id"]})
    assert started.status_code == 201, started.text
    workflow_id = started.json()["workflow_id"]
    assert workflow_id == f"process-{key}-{record['id']}-1"
    assert started.json()["temporal_ui_url"].endswith(f"/workflows/{workflow_id}")

    # the manual phase shows in its responsible user's task list
    async def open_task() -> Any:
        tasks = (await http.get("/tasks", headers=staff, params={"assignee_id": agent["id"]})).json()
        return tasks[0] if tasks else None
    task = await eventually(open_task)
    assert task["phase_key"] == "call" and task["workflow_id"] == workflow_id and task["due_at"]

    state = (await http.get(f"/processes/{workflow_id}", headers=staff)).json()
    assert state["current_phase"] == "call"
    assert [(p["key"], p["status"]) for p in state["phases"]] == [
        ("welcome", "done"), ("call", "running"), ("wait", "pending")]
    assert state["phases"][1]["responsible_id"] == agent["id"] and state["phases"][1]["deadline_at"]

    # the welcome email went through the real SMTP server, with a Message-ID from its step key
    [mail] = stack.mail.to(record["email"])
    assert mail["Subject"] == "Welcome, Flat in Via Roma 3"
    assert mail.get_content().strip() == "Hello Flat in Via Roma 3, Luca Bianchi will call you."
    outbox = (await http.get("/outbox", headers=staff, params={"workflow_id": workflow_id})).json()
    assert [(m["status"], m["message_id"]) for m in outbox] == [("sent", mail["Message-ID"])]

    # completing the task completes the phase; the process then waits a week for its last phase
    done = await http.post(f"/tasks/{task['id']}/complete", headers=staff)
    assert done.status_code == 200 and done.json()["status"] == "done"
    await eventually(lambda: _phase_is(stack, workflow_id, "wait", "waiting"))
    state = (await http.get(f"/processes/{workflow_id}", headers=staff)).json()
    assert [p["status"] for p in state["phases"]] == ["done", "done", "waiting"]

    # the process list is filterable by the custom search attributes
    async def listed() -> Any:
        page = (await http.get("/processes", headers=staff, params={"template": key, "phase": "wait"})).json()
        return page["items"]
    [summary] = await eventually(listed)
    assert summary["workflow_id"] == workflow_id and summary["record_id"] == record["id"]
    assert summary["status"] == "running" and summary["owner_id"] == agent["id"]

    # staff skip the waiting phase: the process ends
    skipped = await http.post(f"/processes/{workflow_id}/skip", headers=staff, json={"reason": "no need to wait"})
    assert skipped.status_code == 200 and skipped.json()["phases"][2]["status"] == "skipped"

    async def ended() -> Any:
        return (await http.get(f"/processes/{workflow_id}", headers=staff)).json()["status"] == "completed"
    await eventually(ended)
    history = (await http.get(f"/records/{record['id']}/history", headers=staff)).json()
    assert [h["kind"] for h in history] == [
        "process_started", "phase_started", "email_sent", "phase_done", "phase_started", "task_created",
        "phase_done", "phase_skipped", "process_ended"]
    assert history[7]["text"] == "Phase 'Wait a week' skipped: no need to wait"


async def test_refused_requests_say_why_and_change_nothing(stack: Stack) -> None:
    http, staff = stack.http, stack.as_("staff")
    _, record, key = await _setup(stack)
    workflow_id = (await http.post("/processes", headers=staff,
                                   json={"template": key, "record_id": record["id"]})).json()["workflow_id"]
    await eventually(lambda: _phase_is(stack, workflow_id, "call", "running"))

    unknown = await http.post(f"/processes/{workflow_id}/skip", headers=staff, json={"phase": "cal"})
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    assert unknown.json()["type"] == "PhaseNotFound" and "did you mean 'call'" in unknown.json()["detail"]
    done = await http.post(f"/processes/{workflow_id}/skip", headers=staff, json={"phase": "welcome"})
    assert done.status_code == 409 and done.json()["type"] == "InvalidPhaseState"
    no_incident = await http.post(f"/processes/{workflow_id}/incident", headers=staff, json={"action": "retry"})
    assert no_incident.status_code == 409 and no_incident.json()["type"] == "NoIncident"
    no_reason = await http.post(f"/processes/{workflow_id}/abort", headers=staff, json={"reason": ""})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["path"] == "body.reason"
    assert await _phase_is(stack, workflow_id, "call", "running")

    aborted = await http.post(f"/processes/{workflow_id}/abort", headers=staff, json={"reason": "client withdrew"})
    assert aborted.status_code == 200
    assert aborted.json()["status"] == "aborted" and aborted.json()["end_reason"] == "client withdrew"
    again = await http.post(f"/processes/{workflow_id}/abort", headers=staff, json={"reason": "twice"})
    assert again.status_code == 409 and again.json()["type"] == "ProcessFinished"
    tasks = (await http.get("/tasks", headers=staff, params={"workflow_id": workflow_id, "status": "cancelled"}))
    assert [t["phase_key"] for t in tasks.json()] == ["call"]

    missing = await http.get("/processes/process-nope-1-1", headers=staff)
    assert missing.status_code == 404 and missing.json()["type"] == "ProcessNotFound"
    wrong_kind = await http.post("/records", headers=staff, json={"kind": "opportunity", "title": "Villa"})
    refused = await http.post("/processes", headers=staff, json={"template": key,
                                                                   "record_id": wrong_kind.json()["id"]})
    assert refused.status_code == 409 and refused.json()["type"] == "RecordKindMismatch"
    assert refused.json()["detail"].endswith(f"record {wrong_kind.json()['id']} is an opportunity")
    # no one to own it: an admin key tied to no user, a record without owner
    ownerless = await http.post("/records", headers=staff, json={"kind": "lead", "title": "Nobody's"})
    no_owner = await http.post("/processes", headers=stack.as_("admin"),
                               json={"template": key, "record_id": ownerless.json()["id"]})
    assert no_owner.status_code == 422 and no_owner.json()["type"] == "OwnerMissing", no_owner.text
    assert [e["path"] for e in no_owner.json()["errors"]] == ["body.owner_id"]
    nowhere = await http.post(f"/records/{ownerless.json()['id']}/move", headers=staff, json={"reason": "x"})
    assert nowhere.status_code == 422 and [e["path"] for e in nowhere.json()["errors"]] == ["body"], nowhere.text


async def test_each_route_checks_the_role_of_its_key(stack: Stack) -> None:
    http = stack.http
    _, record, key = await _setup(stack)
    assert (await http.get("/records")).status_code == 401
    assert (await http.get("/records", headers={"X-API-Key": "sc_not-a-key"})).status_code == 401
    client = stack.as_("client")
    refused = await http.post("/templates", headers={**client, "Content-Type": "application/yaml"},
                              content=template_yaml("whatever"))
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    staff_creates_user = await http.post("/users", headers=stack.as_("staff"),
                                         json={"handle": "x", "name": "X", "email": "x@agency.example"})
    assert staff_creates_user.status_code == 403
    # a client starts a process and reads it back, with a request id that makes a retry harmless
    body = {"template": key, "record_id": record["id"], "request_id": f"form-{uuid.uuid4().hex}"}
    first = await http.post("/processes", headers=client, json=body)
    retry = await http.post("/processes", headers=client, json=body)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json()["workflow_id"] == retry.json()["workflow_id"]
    # the same request id for another start (another owner): refused, not answered with the first
    tag = uuid.uuid4().hex[:8]
    someone = (await http.post("/users", headers=stack.as_("admin"), json={
        "handle": f"someone{tag}", "name": "Someone", "email": f"someone{tag}@agency.example"})).json()
    changed = await http.post("/processes", headers=client, json={**body, "owner_id": someone["id"]})
    assert changed.status_code == 422 and changed.json()["type"] == "RequestIdReused", changed.text
    assert [e["path"] for e in changed.json()["errors"]] == ["body.owner_id"], changed.text
    assert (await http.get(f"/processes/{first.json()['workflow_id']}", headers=client)).status_code == 200
    assert (await http.post(f"/processes/{first.json()['workflow_id']}/skip", headers=client,
                            json={})).status_code == 403
    other = (await http.post("/processes", headers=stack.as_("staff"),
                             json={"template": key, "record_id": record["id"]})).json()["workflow_id"]
    assert (await http.get(f"/processes/{other}", headers=client)).status_code == 404


async def _phase_is(stack: Stack, workflow_id: str, key: str, status: str) -> bool:
    state = (await stack.http.get(f"/processes/{workflow_id}", headers=stack.as_("staff"))).json()
    return any(p["key"] == key and p["status"] == status for p in state.get("phases", []))
