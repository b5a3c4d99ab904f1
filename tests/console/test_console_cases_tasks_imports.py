"""Cases, my tasks and CSV imports in the console, in Chromium: a case found by its tag with its participants, tags
and timeline, a task made on it; my tasks overdue first, one made with a mistake then right, one closed; a CSV sent,
its columns mapped, its progress and errors shown and its rejected rows downloaded; contacts and cases exported.
Every page passes axe-core (a screenshot for docs/ when STAGECOACH_SCREENSHOTS names a folder)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.console.conftest import sign_in, staff_user
from tests.console.test_console_pages import _accessible
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


async def _case(stack: Stack, tag: str, owner_id: int) -> tuple[int, list[int]]:
    headers = stack.as_("admin")
    contacts = []
    for name in ("Anna Bianchi", "Studio Verdi srl"):
        made = await stack.http.post("/records", headers=headers, json={
            "kind": "contact", "title": f"{name} {tag}", "email": f"{name.split()[0].lower()}.{tag}@example.org"})
        contacts.append(made.json()["id"])
    case = await stack.http.post("/cases", headers=headers, json={
        "name": f"Eredità Rossi {tag}", "owner_id": owner_id, "participant_ids": contacts,
        "tags": [f"successione-{tag}", "urgente"]})
    assert case.status_code == 201, case.text
    other = await stack.http.post("/cases", headers=headers, json={"name": f"Altro {tag}", "tags": ["urgente"]})
    assert other.status_code == 201, other.text
    event = await stack.http.post(f"/records/{case.json()['id']}/events", headers=headers, json={
        "kind": "call", "description": f"Called the heirs {tag}"})
    assert event.status_code == 201, event.text
    return case.json()["id"], contacts


async def test_cases_tasks_and_imports(stack: Stack, sessions: Any, page: Page, tmp_path: Path) -> None:
    """Find a case by its tag, read it, add a task to it; my tasks overdue first, make one, close one; import a CSV
    with a mapping, follow it to its end, read its errors and download its rejected rows"""
    tag = uuid.uuid4().hex[:8]
    staff = await staff_user(sessions, "Paola Neri")
    case_id, contacts = await _case(stack, tag, staff.user.id)  # type: ignore[arg-type]
    base = str(stack.http.base_url).rstrip("/")
    await sign_in(page, base, staff)

    # cases: searched by tag, then one case with its participants, tags and timeline
    await page.get_by_role("link", name="Cases", exact=True).click()
    await page.get_by_label("Tag", exact=True).fill(f"successione-{tag}")
    await page.get_by_label("Tag", exact=True).press("Enter")
    await expect(page.locator("#cases tbody tr")).to_have_count(1)
    await expect(page.locator("#cases tbody tr")).to_contain_text(f"Anna Bianchi {tag}")
    await _accessible(page, "cases")
    await page.get_by_role("link", name=f"Eredità Rossi {tag}").click()
    await expect(page.locator("#participants li")).to_have_count(2)
    await expect(page.locator("#case-tags")).to_contain_text(f"successione-{tag}")
    await expect(page.locator("#timeline")).to_contain_text(f"Called the heirs {tag}")
    await expect(page.locator("#timeline")).to_contain_text("Participant added")

    # a task on the case, due in the past (overdue), with a category and a reminder
    await page.get_by_label("Title", exact=True).fill(f"Call the notary {tag}")
    await page.get_by_label("Category").select_option("call")
    await page.get_by_label("Due", exact=True).fill("2026-01-05T09:30")
    await page.get_by_label("Reminder, minutes before").fill("30")
    await page.get_by_role("button", name="Add the task").click()
    await page.wait_for_url(f"{base}/console/cases/{case_id}?done=task_added")
    await expect(page.get_by_role("status")).to_have_text("The task was added.")
    await expect(page.locator("#case-tasks")).to_contain_text(f"Call the notary {tag}")
    await expect(page.locator("#timeline")).to_contain_text(f"Task created: Call the notary {tag}")
    await _accessible(page, "case")

    # my tasks: a mistake shown at its form, then a later task on a contact; the overdue one comes first
    await page.get_by_role("link", name="Tasks", exact=True).click()
    await page.get_by_label("Record number").fill(str(contacts[0]))
    await page.get_by_label("Title", exact=True).fill(f"Send the papers {tag}")
    await page.get_by_label("Reminder, minutes before").fill("60")
    await page.get_by_role("button", name="Add the task").click()
    await expect(page.locator("#task-error")).to_contain_text("a reminder needs a due time")
    await expect(page.get_by_label("Title", exact=True)).to_have_value(f"Send the papers {tag}")  # what was written stays
    await page.get_by_label("Due", exact=True).fill("2027-06-01T10:00")
    await page.get_by_role("button", name="Add the task").click()
    await expect(page.get_by_role("status")).to_have_text("The task was added.")
    rows = page.locator("#my-tasks tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_contain_text(f"Call the notary {tag}")
    await expect(rows.nth(0)).to_contain_text("overdue")
    await expect(rows.nth(1)).to_contain_text(f"Send the papers {tag}")
    await expect(rows.nth(1)).to_contain_text("60 min before")
    await _accessible(page, "tasks")
    await page.get_by_role("button", name=f"Close: Call the notary {tag}").click()
    await expect(page.locator("#my-tasks tbody tr")).to_have_count(1)
    closed = (await stack.http.get("/tasks", headers=stack.as_("admin"),
                                   params={"record_id": case_id, "status": "done", "assignee_id": staff.user.id})).json()
    assert [t["title"] for t in closed] == [f"Call the notary {tag}"]

    # imports: a CSV whose columns are not named as fields, mapped by hand; one row with a bad email
    csv_path = tmp_path / "contatti.csv"
    csv_path.write_bytes("Nome;Posta;Note\n".encode("cp1252") + "\n".join(
        f"Cliente {n} {tag};{'non-una-email' if n == 1 else f'c{n}.{tag}@example.org'};città"
        for n in range(4)).encode("cp1252") + b"\n")
    await page.get_by_role("link", name="Imports", exact=True).click()
    await page.get_by_label("If a row is invalid").select_option("valid_rows")
    await page.get_by_label("File", exact=True).set_input_files(str(csv_path))
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#mapping-h")).to_be_visible()
    await expect(page.locator("dl.facts")).to_contain_text("windows-1252")
    await page.get_by_label("Nome").select_option("title")
    await page.get_by_label("Posta").select_option("email")
    await page.get_by_label("Note").select_option("fields.Note")
    await _accessible(page, "import-mapping")
    await page.get_by_role("button", name="Import the rows").click()
    await expect(page.locator("#import-status")).to_have_text("done", timeout=60_000)  # the page refreshes itself
    await expect(page.locator("#import-progress")).to_contain_text("4")
    await expect(page.locator("#import-detail")).to_have_text("3 rows written, 1 row rejected")
    await expect(page.locator("#progress-h ~ p.meta")).to_have_text(
        "Mapping: Nome → Title, Note → free field “Note”, Posta → Email")
    await expect(page.locator("#import-errors li")).to_have_text(["row 3, column Posta: value is not a valid email "
                                                                  "address: An email address must have an @-sign."])
    await _accessible(page, "import")
    async with page.expect_download() as download:
        await page.locator("#rejected").click()
    rejected = Path(await (await download.value).path()).read_text(encoding="utf-8-sig")  # with a BOM, as an export
    assert rejected.splitlines()[0] == "Nome;Posta;Note;reason"
    assert f"Cliente 1 {tag};non-una-email;città;row 3, column Posta" in rejected
    imported = (await stack.http.get("/records", headers=stack.as_("admin"),
                                     params={"q": tag, "kind": "contact"})).json()
    assert sorted(r["title"] for r in imported if r["title"].startswith("Cliente")) == [
        f"Cliente {n} {tag}" for n in (0, 2, 3)]
    assert {r["fields"].get("Note") for r in imported if r["title"].startswith("Cliente")} == {"città"}
    await page.get_by_role("link", name="All imports").click()
    await expect(page.locator("table.list tbody tr").first).to_contain_text("done")

    # export: the contacts the user sees, with the free field just imported, in the file an import reads back
    await page.get_by_label("Export", exact=True).select_option("contacts")
    await page.get_by_label("Delimiter", exact=True).select_option(",")
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Download").click()
    assert (await download.value).suggested_filename == "contacts.csv"
    exported = Path(await (await download.value).path()).read_text(encoding="utf-8-sig")
    header = exported.splitlines()[0].split(",")
    assert header[:3] == ["id", "title", "type"] and "fields.Note" in header
    assert f"Cliente 2 {tag},,c2.{tag}@example.org" in exported and "città" in exported
    await page.get_by_label("Export", exact=True).select_option("cases")
    await page.get_by_label("Delimiter", exact=True).select_option(";")
    await _accessible(page, "imports")
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Download").click()
    cases = Path(await (await download.value).path()).read_text(encoding="utf-8-sig")
    assert cases.splitlines()[0] == "id;name;state;tags;participants;owner;restricted;access;created_at"
    assert f"Eredità Rossi {tag};open" in cases
