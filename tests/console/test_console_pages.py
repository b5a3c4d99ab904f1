"""The console's other pages in Chromium: records (search, start a process), templates (outline, a save with a
mistake shown at its line, a diff), the outbox, the deliveries, incidents retried in bulk; every page passes axe-core
with no serious violation and is reached by keyboard; screenshots for docs/ when STAGECOACH_SCREENSHOTS names a
folder."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.console.conftest import staff_user
from tests.e2e.conftest import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e
SCREENSHOTS = os.environ.get("STAGECOACH_SCREENSHOTS")

TEMPLATE = """key: {key}
name: Welcome a lead
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: hello
    name: Say hello
    actions:
      - send_email:
          to: record_contact
          subject: "Hello about {{{{ record.fields.{field} }}}}"
          body: "Welcome."
  - key: call
    name: Call the lead
    completion: manual
"""


async def _accessible(page: Page, name: str, shot: bool = True) -> None:
    """axe-core finds no serious or critical violation on the page; a screenshot of it when asked."""
    results = await Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, f"{name}: " + "; ".join(f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in serious)
    if SCREENSHOTS and shot:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=False)


async def _state(stack: Stack, workflow_id: str) -> dict[str, Any]:
    return (await stack.http.get(f"/processes/{workflow_id}", headers=stack.as_("admin"))).json()


async def test_records_templates_outbox_and_incidents(stack: Stack, sessions: Any, page: Page) -> None:
    """Search a record, start a process on it, fix a template at its line, compare versions, retry incidents"""
    admin = await staff_user(sessions, "Chiara Conti", role="admin")
    key = f"welcome-{uuid.uuid4().hex[:8]}"
    headers = stack.as_("admin")
    saved = await stack.http.post("/templates", headers={**headers, "Content-Type": "application/yaml"},
                                  content=TEMPLATE.format(key=key, field="product"))
    assert saved.status_code == 201, saved.text
    records = []
    for n in range(2):
        made = await stack.http.post("/records", headers=headers, json={
            "kind": "lead", "title": f"Villa {key} {n}", "email": f"{key}-{n}@example.org",
            "owner_id": admin.user.id, "fields": {"rooms": 4}})
        records.append(made.json()["id"])
    base = str(stack.http.base_url).rstrip("/")

    # by keyboard: the sign-in form has the focus and takes Enter; on every page the skip link comes first
    await page.goto(f"{base}/console/sign-in")
    await _accessible(page, "sign-in")
    icon = await stack.http.get(await page.locator("link[rel=icon]").get_attribute("href") or "/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")  # no 404 in the log
    await page.keyboard.type(admin.user.handle)
    await page.keyboard.press("Tab")
    await page.keyboard.type(admin.password)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/console")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
    await _accessible(page, "today", shot=False)

    # records: search, open, start the template on it (the record has no `product`: an incident)
    await page.get_by_role("link", name="Records", exact=True).click()
    await page.get_by_label("Search the titles").fill(f"Villa {key}")
    await page.get_by_label("Search the titles").press("Enter")
    await expect(page.locator("table.list tbody tr")).to_have_count(2)
    await _accessible(page, "records")
    await page.get_by_role("link", name=f"Villa {key} 0").click()
    await expect(page.locator("dl.facts")).to_contain_text("rooms")
    started = []
    for record_id in records:
        await page.goto(f"{base}/console/records/{record_id}")
        await page.get_by_label("Template", exact=True).select_option(key)
        await page.get_by_role("button", name="Start").click()
        await expect(page.get_by_role("status")).to_have_text("The process was started.")
        started.append(page.url.split("/console/processes/")[1].split("?")[0])
    await page.goto(f"{base}/console/records/{records[0]}")
    await expect(page.locator("#processes-h + ul")).to_contain_text(started[0])
    await _accessible(page, "record")

    # incidents: both processes wait on their failed email; once the records have a product, one bulk retry
    for workflow_id in started:
        await eventually(lambda w=workflow_id: _has_incident(stack, w), what=f"{workflow_id}'s incident")
    await page.goto(f"{base}/console/processes/{started[0]}")
    await _accessible(page, "process")
    for record_id in records:
        await stack.http.patch(f"/records/{record_id}", headers=headers, json={"fields": {"product": "Villa"}})
    await page.get_by_role("link", name="Incidents", exact=True).click()
    await expect(page.locator("table.list tbody tr")).to_have_count(2)
    await _accessible(page, "incidents")
    await page.get_by_role("button", name="Retry the ticked ones").click()
    await expect(page.get_by_role("status")).to_contain_text("retried")
    for workflow_id in started:
        await eventually(lambda w=workflow_id: _in_phase(stack, w, "call"), what=f"{workflow_id} calls")

    # the process list, filtered to the template: both, now past their incident
    await page.goto(f"{base}/console/processes?template={key}")
    await expect(page.locator("table.list tbody tr")).to_have_count(2)
    await _accessible(page, "processes")
    await page.get_by_role("link", name="Today", exact=True).click()
    await expect(page.locator(".card", has_text="Call the lead")).to_have_count(2)
    await _accessible(page, "today")

    # the outbox shows what was sent
    await page.get_by_role("link", name="Outbox", exact=True).click()
    await expect(page.locator("details.email", has_text=f"{key}-0@example.org")).to_contain_text("Hello about Villa")
    await _accessible(page, "outbox")
    await page.get_by_role("link", name="Deliveries", exact=True).click()
    await expect(page.get_by_role("heading", name="Webhook endpoints")).to_be_visible()  # an admin sees them
    await _accessible(page, "deliveries")

    # templates: the outline, a save with a misspelt variable refused at its line, the fix saved, the diff
    await page.get_by_role("link", name="Templates", exact=True).click()
    await _accessible(page, "templates")
    await page.get_by_role("link", name="Welcome a lead").first.click()
    await expect(page.locator("#outline-h + ol")).to_contain_text("Call the lead")
    await _accessible(page, "template")
    await page.get_by_role("link", name="Edit the YAML").click()
    source = await page.get_by_label("The template (YAML)").input_value()
    await page.get_by_label("The template (YAML)").fill(source.replace("Welcome.", "Welcome {{ recrod.title }}."))
    await page.get_by_role("button", name="Save as a new version").click()
    wrong = next(n for n, line in enumerate(source.splitlines(), 1) if "Welcome." in line)
    error = page.locator("ul.errors li").first
    await expect(error).to_contain_text(f"Line {wrong}")
    await expect(error).to_contain_text("did you mean 'record'")
    await expect(page.locator(f"#line-{wrong}")).to_contain_text("recrod")
    await _accessible(page, "template-error")
    assert (await stack.http.get(f"/templates/{key}", headers=headers)).json()["version"] == 1
    fixed = re.sub(r"Welcome \{\{ recrod\.title \}\}\.", "Welcome, {{ record.title }}.",
                   await page.get_by_label("The template (YAML)").input_value())
    await page.get_by_label("The template (YAML)").fill(fixed)
    await page.get_by_role("button", name="Save as a new version").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved as version 2")
    # the version shown against the one before it, chosen already
    await expect(page.get_by_label("From version")).to_have_value("1")
    await expect(page.get_by_label("To version")).to_have_value("2")
    await page.get_by_role("button", name="Compare").click()
    await expect(page.locator("pre.diff .add")).to_contain_text(["+++ v2", "Welcome, {{ record.title }}."])
    assert (await stack.http.get(f"/templates/{key}", headers=headers)).json()["created_by"].startswith("user:")


async def _has_incident(stack: Stack, workflow_id: str) -> bool:
    return (await _state(stack, workflow_id)).get("incident") is not None


async def _in_phase(stack: Stack, workflow_id: str, phase: str) -> bool:
    return (await _state(stack, workflow_id)).get("current_phase") == phase
