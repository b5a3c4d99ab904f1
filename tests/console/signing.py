"""Signing in to the console without a browser (httpx), for tests of what a browser would not send."""

from __future__ import annotations

import re

import httpx


def http_sign_in(client: httpx.Client, handle: str, password: str) -> httpx.Response:
    """Sign in as a browser does, without one: the form (its token and cookie), then the post."""
    page = client.get("/console/sign-in")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and token, page.text
    return client.post("/console/sign-in", data={"form_token": token.group(1), "handle": handle,
                                                 "password": password, "next": "/console"})


def csrf_token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def sign_in_async(client: httpx.AsyncClient, handle: str, password: str) -> httpx.Response:
    """`http_sign_in` for an API served in the test's own event loop."""
    page = await client.get("/console/sign-in")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and token, page.text
    return await client.post("/console/sign-in", data={"form_token": token.group(1), "handle": handle,
                                                       "password": password, "next": "/console"})
