"""Every route × every kind of caller × ordinary and restricted records, over HTTP on the real stack.

The routes come from the API's own OpenAPI document: a new route fails this test until it is
given a rule below. For each cell the test predicts the outcome from the rules (401 without a
key, 403 below the route's role, 404 for what belongs to a record the caller may not see, 422 for such a record
named in a body, the record's rows left out of lists) and compares it with what the API answered.

Some routes are also tried in the ways an attacker or a careless client would (CASES): another
caller's request_id, a loop guard's notice (an email of a process, written to no record), an
email of nothing at all, and changes to who owns and who sees a record.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.auth import create_key
from crm.deliveries import DisabledEndpoint
from crm.models import ApiRole, MessageStatus, OutboxMessage
from tests.e2e.conftest import Stack
from tests.figures import Figures
from tests.polling import eventually

pytestmark = pytest.mark.e2e

CALLERS = ("anonymous", "client", "staff", "other staff", "owner", "admin")  # owner: a staff user owning the records
VARIANTS = ("ordinary", "restricted, listing the staff user", "restricted, not listing them")
RANK = {"client": 1, "staff": 2, "other staff": 2, "owner": 2, "admin": 3}

# the role each route needs (None: public); routes marked `record` act on what belongs to one record, `named` on a
# record their body names (one the caller may not see is 422 ReferenceNotFound, as one that is not there)
RULES: dict[tuple[str, str], tuple[str | None, str | None]] = {
    ("GET", "/livez"): (None, None),
    ("GET", "/readyz"): (None, None),
    ("GET", "/templates"): ("staff", None),
    ("POST", "/templates"): ("admin", None),
    ("POST", "/templates/validate"): ("staff", None),
    ("GET", "/templates/{key}"): ("staff", None),
    ("GET", "/templates/{key}/versions"): ("staff", None),
    ("GET", "/templates/{key}/versions/{version}"): ("staff", None),
    ("POST", "/pipelines"): ("admin", None),
    ("POST", "/pipelines/validate"): ("admin", None),
    ("GET", "/pipelines"): ("staff", None),
    ("GET", "/pipelines/{key}"): ("staff", None),
    ("GET", "/pipelines/{key}/versions"): ("staff", None),
    ("GET", "/pipelines/{key}/versions/{version}"): ("staff", None),
    ("GET", "/pipelines/{key}/board"): ("staff", None),  # restricted records: tests/pipelines/test_moves.py
    ("GET", "/record-types"): ("staff", None),
    ("GET", "/record-types/{kind}/{name}"): ("staff", None),
    ("POST", "/users"): ("admin", None),
    ("GET", "/users"): ("staff", None),
    ("GET", "/users/{user_id}"): ("staff", None),
    ("PATCH", "/users/{user_id}"): ("admin", None),
    ("POST", "/records"): ("staff", "named"),  # linking a contact record
    ("GET", "/records"): ("staff", "list"),
    ("GET", "/records/{record_id}"): ("staff", "record"),
    ("PATCH", "/records/{record_id}"): ("staff", "record"),
    ("GET", "/records/{record_id}/history"): ("staff", "record"),
    ("GET", "/records/{record_id}/processes"): ("staff", "record"),
    ("POST", "/records/{record_id}/move"): ("staff", "record"),
    ("GET", "/records/{record_id}/allowed-moves"): ("staff", "record"),
    ("POST", "/records/{record_id}/events"): ("staff", "record"),
    ("POST", "/records/{record_id}/documents"): ("staff", "record"),
    ("GET", "/records/{record_id}/documents"): ("staff", "record"),
    ("GET", "/records/{record_id}/documents/{document_id}"): ("staff", "record"),
    ("POST", "/records/{record_id}/documents/{document_id}/versions"): ("staff", "record"),
    ("GET", "/records/{record_id}/documents/{document_id}/versions/{number}"): ("staff", "record"),
    ("DELETE", "/records/{record_id}/documents/{document_id}"): ("staff", "record"),  # a document made for the cell
    ("POST", "/processes"): ("client", "named"),
    ("GET", "/processes"): ("staff", "list"),
    ("GET", "/processes/{workflow_id}"): ("client", "started"),  # a client key: only what it started
    ("POST", "/processes/{workflow_id}/skip"): ("staff", "record"),
    ("POST", "/processes/{workflow_id}/abort"): ("staff", "record"),
    ("POST", "/processes/{workflow_id}/complete"): ("staff", "record"),
    ("POST", "/processes/{workflow_id}/owner"): ("staff", "record"),
    ("POST", "/processes/{workflow_id}/incident"): ("staff", "record"),
    ("GET", "/tasks"): ("staff", "list"),
    ("GET", "/tasks/{task_id}"): ("staff", "record"),
    ("POST", "/tasks/{task_id}/complete"): ("staff", "record"),
    ("POST", "/tasks"): ("staff", "named"),
    ("PATCH", "/tasks/{task_id}"): ("staff", "record"),  # a task made by hand (as DELETE): made for the cell
    ("DELETE", "/tasks/{task_id}"): ("staff", "record"),
    ("GET", "/outbox"): ("staff", "list"),
    ("GET", "/outbox/{message_id}"): ("staff", "record"),
    ("GET", "/deliveries"): ("staff", "list"),
    ("GET", "/deliveries/{delivery_id}"): ("staff", "record"),
    ("GET", "/webhook-endpoints"): ("admin", None),
    ("POST", "/webhook-endpoints/{name}/enable"): ("admin", None),
    ("POST", "/cases"): ("staff", "named"),  # naming a contact as participant
    ("GET", "/cases"): ("staff", "list"),
    ("GET", "/cases/{case_id}"): ("staff", "record"),
    ("PATCH", "/cases/{case_id}"): ("staff", "record"),
    ("DELETE", "/cases/{case_id}"): ("staff", "record"),
    ("POST", "/cases/{case_id}/participants"): ("staff", "record"),
    ("DELETE", "/cases/{case_id}/participants/{contact_id}"): ("staff", "record"),
    ("POST", "/cases/{case_id}/close"): ("staff", "record"),
    ("POST", "/cases/{case_id}/reopen"): ("staff", "record"),
    ("GET", "/tags"): ("staff", None),  # its counts of hidden cases: tests/cases/test_restricted_cases.py
    ("POST", "/tags"): ("staff", None),
    ("PATCH", "/tags/{tag_id}"): ("staff", None),
    ("POST", "/tags/{tag_id}/merge"): ("staff", None),
    ("DELETE", "/tags/{tag_id}"): ("staff", None),
    ("POST", "/imports/{kind}"): ("staff", None),
    ("GET", "/imports/{job_id}"): ("staff", None),  # the key's own import (another's: tests/imports/)
    ("GET", "/imports/{job_id}/rejected"): ("staff", None),
    ("GET", "/exports/{kind}"): ("staff", "list"),
    ("GET", "/api-keys"): ("admin", None),
    ("POST", "/api-keys"): ("admin", None),
    ("DELETE", "/api-keys/{key_id}"): ("admin", None),
    ("GET", "/client-request-templates"): ("staff", None),
    ("POST", "/client-request-templates"): ("admin", None),
    ("POST", "/client-request-templates/validate"): ("staff", None),
    ("GET", "/client-request-templates/{key}"): ("staff", None),
    ("GET", "/client-request-templates/{key}/versions"): ("staff", None),
    ("GET", "/client-request-templates/{key}/versions/{version}"): ("staff", None),
    ("POST", "/records/{record_id}/client-requests"): ("staff", "record"),  # emails the record's contact
    ("GET", "/records/{record_id}/client-requests"): ("staff", "record"),
    ("GET", "/client-requests"): ("staff", "list"),
    ("GET", "/client-requests/{client_request_id}"): ("staff", "record"),
    ("POST", "/client-requests/{client_request_id}/cancel"): ("staff", "record"),  # a cancelled one: 409
    ("POST", "/client-requests/{client_request_id}/resend"): ("staff", "record"),
    # public, but only a body signed with the provider's secret goes through: no API key is enough (401 for all)
    ("POST", "/signatures/callback/{provider}"): ("signed", None),
    # linking it to its own record again (another record: tests/client_requests/test_staff_api.py)
    ("POST", "/client-requests/{client_request_id}/link"): ("staff", "record"),
}

TEMPLATE = """
key: {key}
name: Access matrix
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: notify
    name: Tell the controller
    actions:
      - send_email: {{to: controller, subject: "New process", body: "A process started."}}
      - send_sms: {{to: "+39 347 000 0001", text: "A process started."}}
{manual}
"""
# more ways to call a route: (method, path, case) -> how the outcome is predicted
CASES: dict[tuple[str, str, str], str] = {
    ("GET", "/outbox", "a loop guard's notice"): "as the route",  # listed where the process's record is
    ("GET", "/outbox/{message_id}", "a loop guard's notice"): "as the route",
    ("GET", "/outbox/{message_id}", "an email of no record and no process"): "admins only",
    ("GET", "/processes", "a guessed request_id"): "as the route",  # an unknown parameter opens nothing
    ("POST", "/processes", "the admin's request_id"): "a start of one's own",
    ("PATCH", "/records/{record_id}", "owner_id"): "the owner, on a restricted record",
    ("PATCH", "/records/{record_id}", "access_user_ids"): "the owner",
    ("PATCH", "/records/{record_id}", "restricted"): "the owner",
}

PIPELINE = """
key: {key}
name: Access matrix
record_kind: lead
statuses: [{{name: New}}, {{name: Called}}]
types: [{{name: Matrix {key}}}]
"""

REQUEST_TEMPLATE = """
key: {key}
title: Access matrix
questions: [{{key: notes, type: long_text, label: Notes}}]
"""

MANUAL = """  - key: step{n}
    name: Step {n}
    responsible: record_owner
    completion: manual
