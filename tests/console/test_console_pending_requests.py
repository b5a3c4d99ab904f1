"""A record moved from its console page or its board card while a client request would move it: the refusal asks,
on the record's page, what becomes of the request (nothing chosen for the user), and the move made with the choice
keeps it open without auto-move (Chromium)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect
from sqlmodel import select

from crm.client_requests.models import AutoMove, ClientRequest
from tests.console.conftest import sign_in, staff_user
from tests.e2e.conftest import Stack
from tests.e2e.test_client_requests_over_http import job_waiting_for_answers

pytestmark = pytest.mark.e2e


async def test_a_move_on_the_console_asks_what_becomes_of_a_pending_request(stack: Stack, sessions: Any,
                                                                           page: Page) -> None:
    admin = await staff_user(sessions, "Luca Bianchi", role="admin")
    record, _ = await job_waiting_for_answers(stack)
    await sign_in(page, str(stack.http.base_url).rstrip("/"), admin)
    base = str(stack.http.base_url).rstrip("/")
    # from the board: the card said the API's `pending_requests: cancel_request, ...`, with no way to choose
    await page.goto(f"{base}/console/board?pipeline=tax-{record['type'].split()[-1]}")
    await page.get_by_label(f"Move {record['title']} to").select_option("Review")
    await page.locator(f"#card-{record['id']}").get_by_role("button", name="Move").click()
    await expect(page.locator("#move-error")).to_contain_text(
        f"record {record['id']} has 1 pending client request(s) whose answers would move it from 'Missing "
        "information': choose below what becomes of them, then move it again")
    pending = page.get_by_label("Pending client requests")
    assert await pending.input_value() == "" and await pending.get_attribute("required") is not None
    await page.goto(f"{base}/console/records/{record['id']}")
    await page.get_by_label("To", exact=True).select_option("Review")
    await page.get_by_role("button", name="Move", exact=True).click()
    await expect(page.locator("#move-error")).to_contain_text("pending client request")
    await expect(page.locator("#record-status")).to_have_text("Missing information")
    await page.get_by_label("To", exact=True).select_option("Review")
    await page.get_by_label("Pending client requests").select_option("keep_open")
    await page.get_by_role("button", name="Move", exact=True).click()
    await expect(page.locator("#record-status")).to_have_text("Review")
    async with sessions() as session:
        [request] = [r for r in (await session.exec(
            select(ClientRequest).where(ClientRequest.record_id == record["id"]))).all()]
    assert request.auto_move is AutoMove.off
