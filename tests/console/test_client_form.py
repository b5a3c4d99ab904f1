"""The client's form in Chromium, on a phone-sized screen: a first send with a wrong number shows the form again
with the message tied to its field and a note that the PDF must be chosen again (and passes axe-core), then the
client fixes it, attaches the PDF again and sends; staff then find the answers on the record's console page."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from tests.console.conftest import sign_in, staff_user
from tests.documents.files import pdf
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

TEMPLATE = """
key: {key}
language: it
title: Documenti per il 730
message: Ci servono alcune informazioni.
questions:
  - {{key: cu, type: file, label: Certificazione Unica, required: true, accept: [application/pdf]}}
  - {{key: dependants, type: number, label: Familiari a carico, required: true, help: "0 se nessuno"}}
  - {{key: status, type: choice, label: Stato civile, required: true, options: [Celibe o nubile, Coniugato]}}
  - {{key: expenses, type: multi_choice, label: Spese, options: [Mediche, Mutuo]}}
  - {{key: moved, type: yes_no, label: "Ha cambiato residenza?", required: true}}
  - {{key: moved_on, type: date, label: Data del cambio}}
  - {{key: notes, type: long_text, label: Note}}
"""


async def _no_serious_violation(html: str, checker: Page, name: str) -> None:
    """axe-core finds no serious or critical violation in the page's HTML (checked in a page with scripts on)."""
    await checker.set_content(html)
    results = await Axe().run(checker)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, f"{name}: " + "; ".join(f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in serious)


async def test_a_client_fills_and_sends_the_form_in_a_browser(stack: Stack, browser: Browser, sessions: object,
                                                               tmp_path: Path) -> None:
    admin = stack.as_("admin")
    key = f"browser-{uuid.uuid4().hex[:8]}"
    saved = await stack.http.post("/client-request-templates", headers={**admin, "Content-Type": "application/yaml"},
                                  content=TEMPLATE.format(key=key))
    assert saved.status_code == 201, saved.text
    record = (await stack.http.post("/records", headers=admin, json={
        "kind": "job", "title": f"730 {key}", "email": f"{key}@example.org"})).json()
    sent = await stack.http.post(f"/records/{record['id']}/client-requests", headers=admin, json={"template": key})
    assert sent.status_code == 201, sent.text
    link, request_id = sent.json()["link"], sent.json()["id"]
    document = tmp_path / "CU 2026.pdf"
    document.write_bytes(pdf())

    # the client's phone, with JavaScript off: nothing on the form needs it; axe-core runs in a page of its own
    context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="it-IT",
                                        java_script_enabled=False)
    checking = await browser.new_context()
    page, checker = await context.new_page(), await checking.new_page()
    page.set_default_timeout(30_000)
    try:
        await page.goto(link)
        await expect(page.get_by_role("heading", name="Documenti per il 730")).to_be_visible()
        await _no_serious_violation(await page.content(), checker, "client form")
        await page.get_by_label("Certificazione Unica").set_input_files(str(document))
        await page.get_by_label("Familiari a carico").fill("due")  # not a number: the server says so
        await page.get_by_label("Coniugato").check()
        await page.get_by_label("Mutuo").check()
        await page.get_by_role("group", name="Ha cambiato residenza?").get_by_label("Sì").check()
        await page.get_by_label("Data del cambio").fill("2026-02-01")
        await page.get_by_label("Note").fill("Grazie mille")
        await page.get_by_role("button", name="Invia").click()

        field = page.get_by_label("Familiari a carico")
        await expect(field).to_have_attribute("aria-invalid", "true")
        await expect(page.get_by_role("alert")).to_contain_text("Scrivere un numero")
        described = await field.get_attribute("aria-describedby")
        assert described and "q-dependants-error" in described.split()
        await _no_serious_violation(await page.content(), checker, "client form with a mistake")
        await expect(page.get_by_label("Note")).to_have_value("Grazie mille")  # kept, not typed again
        # the file is not: the page says so at its field and in the summary
        again = "Il file scelto (CU 2026.pdf) non è stato conservato: sceglierlo di nuovo prima di inviare."
        await expect(page.locator("#q-cu-again")).to_have_text(again)
        await expect(page.get_by_role("alert")).to_contain_text(f"Certificazione Unica: {again}")
        chooser = await page.get_by_label("Certificazione Unica").get_attribute("aria-describedby")
        assert chooser and "q-cu-again" in chooser.split()

        await field.fill("2")
        await page.get_by_label("Certificazione Unica").set_input_files(str(document))  # files are chosen again
        await page.get_by_role("button", name="Invia").click()
        await expect(page.get_by_role("heading", name="Grazie")).to_be_visible()
        await _no_serious_violation(await page.content(), checker, "client form sent")
    finally:
        await context.close()
        await checking.close()
    shown = (await stack.http.get(f"/client-requests/{request_id}", headers=admin)).json()
    assert shown["status"] == "submitted"
    assert shown["answers"]["dependants"] == 2 and shown["answers"]["status"] == "Coniugato"
    assert shown["answers"]["expenses"] == ["Mutuo"] and shown["answers"]["notes"] == "Grazie mille"
    assert [f["name"] for f in shown["files"]] == ["CU 2026.pdf"]

    staff = await staff_user(sessions)
    console = await browser.new_context()
    page = await console.new_page()
    try:
        base = str(stack.http.base_url).rstrip("/")
        await sign_in(page, base, staff)
        await page.goto(f"{base}/console/records/{record['id']}")
        section = page.locator("#client-requests")
        await expect(section).to_contain_text("Documenti per il 730")
        await expect(section).to_contain_text("submitted")
        await expect(section).to_contain_text("Mutuo")
        await expect(section).to_contain_text("CU 2026.pdf")
        results = await Axe().run(page)
        serious = [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not serious, serious
    finally:
        await console.close()