"""


def sees(caller: str, variant: str) -> bool:
    return (caller in ("admin", "owner") or variant == "ordinary"
            or (caller == "staff" and variant == "restricted, listing the staff user"))


def expected(method: str, path: str, caller: str, variant: str, case: str = "") -> str:
    """What the rules predict: 'through' (served), 'absent'/'present' (lists), or a status code."""
    rule = CASES.get((method, path, case), "as the route")
    if rule == "a start of one's own" and caller != "anonymous":  # naming the ordinary record
        if caller != "admin":
            return "a run of its own"
        return "the admin's run" if variant == "ordinary" else "422"  # the same request_id for another start
    if rule != "as the route" and caller not in ("anonymous", "client") and sees(caller, variant):
        restricted = variant != "ordinary"
        if rule == "admins only":
            return "through" if caller == "admin" else "404"
        managing = caller in ("admin", "owner")
        if rule == "the owner":
            return "through" if managing else "403"
        if rule == "the owner, on a restricted record":
            return "through" if managing or not restricted else "403"
    role, scope = RULES[(method, path)]
    if role is None:
        return "through"
    if role == "signed":  # verified by its signature, which no caller here has
        return "401"
    if caller == "anonymous":
        return "401"
    if RANK[caller] < RANK[role]:
        return "403"
    visible = sees(caller, variant) and not (scope == "started" and caller == "client")
    if scope == "list":
        return "present" if visible else "absent"
    if scope in ("record", "started") and not visible:
        return "404"
    if scope == "named" and not visible:
        return "422"
    return "through"


@dataclass
class Target:
    """What belongs to one record: the record, a process on it, its task and an email about it."""

    record: dict[str, Any]
    workflow_id: str
    task_id: int
    message_id: int
    delivery_id: int  # an SMS about it, kept (no gateway)
    notice_id: int  # a loop guard's notice about the process: no record of its own
    request_id: str  # the admin's, for the start
    contact: dict[str, Any]  # a contact record, restricted as the variant says
    case: dict[str, Any]  # a case, restricted as the variant says, the contact taking part
    document_id: int  # a document of the record
    client_request_id: int  # a client request linked to the record


@dataclass
class World:
    headers: dict[str, dict[str, str]]
    template_key: str
    template_text: str
    pipeline_text: str  # a pipeline with the template's key
    request_template_text: str  # a client request template with the template's key
    owner_id: int
    staff_user_id: int
    other_user_id: int
    targets: dict[str, Target]
    orphan_id: int  # an email of no record and no process
    endpoint: str  # a webhook endpoint a 410 disabled


async def build_world(stack: Stack, sessions: Any) -> World:
    http, admin = stack.http, stack.as_("admin")
    tag = uuid.uuid4().hex[:8]

    async def user(name: str) -> dict[str, Any]:
        response = await http.post("/users", headers=admin, json={
            "handle": f"{name}{tag}", "name": f"{name.title()} Matrix", "email": f"{name}{tag}@agency.example"})
        assert response.status_code == 201, response.text
        return response.json()

    owner, staff_user, other_user = await user("owner"), await user("staffer"), await user("other")
    headers = {"anonymous": {}, "client": stack.as_("client"), "admin": admin}
    async with sessions() as session:
        for caller, person in (("staff", staff_user), ("other staff", other_user), ("owner", owner)):
            _, key = await create_key(session, f"matrix {caller}", ApiRole.staff, user_id=person["id"])
            headers[caller] = {"X-API-Key": key}

    key = f"matrix-{tag}"
    text = TEMPLATE.format(key=key, manual="".join(MANUAL.format(n=n) for n in range(12)))
    response = await http.post("/templates", headers={**admin, "Content-Type": "application/yaml"}, content=text)
    assert response.status_code == 201, response.text
    pipeline = PIPELINE.format(key=key)
    response = await http.post("/pipelines", headers={**admin, "Content-Type": "application/yaml"}, content=pipeline)
    assert response.status_code == 201, response.text
    request_template = REQUEST_TEMPLATE.format(key=key)
    response = await http.post("/client-request-templates", headers={**admin, "Content-Type": "application/yaml"},
                               content=request_template)
    assert response.status_code == 201, response.text

    targets = {}
    for n, variant in enumerate(VARIANTS):
        restricted = variant != "ordinary"
        access = [staff_user["id"]] if variant == "restricted, listing the staff user" else []
        response = await http.post("/records", headers=admin, json={
            "kind": "lead", "title": f"Matrix {tag} record {n}", "email": f"lead{n}{tag}@example.org",
            "owner_id": owner["id"], "restricted": restricted, "access_user_ids": access})
        assert response.status_code == 201, response.text
        record = response.json()
        assert record["restricted"] is restricted and record["access_user_ids"] == access
        request_id = f"matrix-{tag}-{n}"
        started = await http.post("/processes", headers=admin, json={"template": key, "record_id": record["id"],
                                                                     "request_id": request_id})
        assert started.status_code == 201, started.text
        workflow_id = started.json()["workflow_id"]

        async def task_of(wid: str = workflow_id) -> list[dict[str, Any]]:
            return (await http.get("/tasks", headers=admin, params={"workflow_id": wid,
                                                                    "assignee_id": owner["id"]})).json()

        async def email_of(record_id: int = record["id"]) -> list[dict[str, Any]]:
            return (await http.get("/outbox", headers=admin, params={"record_id": record_id})).json()

        async def sms_of(record_id: int = record["id"]) -> list[dict[str, Any]]:
            return (await http.get("/deliveries", headers=admin, params={"record_id": record_id})).json()

        task = (await eventually(task_of))[0]
        message = (await eventually(email_of))[0]
        delivery = (await eventually(sms_of))[0]
        notice = await _email(sessions, f"{workflow_id}/loop-guard/0", workflow_id)
        contact = (await http.post("/records", headers=admin, json={
            "kind": "contact", "title": f"Matrix {tag} contact {n}", "owner_id": owner["id"],
            "restricted": restricted, "access_user_ids": access})).json()
        case = await _case(http, admin, f"Matrix {tag} case {n}", owner["id"], restricted, access, contact["id"])
        targets[variant] = Target(record=record, workflow_id=workflow_id, task_id=task["id"],
                                  message_id=message["id"], delivery_id=delivery["id"], notice_id=notice,
                                  request_id=request_id, contact=contact, case=case,
                                  document_id=await _document(http, admin, record["id"]),
                                  client_request_id=await _client_request(http, admin, record["id"], key))
    orphan = await _email(sessions, f"matrix-{tag}/orphan", None)
    async with sessions() as session:
        session.add(DisabledEndpoint(name=f"matrix-{tag}", reason="answered 410 Gone"))
        await session.commit()
    return World(endpoint=f"matrix-{tag}", headers=headers, template_key=key, template_text=text,
                 pipeline_text=pipeline, request_template_text=request_template, owner_id=owner["id"],
                 staff_user_id=staff_user["id"], other_user_id=other_user["id"], targets=targets, orphan_id=orphan)


async def _email(sessions: Any, step_key: str, workflow_id: str | None) -> int:
    """An outbox row of no record, as the loop guard writes its notices (of its process only) ."""
    async with sessions() as session:
        row = OutboxMessage(step_key=step_key, message_id=f"<{uuid.uuid4().hex}@matrix>", workflow_id=workflow_id,
                            to_address="controller@agency.example", subject="Process cancelled by the loop guard",
                            body="The process was cancelled.", status=MessageStatus.held)
        session.add(row)
        await session.commit()
        assert row.id is not None
        return row.id


async def _document(http: httpx.AsyncClient, admin: dict[str, str], record_id: int) -> int:
    response = await http.post(f"/records/{record_id}/documents", headers=admin,
                               files={"file": ("matrix.txt", b"a document of the matrix\n", "text/plain")})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _client_request(http: httpx.AsyncClient, admin: dict[str, str], record_id: int, template: str) -> int:
    response = await http.post(f"/records/{record_id}/client-requests", headers=admin, json={"template": template})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _case(http: httpx.AsyncClient, admin: dict[str, str], name: str, owner_id: int, restricted: bool,
                access: list[int], contact_id: int) -> dict[str, Any]:
    response = await http.post("/cases", headers=admin, json={
        "name": name, "owner_id": owner_id, "restricted": restricted, "access_user_ids": access,
        "participant_ids": [contact_id]})
    assert response.status_code == 201, response.text
    return response.json()


async def _fresh_record(http: httpx.AsyncClient, world: World, variant: str) -> dict[str, Any]:
    """A record like the variant's, for a cell that changes who owns or sees it."""
    original = world.targets[variant].record
    response = await http.post("/records", headers=world.headers["admin"], json={
        "kind": "lead", "title": f"{original['title']} (changed)", "owner_id": original["owner_id"],
        "restricted": original["restricted"], "access_user_ids": original["access_user_ids"]})
    assert response.status_code == 201, response.text
    return response.json()


