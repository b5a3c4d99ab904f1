"""Client requests end to end on the dev server: a status's on-enter automation sends a request, a real SMTP server
catches its link, an HTTP client fills the form (with a file) and the record is found in its next status, one
history line per step; two submissions at once move it once; a submission while the worker is stopped moves it
when the worker is back; a manual move while a request is pending asks what to do with it."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest

from api.app import create_app
from renderer.pool import shared_pool
from tests.documents.files import pdf
from tests.e2e.conftest import Stack
from tests.polling import eventually
from tests.serving import free_port, serving
from tests.workflows.helpers import running_worker

pytestmark = pytest.mark.e2e


def pipeline_yaml(tag: str, request_key: str) -> str:
    return f"""
key: tax-{tag}
name: Tax jobs {tag}
record_kind: job
controller_email: controller@studio.example
statuses:
  - name: New
  - name: Missing information
    automations:
      - on: enter
        actions:
          - send_client_request: {{template: {request_key}, reminders: {{every_days: 3, count: 2}}}}
  - name: Review
  - name: Done
types: [{{name: Tax return {tag}}}]
"""


REQUEST = """
key: {key}
language: it
title: Documenti {tag}
message: Ci servono questi documenti.
questions:
  - {{key: iban, type: text, label: IBAN, required: true}}
  - {{key: cu, type: file, label: Certificazione Unica, required: true, accept: [application/pdf]}}
