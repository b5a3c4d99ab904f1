"""Client requests in the console, in Chromium: staff open a job, resend one of its requests and cancel another
(confirmed, by keyboard); on the requests page they find a client's answered request that no record has yet, try to link it
to a record they may not see (the same message as a missing one) and then to the job, whose page then offers
the client's file; they read a request template as a list of questions. Every page passes axe-core (a screenshot
for docs/ when STAGECOACH_SCREENSHOTS names a folder)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect
from sqlmodel import select

from crm.client_requests import store
from crm.client_requests.models import ClientRequest, RequestStatus
from crm.models import HistoryEntry, HistoryKind
from tests.console.conftest import sign_in, staff_user
from tests.console.test_console_pages import _accessible
from tests.e2e.conftest import Stack
from tests.e2e.test_client_requests_over_http import answer, setup

pytestmark = pytest.mark.e2e


async def _unlinked_answered(stack: Stack, sessions: Any, template: str, client: str) -> int:
    """A request to `client` linked to no record, answered (with a file) through its form."""
    async with sessions() as session:
        request, token = await store.open_request(session, template_key=template, record_id=None, actor="test",
                                                  contact_email=client)
        await session.commit()
        assert request.id is not None
        request_id = request.id
    sent = await answer(stack.http, token)
    assert sent.status_code == 200, sent.text
    return request_id


async def _request(sessions: Any, request_id: int) -> ClientRequest:
    async with sessions() as session:
        found = await session.get(ClientRequest, request_id)
        assert found is not None
        return found


async def test_staff_work_client_requests_in_the_console(stack: Stack, sessions: Any, page: Page) -> None:
    """Resend one request, cancel another, link a client's unlinked answered request, read a request template"""
    tag, admin, owner = await setup(stack)
    template, client = f"docs-{tag}", f"c{tag}@example.org"
    staff = await staff_user(sessions, "Giulia Ferri")
    job = (await stack.http.post("/records", headers=admin, json={
        "kind": "job", "type": f"Tax return {tag}", "title": f"730 {tag}", "email": client,
        "owner_id": owner["id"]})).json()
    hidden = (await stack.http.post("/records", headers=admin, json={
        "kind": "job", "title": f"Hidden {tag}", "owner_id": owner["id"], "restricted": True})).json()
    sent = []
    for _ in range(2):
        made = await stack.http.post(f"/records/{job['id']}/client-requests", headers=admin,
                                     json={"template": template})
        assert made.status_code == 201, made.text
        sent.append(made.json()["id"])
    resent, cancelled = sent
    before = (await _request(sessions, resent)).token_hash
    unlinked = await _unlinked_answered(stack, sessions, template, client)
    base = str(stack.http.base_url).rstrip("/")
    await sign_in(page, base, staff)

    # the job: resend one request, cancel the other (confirmed)
    await page.goto(f"{base}/console/records/{job['id']}")
    await expect(page.locator("#client-requests > li")).to_have_count(2)
    await expect(page.locator("#unlinked-requests")).to_contain_text(f"#{unlinked}")
    await page.evaluate("document.getElementById('requests-h').scrollIntoView()")
    await _accessible(page, "record-requests")
    await page.get_by_role("button", name=f"Resend request #{resent}").click()
    await expect(page.get_by_role("status")).to_have_text("The request was sent again.")
    assert (await _request(sessions, resent)).token_hash != before
    card = page.locator(f"#request-{cancelled}")
    await card.get_by_label(f"Yes, cancel request #{cancelled}: its link stops working").focus()  # by keyboard
    await page.keyboard.press("Space")
    await page.keyboard.press("Tab")
    await expect(card.get_by_role("button", name="Cancel the request")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator(f"#request-{cancelled} .badge")).to_have_text("cancelled")
    assert (await _request(sessions, cancelled)).status is RequestStatus.cancelled
    await expect(page.locator(f"#request-{resent} .badge")).to_have_text("pending")

    # the client's requests not linked yet: a hidden record is "no record" as a missing one; then the job
    await page.get_by_role("link", name="Client requests", exact=True).click()
    await page.get_by_label("Client's email").fill(client)
    await page.get_by_label("Only those not linked to a record").check()
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#client-requests tbody tr")).to_have_count(1)
    await _accessible(page, "client-requests")
    field = page.get_by_label(f"Link request #{unlinked} to record number")
    for refused in (hidden["id"], 2**31 - 1):
        await field.fill(str(refused))
        await field.press("Enter")
        await expect(page.locator(f"#request-error-{unlinked}")).to_have_text(f"no record {refused}")
        field = page.get_by_label(f"Link request #{unlinked} to record number")
    assert (await _request(sessions, unlinked)).record_id is None
    await field.fill(str(job["id"]))
    await field.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("The request was linked.")
    assert (await _request(sessions, unlinked)).record_id == job["id"]

    # the request: its answers, and the client's file as a document of the job
    await page.goto(f"{base}/console/client-requests/{unlinked}")
    await expect(page.locator("#request-status")).to_have_text("submitted")
    await expect(page.locator("#request-record")).to_contain_text(f"730 {tag}")
    await expect(page.locator("#questions")).to_contain_text("IT60X0542811101000000123456")
    await _accessible(page, "client-request")
    href = await page.get_by_role("link", name="cu.pdf").get_attribute("href")
    assert href is not None
    download = await page.request.get(f"{base}{href}")
    assert download.status == 200 and download.headers["content-type"].startswith("application/pdf")
    async with sessions() as session:
        lines = (await session.exec(select(HistoryEntry).where(HistoryEntry.record_id == job["id"]))).all()
    kinds = [line.kind for line in lines]
    assert kinds.count(HistoryKind.client_request_sent) == 3 and HistoryKind.client_request_linked in kinds
    assert HistoryKind.client_request_cancelled in kinds

    # a request template, read as its questions
    await page.get_by_role("link", name="Request templates", exact=True).click()
    await _accessible(page, "request-templates")
    await page.get_by_role("link", name=f"Documenti {tag}").click()
    await expect(page.locator("#questions > li")).to_have_count(2)
    await expect(page.locator("#questions")).to_contain_text("Certificazione Unica")
    await expect(page.locator("#questions")).to_contain_text("application/pdf")
    await _accessible(page, "request-template")