async def call(http: httpx.AsyncClient, world: World, method: str, path: str, caller: str,
               variant: str, case: str = "") -> tuple[str, str]:
    """Send the cell's request; return its outcome and a description for failures."""
    target, admin = world.targets[variant], world.headers["admin"]
    if case:
        return await call_case(http, world, method, path, caller, variant, case)
    unique = uuid.uuid4().hex[:8]
    params: dict[str, Any] = {}
    body: Any = None
    content: str | None = None
    files: dict[str, Any] | None = None
    values = {"key": world.template_key, "version": 1, "kind": "lead", "name": f"Matrix {world.template_key}",
              "user_id": world.staff_user_id,
              "record_id": target.record["id"], "workflow_id": target.workflow_id,
              "task_id": target.task_id, "message_id": target.message_id, "delivery_id": target.delivery_id,
              "case_id": target.case["id"], "contact_id": target.contact["id"],
              "document_id": target.document_id, "number": 1, "client_request_id": target.client_request_id,
              "provider": "embedded"}
    if path.startswith("/webhook-endpoints/"):
        values["name"] = world.endpoint
    if path == "/api-keys/{key_id}":  # a key of its own to revoke
        created = await http.post("/api-keys", headers=admin, json={"name": f"revoke {unique}", "role": "client"})
        values["key_id"] = created.json()["id"]
    if path.startswith(("/imports/", "/exports/")):
        values["kind"] = "contacts"
    await _cell_of_its_own(http, world, method, path, variant, unique, values, caller)
    url = path.format(**values)
    match (method, path):
        case ("POST", "/templates") | ("POST", "/templates/validate"):
            content = world.template_text
        case ("POST", "/pipelines") | ("POST", "/pipelines/validate"):
            content = world.pipeline_text
        case ("POST", "/client-request-templates") | ("POST", "/client-request-templates/validate"):
            content = world.request_template_text
        case ("POST", "/records/{record_id}/client-requests"):
            body = {"template": world.template_key}
        case ("POST", "/signatures/callback/{provider}"):
            body = {"envelope_id": f"matrix-{unique}", "status": "signed"}
        case ("POST", "/client-requests/{client_request_id}/link"):
            body = {"record_id": target.record["id"]}
        case ("GET", "/client-requests"):
            params = {"contact_email": target.record["email"]}
        case ("POST", "/records/{record_id}/move"):
            body = {"to": f"Moved {unique}"}  # the matrix's records have no type: their status is free
        case ("POST", "/users"):
            body = {"handle": f"new{unique}", "name": "New Matrix", "email": f"new{unique}@agency.example"}
        case ("PATCH", "/users/{user_id}"):
            body = {"phone": "+39 000 0000"}
        case ("POST", "/records"):
            body = {"kind": "lead", "title": f"Linked {unique}", "contact_id": target.contact["id"]}
        case ("PATCH", "/records/{record_id}"):
            body = {"fields": {"matrix": unique}}
        case ("POST", "/processes"):
            body = {"template": world.template_key, "record_id": target.record["id"]}
        case ("POST", "/processes/{workflow_id}/skip"):
            body = {"reason": "matrix"}
        case ("POST", "/processes/{workflow_id}/abort"):
            body = {"reason": "matrix"}
        case ("POST", "/processes/{workflow_id}/complete"):
            body = {}
        case ("POST", "/processes/{workflow_id}/owner"):
            body = {"owner_id": world.owner_id}
        case ("POST", "/processes/{workflow_id}/incident"):
            body = {"action": "retry"}
        case ("POST", "/api-keys"):
            body = {"name": f"matrix {unique}", "role": "client"}
        case ("POST", "/imports/{kind}"):
            content = f"title;email\r\nMatrix import {unique};\r\n"
        case ("POST", "/records/{record_id}/documents") | \
                ("POST", "/records/{record_id}/documents/{document_id}/versions"):
            files = {"file": (f"matrix-{unique}.txt", f"Matrix upload {unique}\n".encode(), "text/plain")}
        case ("POST", "/records/{record_id}/events"):
            body = {"kind": "call", "description": f"Matrix call {unique}"}
        case ("POST", "/tasks"):
            body = {"record_id": target.record["id"], "title": f"By hand {unique}"}
        case ("PATCH", "/tasks/{task_id}"):
            body = {"description": f"changed {unique}"}
        case ("POST", "/cases"):
            body = {"name": f"Matrix case {unique}", "participant_ids": [target.contact["id"]]}
        case ("GET", "/cases"):
            params = {"q": target.case["name"]}
        case ("PATCH", "/cases/{case_id}"):
            body = {"tags": [f"matrix-{unique}"]}
        case ("DELETE", "/cases/{case_id}"):
            params = {"confirm": "true"}
        case ("POST", "/cases/{case_id}/participants"):
            body = {"contact_id": target.contact["id"]}
        case ("POST", "/cases/{case_id}/close"):
            body = {"running_processes": "keep"}
        case ("POST", "/tags") | ("PATCH", "/tags/{tag_id}"):
            body = {"name": f"matrix-{unique}"}
        case ("POST", "/tags/{tag_id}/merge"):
            body = {"into_tag_id": values["into_tag_id"]}
        case ("GET", "/records"):
            params = {"q": target.record["title"]}
        case ("GET", "/processes"):
            params = {"record_id": target.record["id"]}
        case ("GET", "/tasks"):
            params = {"assignee_id": world.owner_id, "workflow_id": target.workflow_id, "status": "open"}
        case ("GET", "/outbox") | ("GET", "/deliveries"):
            params = {"record_id": target.record["id"]}
    headers = dict(world.headers[caller])
    if content is not None:
        headers["Content-Type"] = "text/csv" if path.startswith("/imports") else "application/yaml"
    response = await http.request(method, url, headers=headers, params=params, json=body, content=content,
                                  files=files)
    described = f"{method} {url} as {caller} on the {variant} record: {response.status_code} {response.text[:300]}"
    if response.status_code in (401, 403, 404):
        return str(response.status_code), described
    if path == "/exports/{kind}" and response.status_code == 200:
        ids = {line.split(";", 1)[0] for line in response.text.splitlines()}
        return ("present" if str(target.contact["id"]) in ids else "absent"), described
    if RULES[(method, path)][1] == "list" and response.status_code == 200:
        items = response.json()
        items = items["items"] if isinstance(items, dict) else items
        mine = {"/records": "id", "/processes": "workflow_id", "/tasks": "id", "/outbox": "id", "/deliveries": "id",
                "/cases": "id", "/client-requests": "id"}[path]
        wanted = {"/records": target.record["id"], "/processes": target.workflow_id, "/tasks": target.task_id,
                  "/outbox": target.message_id, "/deliveries": target.delivery_id, "/cases": target.case["id"],
                  "/client-requests": target.client_request_id}[path]
        return ("present" if any(item[mine] == wanted for item in items) else "absent"), described
    if response.is_success or response.status_code == 409:  # 409: served, but the process had moved on
        return "through", described
    return str(response.status_code), described