"""


async def setup(stack: Stack) -> tuple[str, dict[str, str], dict[str, str]]:
    tag = uuid.uuid4().hex[:8]
    admin = stack.as_("admin")
    yaml = {**admin, "Content-Type": "application/yaml"}
    saved = await stack.http.post("/client-request-templates", headers=yaml,
                                  content=REQUEST.format(key=f"docs-{tag}", tag=tag))
    assert saved.status_code == 201, saved.text
    saved = await stack.http.post("/pipelines", headers=yaml, content=pipeline_yaml(tag, f"docs-{tag}"))
    assert saved.status_code == 201, saved.text
    owner = (await stack.http.post("/users", headers=admin, json={
        "handle": f"o{tag}", "name": "Owner", "email": f"o{tag}@studio.example"})).json()
    return tag, admin, owner


async def job_waiting_for_answers(stack: Stack, http: httpx.AsyncClient | None = None) -> tuple[dict[str, Any], str]:
    """A job moved into 'Missing information': its on-enter automation emails the client a link; the token."""
    http = http or stack.http
    tag, admin, owner = await setup(stack)
    client = f"c{tag}@example.org"
    record = (await http.post("/records", headers=stack.as_("staff"), json={
        "kind": "job", "type": f"Tax return {tag}", "title": f"730 {tag}", "email": client,
        "owner_id": owner["id"]})).json()
    moved = await http.post(f"/records/{record['id']}/move", headers=stack.as_("staff"),
                            json={"to": "Missing information"})
    assert moved.status_code == 200, moved.text
    [mail] = await eventually(lambda: _mail(stack, client), what="the email with the link")
    found = re.search(r"/r/([A-Za-z0-9_-]{40,})", mail.get_content())
    assert found, mail.get_content()
    return record, found.group(1)


async def _mail(stack: Stack, address: str) -> list[Any]:
    return stack.mail.to(address)


async def answer(http: httpx.AsyncClient, token: str) -> httpx.Response:
    page = await http.get(f"/r/{token}")
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert csrf, page.text
    return await http.post(f"/r/{token}", data={"csrf_token": csrf.group(1), "q.iban": "IT60X0542811101000000123456"},
                           files={"q.cu": ("cu.pdf", pdf(), "application/pdf")})


async def history(stack: Stack, record_id: int) -> list[dict[str, Any]]:
    return (await stack.http.get(f"/records/{record_id}/history", headers=stack.as_("staff"))).json()


async def in_status(stack: Stack, record_id: int, status: str) -> bool:
    record = (await stack.http.get(f"/records/{record_id}", headers=stack.as_("staff"))).json()
    return record["status"] == status


async def test_the_answers_move_the_job_to_its_next_status(stack: Stack) -> None:
    """A status's automation sends a client request; the client's answers (with a file) move the job on"""
    record, token = await job_waiting_for_answers(stack)
    answered = await answer(stack.http, token)
    assert answered.status_code == 200, answered.text
    assert await eventually(lambda: in_status(stack, record["id"], "Review"), what="the job in Review")
    lines = await history(stack, record["id"])
    steps = [(line["kind"], line["actor"]) for line in lines if line["kind"] in (
        "status_changed", "client_request_sent", "client_request_submitted", "document_added")]
    assert [kind for kind, _ in steps] == ["status_changed", "client_request_sent", "document_added",
                                          "client_request_submitted", "status_changed"]
    assert re.fullmatch(r"client request #\d+", steps[-1][1])
    [moved_on] = [line for line in lines if line["kind"] == "status_changed" and line["actor"] == steps[-1][1]]
    assert moved_on["text"].startswith("Status changed from 'Missing information' to 'Review' by client request #")
    again = await stack.http.get(f"/r/{token}")
    assert again.status_code == 200 and "<form" not in again.text  # submitted: no form any more


async def test_two_submissions_at_once_move_the_job_once(stack: Stack) -> None:
    record, token = await job_waiting_for_answers(stack)
    page = await stack.http.get(f"/r/{token}")
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert csrf

    async def post() -> int:
        response = await stack.http.post(f"/r/{token}", data={"csrf_token": csrf.group(1), "q.iban": "IT60X"},
                                         files={"q.cu": ("cu.pdf", pdf(), "application/pdf")})
        return response.status_code
    codes = sorted(await asyncio.gather(post(), post()))
    assert codes == [200, 409]
    assert await eventually(lambda: in_status(stack, record["id"], "Review"), what="the job in Review")
    lines = await history(stack, record["id"])
    assert [line["kind"] for line in lines].count("status_changed") == 2  # moved in by staff, on by the client
    assert [line["kind"] for line in lines].count("client_request_submitted") == 1


async def test_a_manual_move_while_a_request_is_pending_asks_what_to_do(stack: Stack) -> None:
    record, token = await job_waiting_for_answers(stack)
    staff = stack.as_("staff")
    refused = await stack.http.post(f"/records/{record['id']}/move", headers=staff, json={"to": "Review"})
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"] == "ClientRequestsPending"
    assert "cancel_request, keep_open, keep_and_auto_move" in problem["detail"]
    assert problem["errors"][0]["path"] == "pending_requests[0]"
    assert await in_status(stack, record["id"], "Missing information")  # nothing changed
    kept = await stack.http.post(f"/records/{record['id']}/move", headers=staff,
                                 json={"to": "Review", "pending_requests": "keep_and_auto_move"})
    assert kept.status_code == 200, kept.text
    assert (await answer(stack.http, token)).status_code == 200
    assert await eventually(lambda: in_status(stack, record["id"], "Done"), what="moved on from Review")
    lines = await history(stack, record["id"])
    assert any("will move the record on from 'Review'" in line["text"] for line in lines)


async def test_answers_while_the_worker_is_stopped_move_the_job_when_it_is_back(
        dev_env: Any, sessions: Any, smtp: Any, task_queue: str, database_url: str, tmp_path: Any) -> None:
    """The worker stops after the link is sent; the client answers; the job moves once the worker is back"""
    from tests.e2e.conftest import MailCatcher  # the session's catcher, as in `stack`
    from api.auth import create_key
    from crm.models import ApiRole
    from settings import Settings

    catcher, smtp_port = smtp
    port = free_port()
    mail = {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_from": "processes@agency.example"}
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, api_port=port, data_dir=tmp_path,
                        **mail)
    keys = {}
    async with sessions() as session:
        for role in ApiRole:
            _, keys[role.value] = await create_key(session, f"e2e {role.value}", role)
    async with serving(create_app(settings, temporal=dev_env.client, renderer=shared_pool()), port), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        stack = Stack(http=http, keys=keys, mail=catcher, settings=settings)
        assert isinstance(catcher, MailCatcher)
        async with running_worker(dev_env.client, sessions, task_queue, **mail):
            record, token = await job_waiting_for_answers(stack)
        assert (await answer(http, token)).status_code == 200  # no worker now: nobody can move it
        assert await in_status(stack, record["id"], "Missing information")
        async with running_worker(dev_env.client, sessions, task_queue, **mail):
            assert await eventually(lambda: in_status(stack, record["id"], "Review"), what="the job in Review")
        lines = await history(stack, record["id"])
        assert [line["kind"] for line in lines].count("status_changed") == 2
