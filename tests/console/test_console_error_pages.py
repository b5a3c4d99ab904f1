"""A wrong console address answered with the console's own page, not the API's problem+json: a path naming no
page, a number in the path that cannot be one, a method no page takes, in the office's language and with the
navigation of whoever is signed in; an unexpected error is the console's error page. The API's paths keep
their JSON answers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.console.web import SignedInDep
from settings import Settings
from tests.console.conftest import staff_user
from tests.console.signing import sign_in_async

WRONG = ("/console/nonexistent", "/console/records/abc", "/console/records/99999999999999999999",
         "/console/cases/abc", "/console/client-requests/abc", "/console/imports/abc", "/console/tasks/abc")


async def _console(database_url: str, sessions: Any, locale: str = "en") -> AsyncIterator[httpx.AsyncClient]:
    settings, temporal = Settings(database_url=database_url, locale=locale), object()  # wrong pages ask it nothing
    app = create_app(settings, temporal=temporal)  # type: ignore[arg-type]

    async def broken() -> None:
        raise RuntimeError("a bug")

    async def broken_page(signed: SignedInDep) -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/console/broken", broken_page)
    app.add_api_route("/records-broken", broken)
    app.state.settings, app.state.sessions, app.state.temporal = settings, sessions, temporal  # the lifespan's
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://stagecoach") as client:
        yield client


@pytest.fixture
async def console(database_url: str, sessions: Any) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _console(database_url, sessions):
        yield client


async def test_a_wrong_console_address_is_the_consoles_not_found_page(console: httpx.AsyncClient, sessions: Any,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Signed in or not, each wrong address is the "Not found" page (with the navigation when signed in)"""
    for path in ("/console/nonexistent", "/console/records/99999999999999999999"):
        page = await console.get(path)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html"), page.text
        assert "<h1>Not found</h1>" in page.text and "Sign out" not in page.text

    staff = await staff_user(sessions)
    assert (await sign_in_async(console, staff.user.handle, staff.password)).status_code == 303
    for path in WRONG:
        page = await console.get(path)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html"), (path, page.text)
        assert "<h1>Not found</h1>" in page.text and f"Nothing here: {path}" in page.text, path
        assert 'href="/console/records"' in page.text and staff.user.name in page.text, path  # the navigation
    wrong_method = await console.get("/console/sign-out")
    assert wrong_method.status_code == 405 and "<h1>Not found</h1>" in wrong_method.text
    opened = await console.get("/console/records/7/edit")  # a form's action, reloaded: what it acts on
    assert opened.status_code == 303 and opened.headers["location"] == "/console/records/7"
    posted = await console.post("/console/records/abc/client-requests", data={"template": "x"})
    assert posted.status_code == 404 and "<h1>Not found</h1>" in posted.text

    with caplog.at_level(logging.ERROR, logger="stagecoach.api"):
        broken = await console.get("/console/broken")
    assert broken.status_code == 500 and "<h1>Something went wrong</h1>" in broken.text
    assert staff.user.name in broken.text
    assert [r.message for r in caplog.records if r.name == "stagecoach.api"] == ["unhandled error"]

    # the API's answers stay problem+json
    for path, status, type_ in (("/nonexistent", 404, "NotFound"), ("/records/abc", 401, "Unauthorized"),
                                ("/records-broken", 500, "InternalError")):
        answer = await console.get(path)
        assert answer.headers["content-type"] == "application/problem+json", (path, answer.text)
        assert answer.status_code == status and answer.json()["type"] == type_, (path, answer.text)
    static = await console.get("/console/static/nothing.css")
    assert static.status_code == 404 and "<h1>" not in static.text


async def test_the_not_found_page_is_in_the_offices_language(database_url: str, sessions: Any) -> None:
    """With LOCALE=it a wrong address says so in Italian"""
    async for console in _console(database_url, sessions, locale="it"):
        page = await console.get("/console/nonexistent")
        assert page.status_code == 404 and '<html lang="it">' in page.text and "Non trovato" in page.text
