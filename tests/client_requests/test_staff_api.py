"""The staff API of client requests on both databases: templates over HTTP, sending, listing, reading the
answers and files, cancelling, resending (the old link dies) and linking, with restricted records."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlmodel import select

from api.auth import create_key
from crm import pipeline_store
from crm.client_requests.models import AutoMove, ClientRequest
from crm.models import ApiRole, OutboxMessage
from processes.pipeline import Pipeline
from tests.client_requests.conftest import Env, csrf_of
from tests.client_requests.test_form import GOOD
from tests.documents.files import pdf

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "it" / "client-requests" / "documenti-dichiarazione-redditi.yaml"
PROBLEM = "application/problem+json"


async def test_templates_are_saved_as_versions_and_refused_with_paths(env: Env) -> None:
    admin = {**env.as_("admin"), "Content-Type": "application/yaml"}
    key = f"tax-{uuid.uuid4().hex[:8]}"
    text = (EXAMPLE.read_text().replace("key: documenti-dichiarazione-redditi", f"key: {key}")
            .replace("max_bytes: 10000000", "max_bytes: 40000"))  # this API's limit is 50 KB
    saved = await env.http.post("/client-request-templates", headers=admin, content=text)
    assert saved.status_code == 201, saved.text
    assert saved.headers["location"] == f"/client-request-templates/{key}/versions/1"
    assert (await env.http.post("/client-request-templates", headers=admin, content=text)).status_code == 200
    changed = text.replace("title: Documenti per", "title: Documenti (2026) per")
    assert (await env.http.post("/client-request-templates", headers=admin, content=changed)).json()["version"] == 2
    staff = env.as_("staff")
    assert (await env.http.get(f"/client-request-templates/{key}", headers=staff)).json()["version"] == 2
    first = await env.http.get(f"/client-request-templates/{key}/versions/1", headers=staff)
    assert first.json()["title"] == "Documenti per la dichiarazione dei redditi"
    versions = await env.http.get(f"/client-request-templates/{key}/versions", headers=staff)
    assert [v["version"] for v in versions.json()] == [1, 2]
    listed = await env.http.get("/client-request-templates", headers=staff, params={"limit": 500})
    assert [t["versions"] for t in listed.json() if t["key"] == key] == [2]
    refused = await env.http.post("/client-request-templates", headers={**admin, "X-API-Key": env.keys["staff"]},
                                  content=text)
    assert refused.status_code == 403
    bad = text.replace("type: yes_no", "type: maybe")
    invalid = await env.http.post("/client-request-templates/validate", headers={**staff, "Content-Type":
                                                                                 "application/yaml"}, content=bad)
    assert invalid.status_code == 422 and invalid.headers["content-type"] == PROBLEM
    problem = invalid.json()
    assert problem["type"] == "RequestTemplateInvalid"
    assert [e["path"] for e in problem["errors"]] == ["questions[4].type"]
    too_large = text.replace("max_bytes: 40000", "max_bytes: 60000")
    invalid = await env.http.post("/client-request-templates", headers=admin, content=too_large)
    assert [e["path"] for e in invalid.json()["errors"]] == ["questions[0].max_bytes"]
    missing = await env.http.get("/client-request-templates/nope-x", headers=staff)
    assert missing.status_code == 404 and missing.json()["type"] == "RequestTemplateNotFound"
    yaml_headers = {**staff, "Content-Type": "application/yaml"}
    # no language: the office's (LOCALE, en here), where it was Italian whatever the office's
    plain = "key: t1\ntitle: Documents\nquestions: [{key: d, type: number, label: Dependants}]\n"
    checked = await env.http.post("/client-request-templates/validate", headers=yaml_headers, content=plain)
    assert checked.status_code == 200 and checked.json()["template"]["language"] == "en", checked.text
    blank = await env.http.post("/client-request-templates/validate", headers=yaml_headers,
                                content=plain.replace("label: Dependants", "label: '   '"))
    assert blank.status_code == 422 and [e["path"] for e in blank.json()["errors"]] == ["questions[0].label"]


async def test_staff_send_a_request_whose_link_is_emailed_and_read_the_answers(env: Env) -> None:
    record_id = await env.record()
    key = await env.template()
    sent = await env.http.post(f"/records/{record_id}/client-requests", headers=env.as_("staff"),
                               json={"template": key, "expires_days": 3})
    assert sent.status_code == 201, sent.text
    body = sent.json()
    link, request_id = body["link"], body["id"]
    assert link.startswith("http://stagecoach/r/") and body["status"] == "pending"
    async with env.sessions() as session:
        email = (await session.exec(select(OutboxMessage).where(
            OutboxMessage.step_key == body["outbox_step_key"]))).one()
    assert email.to_address == "cliente@example.org" and link in email.body and email.subject == "Documenti 730"
    assert "valido fino al" in email.body
    token = link.rsplit("/", 1)[1]
    csrf = csrf_of((await env.http.get(f"/r/{token}")).text)
    answered = await env.http.post(f"/r/{token}", data={"csrf_token": csrf, **GOOD},
                                   files={"q.cu": ("cu.pdf", pdf(), "application/pdf")})
    assert answered.status_code == 200, answered.text
    shown = (await env.http.get(f"/client-requests/{request_id}", headers=env.as_("staff"))).json()
    assert shown["status"] == "submitted" and shown["answers"]["dependants"] == 2
    [file] = shown["files"]
    assert file["question"] == "cu" and file["name"] == "cu.pdf"
    download = await env.http.get(file["download_url"], headers=env.as_("staff"))
    assert download.status_code == 200 and download.content.startswith(b"%PDF-")
    listed = await env.http.get(f"/records/{record_id}/client-requests", headers=env.as_("staff"),
                                params={"status": "submitted"})
    assert [r["id"] for r in listed.json()] == [request_id]
    assert (await env.http.get(f"/records/{record_id}/client-requests", headers=env.as_("staff"),
                               params={"status": "pending"})).json() == []
    history = (await env.http.get(f"/records/{record_id}/history", headers=env.as_("staff"))).json()
    kinds = [line["kind"] for line in (history["items"] if isinstance(history, dict) else history)]
    assert "client_request_sent" in kinds and "client_request_submitted" in kinds and "document_added" in kinds
    closed = await env.http.post(f"/client-requests/{request_id}/cancel", headers=env.as_("staff"))
    assert closed.status_code == 409 and closed.json()["type"] == "ClientRequestClosed"


async def test_no_address_no_request(env: Env) -> None:
    record_id = await env.record(email=None)
    refused = await env.http.post(f"/records/{record_id}/client-requests", headers=env.as_("staff"),
                                  json={"template": await env.template()})
    assert refused.status_code == 422 and refused.json()["type"] == "RecipientMissing"
    assert (await env.http.get(f"/records/{record_id}/client-requests", headers=env.as_("staff"))).json() == []
    unknown = await env.http.post(f"/records/{record_id}/client-requests", headers=env.as_("staff"),
                                  json={"template": "no-such-template"})
    assert unknown.status_code == 422 and unknown.json()["type"] == "ReferenceNotFound"
    assert [error["path"] for error in unknown.json()["errors"]] == ["body.template"]


async def test_cancel_and_resend(env: Env) -> None:
    record_id = await env.record()
    request, token = await env.request(record_id)
    resent = await env.http.post(f"/client-requests/{request.id}/resend", headers=env.as_("staff"),
                                 json={"expires_days": 2})
    assert resent.status_code == 200, resent.text
    new_token = resent.json()["link"].rsplit("/", 1)[1]
    assert new_token != token
    old_link = await env.http.get(f"/r/{token}")
    assert old_link.status_code == 410 and "sostituito" in old_link.text  # not a form any more
    assert (await env.http.get(f"/r/{new_token}")).status_code == 200
    cancelled = await env.http.post(f"/client-requests/{request.id}/cancel", headers=env.as_("staff"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["closed_by"].endswith("bad input staff")
    assert (await env.http.get(f"/r/{new_token}")).status_code == 410
    again = await env.http.post(f"/client-requests/{request.id}/resend", headers=env.as_("staff"))
    assert again.status_code == 409


async def _staff_of_their_own(env: Env) -> tuple[dict[str, str], int]:
    """A staff key acting as a user of its own."""
    handle = f"u{uuid.uuid4().hex[:8]}"
    user = await env.http.post("/users", headers=env.as_("admin"), json={
        "handle": handle, "name": "Staff Linker", "email": f"{handle}@agency.example"})
    assert user.status_code == 201, user.text
    async with env.sessions() as session:
        _, key = await create_key(session, f"linker {handle}", ApiRole.staff, user_id=user.json()["id"])
    return {"X-API-Key": key}, int(user.json()["id"])


async def test_linking_needs_a_caller_who_sees_the_record(env: Env) -> None:
    """An unlinked, submitted request is linked to a job: its files become the job's documents; a restricted
    job the caller does not see is 404 to them, and so is the request once linked to it"""
    staff, user_id = await _staff_of_their_own(env)
    hidden = await env.record(restricted=True)
    visible = await env.record(restricted=True, access_user_ids=[user_id])
    request, token = await env.request(None)
    csrf = csrf_of((await env.http.get(f"/r/{token}")).text)
    assert (await env.http.post(f"/r/{token}", data={"csrf_token": csrf, **GOOD},
                                files={"q.cu": ("cu.pdf", pdf(), "application/pdf")})).status_code == 200
    unlinked = await env.http.get("/client-requests", headers=staff, params={"unlinked": True, "limit": 500})
    assert request.id in [r["id"] for r in unlinked.json()]
    refused = await env.http.post(f"/client-requests/{request.id}/link", headers=staff, json={"record_id": hidden})
    assert refused.status_code == 422 and refused.json()["type"] == "ReferenceNotFound"  # as if missing
    assert refused.json()["errors"] == [{"path": "body.record_id", "message": f"no record {hidden}"}]
    linked = await env.http.post(f"/client-requests/{request.id}/link", headers=staff, json={"record_id": visible})
    assert linked.status_code == 200, linked.text
    [file] = linked.json()["files"]
    assert file["download_url"] == f"/records/{visible}/documents/{file['document_id']}"
    documents = (await env.http.get(f"/records/{visible}/documents", headers=staff)).json()
    assert [d["name"] for d in documents] == ["cu.pdf"]
    other, _ = await _staff_of_their_own(env)
    assert (await env.http.get(f"/client-requests/{request.id}", headers=other)).status_code == 404
    everything: list[dict[str, Any]] = (await env.http.get("/client-requests", headers=other,
                                                           params={"limit": 500})).json()
    assert request.id not in [r["id"] for r in everything]
    by_email = await env.http.get("/client-requests", headers=env.as_("admin"),
                                  params={"contact_email": "CLIENTE@example.org", "limit": 500})
    assert request.id in [r["id"] for r in by_email.json()]
    again = await env.http.post(f"/client-requests/{request.id}/link", headers=env.as_("admin"),
                                json={"record_id": hidden})
    assert again.status_code == 409


async def test_a_request_linked_by_hand_moves_the_job_on_as_an_automation_s_does(env: Env) -> None:
    """Linked to a job its pipeline governs, a pending request waits in the job's status with auto-move on (unless
    the caller says otherwise); linked to a record no pipeline governs, it moves nothing"""
    tag = uuid.uuid4().hex[:8]
    async with env.sessions() as session:
        await pipeline_store.save(session, Pipeline.model_validate({
            "key": f"tax-{tag}", "name": "Tax", "record_kind": "job",
            "statuses": [{"name": "New"}, {"name": "Missing information"}, {"name": "Review"}],
            "types": [{"name": f"Tax {tag}"}]}), "test")
    rows = []
    for record_values, body in (({"type": f"Tax {tag}", "status": "Missing information"}, {}),
                                ({"type": f"Tax {tag}", "status": "Missing information"}, {"auto_move": False}),
                                ({}, {})):
        record_id = await env.record(**record_values)
        request, _ = await env.request(None)
        linked = await env.http.post(f"/client-requests/{request.id}/link", headers=env.as_("admin"),
                                     json={"record_id": record_id, **body})
        assert linked.status_code == 200, linked.text
        async with env.sessions() as session:
            row = await session.get(ClientRequest, request.id)
            assert row is not None
            rows.append((row.auto_move, row.waiting_status))
    assert rows == [(AutoMove.on, "Missing information"), (AutoMove.off, None), (AutoMove.off, None)]
