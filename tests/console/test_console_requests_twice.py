"""A client request's send and resend forms sent twice or three times at once (a double click, a reload of the
post): the client gets one request and one email per form shown, and every submission is answered as the first."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from crm.client_requests.models import ClientRequest
from crm.models import HistoryEntry, HistoryKind
from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.e2e.conftest import Stack
from tests.e2e.test_client_requests_over_http import setup
from tests.polling import eventually

pytestmark = pytest.mark.e2e


def _form(page: httpx.Response, action: str) -> dict[str, str]:
    """The hidden fields of the page's form posting to `action`."""
    found = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page.text, re.S)
    assert found, page.text
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', found.group(0)))


async def _sent(sessions: Any, record_id: int) -> list[str]:
    async with sessions() as session:
        rows = await session.exec(select(HistoryEntry.text).where(
            HistoryEntry.record_id == record_id, HistoryEntry.kind == HistoryKind.client_request_sent))
        return list(rows.all())


async def test_a_request_form_sent_three_times_sends_once(stack: Stack, sessions: Any) -> None:
    """Send three times at once: one request, one email; resend three times at once: one new email"""
    tag, admin, owner = await setup(stack)
    client = f"c{tag}@example.org"
    job = (await stack.http.post("/records", headers=admin, json={
        "kind": "job", "title": f"730 {tag}", "email": client, "owner_id": owner["id"]})).json()
    staff = await staff_user(sessions, "Sara Galli")
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        page = await browser.get(f"/console/records/{job['id']}")
        send = f"/console/records/{job['id']}/client-requests"
        fields = {**_form(page, send), "template": f"docs-{tag}", "expires_days": "7"}
        assert fields["idempotency_key"] and fields["csrf_token"] == csrf_token(page)
        answers = await asyncio.gather(*(browser.post(send, data=fields) for _ in range(3)))
        assert [a.status_code for a in answers] == [303] * 3, [a.text for a in answers]
        assert {a.headers["location"] for a in answers} == {f"/console/records/{job['id']}?done=send#requests-h"}
        async with sessions() as session:
            [request_id] = (await session.exec(select(ClientRequest.id).where(
                col(ClientRequest.record_id) == job["id"]))).all()
        assert len(await _sent(sessions, job["id"])) == 1

        page = await browser.get(f"/console/records/{job['id']}")
        resend = f"/console/client-requests/{request_id}/resend"
        fields = _form(page, resend)
        answers = await asyncio.gather(*(browser.post(resend, data=fields) for _ in range(3)))
        assert [a.status_code for a in answers] == [303] * 3, [a.text for a in answers]
        assert len(await _sent(sessions, job["id"])) == 2  # the send and one resend
        await eventually(lambda: _mails(stack, client, 2), what="the request's two emails")

        # a key sent again with another request is refused, and nothing is sent
        other = await browser.post(send, data={**_form(page, send), "idempotency_key": fields["idempotency_key"],
                                               "template": f"docs-{tag}"})
        assert other.status_code == 422 and "this form was sent already, with other values" in other.text
        again = await browser.post(send, data={**_form(page, send), "template": f"docs-{tag}"})  # a new form
        assert again.status_code == 303 and len(await _sent(sessions, job["id"])) == 3
    await eventually(lambda: _mails(stack, client, 3), what="the third email")
    await asyncio.sleep(1)  # and no other comes
    assert len(stack.mail.to(client)) == 3


async def _mails(stack: Stack, address: str, count: int) -> bool:
    return len(stack.mail.to(address)) >= count


async def test_a_task_form_or_its_close_button_sent_three_times_does_it_once(stack: Stack, sessions: Any) -> None:
    """The new task form sent three times at once (a double click, a reload) made three tasks; its Close button
    sent three times wrote a "Task completed" line each"""
    tag, admin, owner = await setup(stack)
    job = (await stack.http.post("/records", headers=admin, json={
        "kind": "job", "title": f"Tasks {tag}", "owner_id": owner["id"]})).json()
    staff = await staff_user(sessions, "Pia Rota")
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        page = await browser.get("/console/tasks")
        fields = {**_form(page, "/console/tasks"), "record_id": str(job["id"]), "title": f"Richiamare {tag}"}
        assert fields["idempotency_key"]
        made = await asyncio.gather(*(browser.post("/console/tasks", data=fields) for _ in range(3)))
        assert [a.status_code for a in made] == [303] * 3, [a.text for a in made]
        [task] = (await stack.http.get("/tasks", headers=admin, params={"record_id": job["id"]})).json()

        page = await browser.get("/console/tasks")
        close = f"/console/tasks/{task['id']}/complete"
        closed = await asyncio.gather(*(browser.post(close, data=_form(page, close)) for _ in range(3)))
        assert [a.status_code for a in closed] == [303] * 3, [a.text for a in closed]
    async with sessions() as session:
        lines = (await session.exec(select(HistoryEntry).where(
            HistoryEntry.record_id == job["id"], HistoryEntry.kind == HistoryKind.task_completed))).all()
    assert len(lines) == 1
    # without a key (two people at once, an old page): one completes it, the others are told it is done
    second = (await stack.http.post("/tasks", headers=admin, json={"record_id": job["id"], "title": "Di nuovo"})).json()
    raced = await asyncio.gather(*(stack.http.post(f"/tasks/{second['id']}/complete", headers=admin)
                                   for _ in range(4)))
    assert sorted(r.status_code for r in raced) == [200, 409, 409, 409], [r.text for r in raced]
