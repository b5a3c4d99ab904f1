"""The console on a phone and with text as people type it, in Chromium: no page wider than the screen (a long list
scrolls by itself), a word longer than the screen wraps, and an answer or a field keeps its line breaks and is
written as the office writes numbers and dates."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.async_api import Page

from tests.console.conftest import sign_in, staff_user
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

WIDER = "document.documentElement.scrollWidth - window.innerWidth"
WIDEST = """[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
    ).sort((a, b) => b.getBoundingClientRect().right - a.getBoundingClientRect().right).slice(0, 4).map(e => e.tagName + '.' + e.className + '#' + e.id + ' '
    + Math.round(e.getBoundingClientRect().right))"""


async def test_a_phone_sees_every_page_within_its_screen(stack: Stack, sessions: Any, page: Page) -> None:
    """At 390 px the task list was 731 px wide (its Close buttons off the screen), and a 300-letter word made the
    records page 2,738 px wide"""
    tag = uuid.uuid4().hex[:8]
    staff = await staff_user(sessions, "Giulia Ferri")
    admin = stack.as_("admin")
    word = "Superpercorsodiprova" * 14 + tag
    made = await stack.http.post("/records", headers=admin, json={
        "kind": "lead", "title": word, "owner_id": staff.user.id,
        "fields": {"note": "prima riga\nseconda riga", "importo": 1250.5, "rogito": "2026-03-29", "cap": 40100}})
    assert made.status_code == 201, made.text
    record = made.json()
    for n in range(3):
        made = await stack.http.post("/tasks", headers=admin, json={
            "record_id": record["id"], "title": f"Richiamare il cliente per la proposta {n} {tag}",
            "assignee_id": staff.user.id, "description": "x" * 200})
        assert made.status_code == 201, made.text
    base = str(stack.http.base_url).rstrip("/")
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, base, staff)
    for path in ("/console", "/console/tasks", "/console/records", f"/console/records/{record['id']}",
                 "/console/processes", "/console/cases", "/console/client-requests", "/console/imports",
                 "/console/board"):
        await page.goto(f"{base}{path}")
        assert await page.evaluate(WIDER) <= 0, (path, await page.evaluate(WIDEST))
    await page.goto(f"{base}/console/tasks")
    close = page.get_by_role("button", name=f"Close: Richiamare il cliente per la proposta 0 {tag}")
    await close.scroll_into_view_if_needed()
    assert await close.is_visible()
    await page.goto(f"{base}/console/records/{record['id']}")
    fields = page.locator("dd.typed")
    texts = await fields.all_inner_texts()
    assert "prima riga\nseconda riga" in texts and "1,250.5" in texts and "3/29/2026" in texts, texts
    assert "40100" in texts, texts  # a postal code, a year: not 40,100
