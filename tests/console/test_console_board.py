"""The pipeline board in Chromium: a card moved by its form lands in its new column with its history line, a stale
card's move is refused with the API's message next to it, a card dragged onto a column moves, and a record's page
moves it only to the statuses allowed next; the board passes axe-core (a screenshot for docs/ when asked)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.console.conftest import sign_in, staff_user
from tests.console.test_console_pages import _accessible
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

PIPELINE = """key: {key}
name: Repair shop {key}
record_kind: job
statuses:
  - name: New
  - name: Diagnosis
    substates: [{{name: Waiting for parts}}]
  - name: Quote sent
  - name: Closed
moves:
  New: [Diagnosis]
  Diagnosis: [Quote sent, Closed]
  Quote sent: [Closed]
types:
  - name: {type}
"""


async def test_move_records_on_the_board(stack: Stack, sessions: Any, page: Page) -> None:
    """Move by the form, refused when stale, by drag and drop, and from the record's page with a reason"""
    admin = await staff_user(sessions, "Luca Bianchi", role="admin")
    key, type_name = f"shop-{uuid.uuid4().hex[:8]}", f"Repair {uuid.uuid4().hex[:6]}"
    headers = stack.as_("admin")
    saved = await stack.http.post("/pipelines", headers={**headers, "Content-Type": "application/yaml"},
                                  content=PIPELINE.format(key=key, type=type_name))
    assert saved.status_code == 201, saved.text
    ids = []
    for n, title in enumerate(("Boiler", "Washing machine", "Fridge")):
        made = await stack.http.post("/records", headers=headers, json={
            "kind": "job", "type": type_name, "title": f"{title} {key}", "owner_id": admin.user.id,
            "channel": "phone" if n else "web"})
        assert made.status_code == 201 and made.json()["status"] == "New", made.text
        ids.append(made.json()["id"])
    await stack.http.post(f"/records/{ids[0]}/move", headers=headers, json={"to": "Diagnosis"})
    await stack.http.post(f"/records/{ids[0]}/move", headers=headers, json={"open_substate": "Waiting for parts"})
    base = str(stack.http.base_url).rstrip("/")
    await sign_in(page, base, admin)

    await page.get_by_role("link", name="Board", exact=True).click()
    await page.get_by_label("Pipeline").select_option(key)
    await page.get_by_role("button", name="Filter").click()
    new, diagnosis = page.locator("section.column[data-status='New']"), page.locator(
        "section.column[data-status='Diagnosis']")
    await expect(new.locator(".count")).to_have_text("2")
    await expect(diagnosis.locator(f"#card-{ids[0]}")).to_contain_text("Waiting for parts")
    await _accessible(page, "board")
    await page.get_by_label("Channel").fill("phone")  # the filters: only the phone jobs
    await page.get_by_role("button", name="Filter").click()
    await expect(diagnosis.locator(".count")).to_have_text("0")
    await expect(new.locator(".card")).to_have_count(2)

    # by the card's form: only Diagnosis is offered from New; the card lands there, its history says so
    card = new.locator(f"#card-{ids[1]}")
    assert await card.get_by_role("combobox").locator("option").all_inner_texts() == ["Diagnosis"]
    await card.get_by_role("button", name="Move").click()
    await expect(diagnosis.locator(f"#card-{ids[1]}")).to_be_visible()
    await expect(diagnosis.locator(".count")).to_have_text("1")
    assert "channel=phone" in page.url  # back to the board as it was filtered
    await expect(page.get_by_role("status")).to_contain_text("” moved to Diagnosis.")  # and said so

    # a stale card (moved meanwhile over the API): the 409's message next to it, nothing changed
    await stack.http.post(f"/records/{ids[2]}/move", headers=headers, json={"to": "Diagnosis"})
    await new.locator(f"#card-{ids[2]}").get_by_role("button", name="Move").click()
    await expect(page.locator(f"#card-{ids[2]} [role=alert]")).to_contain_text(
        f"record {ids[2]} is in 'Diagnosis', not 'New'")
    await expect(page.locator("nav [aria-current=page]")).to_have_text("Board")  # drawn at the move's address
    await expect(diagnosis.locator(".count")).to_have_text("2")

    # drag and drop: a card dropped on a column it may move to moves there
    await diagnosis.locator(f"#card-{ids[2]}").drag_to(page.locator("section.column[data-status='Closed']"))
    await expect(page.locator(f"section.column[data-status='Closed'] #card-{ids[2]}")).to_be_visible()

    # refused for a card the board no longer shows (no longer a phone job, moved meanwhile): the message on top
    await stack.http.patch(f"/records/{ids[1]}", headers=headers, json={"channel": "web", "status": "Closed"})
    await diagnosis.locator(f"#card-{ids[1]}").get_by_role("button", name="Move").click()
    await expect(page.locator("main > [role=alert]")).to_contain_text(
        f"Record #{ids[1]}: record {ids[1]} is in 'Closed', not 'Diagnosis'")
    await expect(page.locator(f"#card-{ids[1]}")).to_have_count(0)

    # the record's page: its status and open substate, the statuses allowed next, a move with its reason
    await page.goto(f"{base}/console/records/{ids[0]}")
    await expect(page.locator("#record-status")).to_have_text("Diagnosis")
    await expect(page.locator("#record-substates")).to_have_text("Waiting for parts")
    assert await page.get_by_label("To", exact=True).locator("option").all_inner_texts() == ["Quote sent", "Closed"]
    await page.get_by_label("To", exact=True).select_option("Quote sent")
    await page.get_by_label("Reason (optional)").fill("the customer asked for a price")
    await page.get_by_role("button", name="Move", exact=True).click()
    await expect(page.locator("#record-status")).to_have_text("Quote sent")
    await expect(page.locator("#history-h + ol li").first).to_contain_text(
        "Status changed from 'Diagnosis' to 'Quote sent'")
    await expect(page.locator("#history-h + ol")).to_contain_text("Status changed from 'New' to 'Diagnosis'")
    await expect(page.locator("#history-h + ol li").first).to_contain_text("the customer asked for a price")
    moved = (await stack.http.get(f"/records/{ids[0]}", headers=headers)).json()
    assert (moved["status"], moved["substates"]) == ("Quote sent", {})
