"""A support worker's day in the console, in Chromium: sign in, complete a phase with answers from Today, find a
process, skip a phase, retry an incident, abort a process (its Temporal run is then cancelled), a form without
its CSRF token refused, sign out and every page closed. Each step checks the page and the workflow."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.async_api import Page, expect
from temporalio.client import WorkflowExecutionStatus

from tests.console.conftest import Staff, sign_in, staff_user
from tests.e2e.conftest import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e

TEMPLATE = """
key: {key}
name: Console check
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: call
    name: Call the lead
    deadline_days: 2
    completion: manual
  - key: quote
    name: Send the quote
    completion: manual
  - key: thanks
    name: Thank the client
    actions:
      - send_email:
          to: record_contact
          subject: "Your budget of {{{{ record.fields.budget }}}}"
          body: "Thank you."
"""


async def _state(stack: Stack, workflow_id: str) -> dict[str, Any]:
    response = await stack.http.get(f"/processes/{workflow_id}", headers=stack.as_("admin"))
    assert response.status_code == 200, response.text
    return response.json()


async def _phase(stack: Stack, workflow_id: str, key: str) -> dict[str, Any]:
    return next(p for p in (await _state(stack, workflow_id))["phases"] if p["key"] == key)


async def _setup(stack: Stack, staff: Staff) -> tuple[str, int, list[str]]:
    key = f"console-{uuid.uuid4().hex[:8]}"
    admin = stack.as_("admin")
    saved = await stack.http.post("/templates", headers={**admin, "Content-Type": "application/yaml"},
                                  content=TEMPLATE.format(key=key))
    assert saved.status_code == 201, saved.text
    record = await stack.http.post("/records", headers=admin, json={
        "kind": "lead", "title": f"Flat {key}", "email": f"{key}@example.org", "owner_id": staff.user.id})
    record_id = record.json()["id"]
    started = []
    for _ in range(2):
        response = await stack.http.post("/processes", headers=admin, json={
            "template": key, "record_id": record_id, "owner_id": staff.user.id})
        assert response.status_code == 201, response.text
        started.append(response.json()["workflow_id"])
    for workflow_id in started:
        await eventually(lambda w=workflow_id: _phase_running(stack, w, "call"), what=f"{workflow_id} calls")
    return key, record_id, started


async def _phase_running(stack: Stack, workflow_id: str, key: str) -> bool:
    return (await _phase(stack, workflow_id, key))["status"] == "running"


async def test_a_day_in_the_console(stack: Stack, sessions: Any, page: Page, dev_env: Any) -> None:
    """Sign in, complete, find, skip, retry an incident, abort, CSRF refused, sign out: pages and workflows agree"""
    staff = await staff_user(sessions)
    key, record_id, (first, second) = await _setup(stack, staff)
    base = str(stack.http.base_url).rstrip("/")

    # a wrong password is refused on the page; the right one opens Today
    await page.goto(f"{base}/")
    await page.wait_for_url(f"{base}/console/sign-in**")
    await page.get_by_label("User name").fill(staff.user.handle)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    await sign_in(page, base, staff)
    await page.goto(f"{base}/console/sign-in?next=/console/processes")  # signed in already: on to the page
    await page.wait_for_url(f"{base}/console/processes")
    await page.goto(f"{base}/console")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "stagecoach_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # plain HTTP here

    # Today: the two phases waiting on them; complete the first process's with answers
    cards = page.locator(".card", has_text="Call the lead")
    await expect(cards).to_have_count(2)
    card = page.locator(".card", has=page.locator(f"a[href='/console/processes/{first}']"))
    await card.get_by_label("Answers").fill("budget: 250000\nvisit: yes")
    await card.get_by_role("button", name="Complete").click()
    await expect(page.get_by_role("status")).to_have_text("The task was completed.")
    await expect(page.locator(".card", has_text="Call the lead")).to_have_count(1)
    await eventually(lambda: _phase_running(stack, first, "quote"), what="the quote phase runs")
    assert (await _state(stack, first))["answers"] == {"budget": 250000, "visit": "yes"}

    # Processes: filter by template, find the first one, open it
    await page.get_by_role("link", name="Processes", exact=True).click()
    await page.get_by_label("Template", exact=True).select_option(key)
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("table.list tbody tr")).to_have_count(2)
    await expect(page.locator(".counts")).to_contain_text("running: 2")
    await page.locator(f"table.list a[href='/console/processes/{first}']").click()  # named by its template
    await expect(page.locator("#phase-call")).to_contain_text("done")
    assert await page.get_by_role("link", name="the run in the Temporal UI").get_attribute("href") == \
        stack.settings.temporal_run_url(first)

    # skip the quote phase: the email phase then fails on the record's missing budget, an incident
    await page.get_by_label("Phase", exact=True).select_option("quote")
    await page.get_by_label("Reason", exact=True).fill("quoted on the phone")
    await page.get_by_role("button", name="Skip", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("The phase was skipped.")
    await expect(page.locator("#phase-quote")).to_contain_text("quoted on the phone")
    await expect(page.locator("#phase-quote")).to_contain_text(f"skipped by {staff.user.name}")
    assert (await _phase(stack, first, "quote"))["status"] == "skipped"
    await eventually(lambda: _incident(stack, first), what="the incident")
    await page.reload()
    await expect(page.locator(".incident-box")).to_contain_text("budget")

    # the record gets its budget; retrying the step sends the email and the process completes
    patched = await stack.http.patch(f"/records/{record_id}", headers=stack.as_("admin"),
                                     json={"fields": {"budget": "250,000 EUR"}})
    assert patched.status_code == 200, patched.text
    await page.get_by_role("button", name="Retry the step").click()
    await expect(page.get_by_role("status")).to_have_text("The incident was resolved.")
    await eventually(lambda: _status_is(stack, first, "completed"), what="the first process completes")
    assert [m["Subject"] for m in stack.mail.to(f"{key}@example.org")] == ["Your budget of 250,000 EUR"]

    # a form posted without its CSRF token is refused, and nothing happens
    await page.goto(f"{base}/console/processes/{second}")
    refused = await page.request.post(f"{base}/console/processes/{second}/abort",
                                      form={"reason": "forged", "confirm": "1"})
    assert refused.status == 403 and "refused" in (await refused.text())
    assert (await _state(stack, second))["status"] == "running"

    # abort the second one: without the confirmation the browser will not send it; with it, it is aborted
    await page.get_by_label("Reason (required)").fill("the client withdrew")
    await page.get_by_role("button", name="Abort", exact=True).click()
    assert (await _state(stack, second))["status"] == "running"  # the required box stopped the form
    await page.get_by_label("Yes, abort it").check()
    await page.get_by_role("button", name="Abort", exact=True).click()
    await expect(page.locator("#process-status")).to_have_text("aborted")
    handle = dev_env.client.get_workflow_handle(second)
    await eventually(lambda: _canceled(handle), what="the Temporal run is cancelled")
    await expect(page.locator(".forms")).to_have_count(0)  # nothing more to do on it

    # sign out: every page is closed, the old cookie opens nothing
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{base}/console/sign-in")
    for path in ("/console", "/console/processes", f"/console/processes/{first}"):
        await page.goto(base + path)
        assert "/console/sign-in" in page.url, path
    stale = await stack.http.get("/console", headers={"Cookie": f"stagecoach_session={cookie['value']}"},
                                 follow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"].startswith("/console/sign-in")


async def _incident(stack: Stack, workflow_id: str) -> bool:
    return (await _state(stack, workflow_id))["incident"] is not None


async def _status_is(stack: Stack, workflow_id: str, status: str) -> bool:
    return (await _state(stack, workflow_id))["status"] == status


async def _canceled(handle: Any) -> bool:
    return (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