async def _import_of(http: httpx.AsyncClient, headers: dict[str, str]) -> int:
    """A finished import with a rejected row, sent with `headers`."""
    response = await http.post("/imports/contacts", headers={**headers, "Content-Type": "text/csv"},
                               params={"mode": "valid_rows"}, content=b"title;email\r\nMatrix import;bad\r\n")
    assert response.status_code == 202, response.text
    job_id: int = response.json()["id"]

    async def finished() -> bool:
        return (await http.get(f"/imports/{job_id}", headers=headers)).json()["status"] == "done"

    await eventually(finished)
    return job_id


async def _cell_of_its_own(http: httpx.AsyncClient, world: World, method: str, path: str, variant: str,
                           unique: str, values: dict[str, Any], caller: str) -> None:
    """What a cell that removes something removes: made for it, like the variant's (a case, a participant, tags)."""
    admin, target = world.headers["admin"], world.targets[variant]
    if (method, path) == ("DELETE", "/cases/{case_id}"):
        case = target.case
        fresh = await _case(http, admin, f"{case['name']} ({unique})", world.owner_id, case["restricted"],
                            case["access_user_ids"], target.contact["id"])
        values["case_id"] = fresh["id"]
    elif (method, path) == ("DELETE", "/cases/{case_id}/participants/{contact_id}"):
        response = await http.post(f"/cases/{values['case_id']}/participants", headers=admin,
                                   json={"contact_id": values["contact_id"]})
        assert response.status_code == 200, response.text
    elif (method, path) == ("DELETE", "/records/{record_id}/documents/{document_id}"):
        values["document_id"] = await _document(http, admin, target.record["id"])
    elif (method, path) in (("PATCH", "/tasks/{task_id}"), ("DELETE", "/tasks/{task_id}")):
        response = await http.post("/tasks", headers=admin, json={
            "record_id": target.record["id"], "title": f"By hand {unique}", "assignee_id": world.owner_id})
        assert response.status_code == 201, response.text
        values["task_id"] = response.json()["id"]
    elif path.startswith("/imports/{job_id}"):  # an import of the caller's own (an admin's for lesser callers)
        values["job_id"] = await _import_of(http, world.headers[caller if RANK.get(caller, 0) >= 2 else "admin"])
    elif path.startswith("/tags/{tag_id}"):
        for name in ("tag_id", "into_tag_id"):
            response = await http.post("/tags", headers=admin, json={"name": f"matrix-{name}-{unique}"})
            assert response.status_code == 201, response.text
            values[name] = response.json()["id"]


