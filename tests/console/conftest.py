"""The console in a real browser: Debian's Chromium driven by Playwright, one browser per module, against the
API and a worker on the Temporal dev server (tests/e2e/conftest.py's stack)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from crm.models import User
from crm.staff_sessions import set_password
from renderer.pool import shared_pool
from settings import Settings
from tests.e2e.conftest import smtp, stack  # noqa: F401  (the fixtures)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
PASSWORD = "a long enough password"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is not installed: `make test` installs it (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture(params=["en", "it"])
async def console_in_each_language(request: Any, dev_env: WorkflowEnvironment, database_url: str,
                                   task_queue: str) -> AsyncIterator[tuple[str, Any]]:
    """The console (the app in this process, no browser) in each LOCALE: the locale, and a client to call it with."""
    app = create_app(Settings(locale=request.param, database_url=database_url, temporal_task_queue=task_queue),
                     temporal=dev_env.client, renderer=shared_pool())
    async with app.router.lifespan_context(app):
        yield request.param, lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                       base_url="http://stagecoach", timeout=30)


@dataclass
class Staff:
    user: User
    password: str


async def staff_user(sessions: Any, name: str = "Maria Rossi", role: str = "staff") -> Staff:
    handle = f"u{uuid.uuid4().hex[:10]}"
    async with sessions() as session:
        user = User(handle=handle, name=name, email=f"{handle}@agency.example")
        await set_password(session, user, PASSWORD, role=role)
        await session.refresh(user)
    return Staff(user, PASSWORD)


async def sign_in(page: Page, base: str, staff: Staff) -> None:
    await page.goto(f"{base}/console")
    assert "/console/sign-in" in page.url
    await page.get_by_label("User name").fill(staff.user.handle)
    await page.get_by_label("Password").fill(staff.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/console")


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(30_000)
    yield page
    await context.close()

