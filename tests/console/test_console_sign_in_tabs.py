"""Signing in from any of a browser's open sign-in pages (one per tab, after a session ended): each page's form
carries the token of the browser's sign-in cookie, which stays while it lives; a token not the cookie's is still
refused."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.console.conftest import staff_user
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def _form_token(page: httpx.Response) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and found, page.text
    return found.group(1)


async def test_every_open_sign_in_page_signs_in(stack: Stack, sessions: Any) -> None:
    """Two tabs show the sign-in page; the first one shown signs in, then the second one too"""
    staff = await staff_user(sessions)
    credentials = {"handle": staff.user.handle, "password": staff.password, "next": "/console"}
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        first = _form_token(await browser.get("/console/sign-in", params={"next": "/console/processes"}))
        second = _form_token(await browser.get("/console/sign-in", params={"next": "/console/records"}))
        forged = await browser.post("/console/sign-in", data={**credentials, "form_token": "x" * 32})
        assert forged.status_code == 403 and "security token" in forged.text

        signed = await browser.post("/console/sign-in", data={**credentials, "form_token": first})
        assert signed.status_code == 303 and "stagecoach_session=" in signed.headers["set-cookie"], signed.text
        browser.cookies.delete("stagecoach_session")  # the other tab's session ended meanwhile
        again = await browser.post("/console/sign-in", data={**credentials, "form_token": second})
        assert again.status_code == 303 and "stagecoach_session=" in again.headers["set-cookie"], again.text

    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as other_browser:
        # another browser's cookie holds another token: the first browser's form does not sign in from it
        _form_token(await other_browser.get("/console/sign-in"))
        crossed = await other_browser.post("/console/sign-in", data={**credentials, "form_token": first})
        assert crossed.status_code == 403