async def call_case(http: httpx.AsyncClient, world: World, method: str, path: str, caller: str,
                    variant: str, case: str) -> tuple[str, str]:
    target, headers = world.targets[variant], world.headers[caller]
    params: dict[str, Any] = {}
    body: Any = None
    wanted: Any = None
    match (method, path, case):
        case (_, "/outbox", _):
            url, params, wanted = "/outbox", {"workflow_id": target.workflow_id}, target.notice_id
        case (_, "/outbox/{message_id}", "a loop guard's notice"):
            url = f"/outbox/{target.notice_id}"
        case (_, "/outbox/{message_id}", _):
            url = f"/outbox/{world.orphan_id}"
        case (_, "/processes", "a guessed request_id") if method == "GET":
            url, params, wanted = "/processes", {"request_id": target.request_id,
                                                 "record_id": target.record["id"]}, target.workflow_id
        case (_, "/processes", _):
            # a record every caller sees, and the request_id the admin started the variant's process with
            url, body = "/processes", {"template": world.template_key, "request_id": target.request_id,
                                       "record_id": world.targets["ordinary"].record["id"]}
        case _:
            record = await _fresh_record(http, world, variant)
            url = f"/records/{record['id']}"
            body = {"owner_id": {"owner_id": world.other_user_id},
                    "access_user_ids": {"access_user_ids": [world.other_user_id]},
                    "restricted": {"restricted": not record["restricted"]}}[case]
    response = await http.request(method, url, headers=headers, params=params, json=body)
    described = (f"{method} {url} {params or ''}{body or ''} ({case}) as {caller} on the {variant} record: "
                 f"{response.status_code} {response.text[:300]}")
    if response.status_code in (401, 403, 404, 422):
        return str(response.status_code), described
    if response.status_code == 200 and wanted is not None:
        items = response.json()
        items = items["items"] if isinstance(items, dict) else items
        key = "workflow_id" if path == "/processes" else "id"
        return ("present" if any(item[key] == wanted for item in items) else "absent"), described
    if method == "POST" and path == "/processes" and response.is_success:
        return ("the admin's run" if response.json()["workflow_id"] == target.workflow_id
                else "a run of its own"), described
    return ("through" if response.is_success else str(response.status_code)), described


