"""The request template editor in Chromium shows a version as the YAML text it was saved from, comments and all:
a template applied with its comments is opened with them, edited and saved from the console (the browser posts
CRLF lines), and opened again with its comments and the edit; the API gives the saved text back with LF lines."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.client_requests.test_source_text import YAML
from tests.console.conftest import sign_in, staff_user
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e
SOURCE = "The request template (YAML)"


async def test_a_request_template_keeps_its_comments_through_the_editor(stack: Stack, sessions: Any,
                                                                        page: Page) -> None:
    """Open a template applied with comments, see them, save an edit from the console, open it again"""
    key = f"cu-{uuid.uuid4().hex[:8]}"
    sent = YAML.format(key=key)
    saved = await stack.http.post("/client-request-templates", content=sent.encode(),
                                  headers={**stack.as_("admin"), "Content-Type": "application/yaml"})
    assert saved.status_code == 201, saved.text
    admin = await staff_user(sessions, "Chiara Conti", role="admin")
    base = str(stack.http.base_url).rstrip("/")
    await sign_in(page, base, admin)

    # the version page and the editor show the text as it was written
    await page.goto(f"{base}/console/request-templates/{key}")
    await expect(page.locator("details pre.code")).to_contain_text("# prima il file, poi i numeri")
    await page.get_by_role("link", name="Edit the YAML").click()
    assert await page.get_by_label(SOURCE).input_value() == sent

    # an edit saved from the console: a new version, its comments and the new one kept
    typed = (sent.replace("title: Documenti 730", "title: Documenti 730 (2026)")
             .replace("# fine", "# fine: rivisto in console"))
    await page.get_by_label(SOURCE).fill(typed)
    await page.get_by_role("button", name="Save as a new version").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved as version 2")
    await expect(page.locator("h1")).to_contain_text("Documenti 730 (2026)")
    await page.get_by_role("link", name="Edit the YAML").click()
    kept = typed.strip() + "\n"  # the form's text, stripped
    assert await page.get_by_label(SOURCE).input_value() == kept
    as_yaml = await stack.http.get(f"/client-request-templates/{key}/versions/2",
                                   headers={**stack.as_("staff"), "Accept": "application/yaml"})
    assert as_yaml.text == kept and "\r" not in as_yaml.text