async def test_every_route_for_every_caller_and_record(stack: Stack, sessions: Any, figures: Figures) -> None:
    """Access matrix: every route, and the ways around it, × six kinds of caller × ordinary and restricted records"""
    operations = {(method.upper(), path) for path, ops in (await stack.http.get("/openapi.json")).json()["paths"].items()
                  for method in ops}
    assert operations == set(RULES), f"routes without an access rule: {operations - set(RULES)}"
    world = await build_world(stack, sessions)

    outcomes: Counter[str] = Counter()
    wrong: list[str] = []
    # the process-ending routes last, so the others meet running processes
    ordered = sorted([(method, path, "") for method, path in RULES] + list(CASES),
                     key=lambda op: (op[1].endswith(("/abort", "/skip", "/complete")), op))
    for method, path, case in ordered:
        for caller in CALLERS:
            for variant in VARIANTS:
                want = expected(method, path, caller, variant, case)
                got, described = await call(stack.http, world, method, path, caller, variant, case)
                outcomes["cells"] += 1
                if got == want:
                    continue
                allowed = got in ("through", "present", "the admin's run", "a run of its own")
                outcomes["unexpected allows" if allowed else "unexpected refusals"] += 1
                wrong.append(f"expected {want}, got {described}")

    figures["routes"] = len(RULES)
    figures["more ways to call them"] = len(CASES)
    figures["callers"] = ", ".join(CALLERS)
    figures["record kinds"] = ", ".join(VARIANTS)
    figures["cells checked"] = outcomes["cells"]
    figures["unexpected allows"] = outcomes["unexpected allows"]
    figures["unexpected refusals"] = outcomes["unexpected refusals"]
    assert not wrong, "\n".join(wrong)
