"""The API keys in the console (an office had to use the API or the CLI to give a program a key): an admin makes one,
sees it once, and revokes it; a form sent twice makes one key; a wrong form makes none; staff see none of it."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import Page
from sqlmodel import select

from api.auth import principal_for
from crm.models import ApiKey, ApiRole
from tests.console.conftest import sign_in, staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.console.test_console_pages import _accessible
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def _shown_key(page: httpx.Response) -> str:
    found = re.search(r'id="made-key"[^>]* value="(sc_[^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def _form_key(page: httpx.Response) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def _keys_named(sessions: Any, name: str) -> list[ApiKey]:
    async with sessions() as session:
        return list((await session.exec(select(ApiKey).where(ApiKey.name == name))).all())


async def test_an_admin_makes_a_key_sees_it_once_and_revokes_it(stack: Stack, sessions: Any) -> None:
    admin = await staff_user(sessions, "Anna Admin", role="admin")
    colleague = await staff_user(sessions, "Marco Bianchi")
    name = f"sito web {uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, admin.user.handle, admin.password)).status_code == 303
        page = await browser.get("/console/api-keys")
        assert page.status_code == 200 and 'href="/console/api-keys" aria-current="page"' in page.text
        assert "e2e admin" in page.text  # the keys there are, by name, never their secret
        assert stack.keys["admin"] not in page.text and stack.keys["admin"][:10] in page.text
        token, once = csrf_token(page), _form_key(page)

        for wrong, said in (({"name": " ", "role": "staff"}, "Name:"), ({"name": name, "role": "root"}, "Role:"),
                            ({"name": name, "role": "staff", "user_id": "Marco"}, "Acts as:"),
                            ({"name": name, "role": "staff", "user_id": "999999999"}, "999999999")):
            refused = await browser.post("/console/api-keys", data={"csrf_token": token, "idempotency_key": once,
                                                                     **wrong})
            assert refused.status_code in (404, 422) and said in html.unescape(refused.text), (wrong, refused.text)
            assert 'aria-describedby="key-error"' in refused.text
        assert await _keys_named(sessions, name) == []
        for hostile, said in (({"name": "rosso\x1b[31m", "role": "staff"}, "U+001B"),
                              ({"name": name, "role": "staff", "user_id": "9" * 25}, "too large")):
            refused = await browser.post("/console/api-keys", data={"csrf_token": token, **hostile})
            assert refused.status_code == 422 and said in html.unescape(refused.text), refused.text
            assert refused.headers["content-type"].startswith("text/html")  # the console's page, not the API's JSON
        inactive = await staff_user(sessions, "Ex Collega")
        await stack.http.patch(f"/users/{inactive.user.id}", headers=stack.as_("admin"), json={"active": False})
        refused = await browser.post("/console/api-keys", data={"csrf_token": token, "name": name, "role": "staff",
                                                                "user_id": str(inactive.user.id)})
        assert refused.status_code == 422 and "is not active" in refused.text
        assert await _keys_named(sessions, name) == []

        new = {"csrf_token": token, "idempotency_key": once, "name": name, "role": "staff",
               "user_id": str(colleague.user.id)}
        made = await browser.post("/console/api-keys", data=new)
        assert made.status_code == 200, made.text
        key = _shown_key(made)
        assert "it is not shown again" in made.text and made.headers["cache-control"] == "no-store"
        [row] = await _keys_named(sessions, name)
        assert row.role == ApiRole.staff and row.user_id == colleague.user.id and key.startswith(row.prefix)
        assert (await stack.http.get("/records", headers={"X-API-Key": key})).status_code == 200
        await stack.http.patch(f"/users/{colleague.user.id}", headers=stack.as_("admin"), json={"active": False})
        async with sessions() as session:
            assert await principal_for(session, key) is None  # the key of a user made inactive acts for no one
        await stack.http.patch(f"/users/{colleague.user.id}", headers=stack.as_("admin"), json={"active": True})

        again = await browser.post("/console/api-keys", data=new)  # a reload of the answer, or a double click
        assert again.status_code == 409 and "made its key already" in again.text and "sc_" + key[3:] not in again.text
        assert len(await _keys_named(sessions, name)) == 1
        assert key not in (await browser.get("/console/api-keys")).text  # shown once only

        unconfirmed = await browser.post(f"/console/api-keys/{row.id}", data={"csrf_token": token})
        assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.text
        assert (await stack.http.get("/records", headers={"X-API-Key": key})).status_code == 200
        revoked = await browser.post(f"/console/api-keys/{row.id}", data={"csrf_token": token, "confirm": "1"})
        assert revoked.status_code == 303 and revoked.headers["location"] == "/console/api-keys?done=key_revoked"
        assert (await stack.http.get("/records", headers={"X-API-Key": key})).status_code == 401  # at once
        listed = await browser.get(revoked.headers["location"])
        assert "The key was revoked" in listed.text and "revoked " in listed.text
        [row] = await _keys_named(sessions, name)
        assert row.revoked_at is not None
        missing = await browser.post("/console/api-keys/999999999", data={"csrf_token": token, "confirm": "1"})
        assert missing.status_code == 404
        opened = await browser.get(f"/console/api-keys/{row.id}", follow_redirects=False)  # the form's address
        assert opened.status_code == 303 and opened.headers["location"] == "/console/api-keys"


async def test_staff_see_no_keys_and_make_none(stack: Stack, sessions: Any) -> None:
    staff = await staff_user(sessions)
    name = f"di nascosto {uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        home = await browser.get("/console")
        assert "/console/api-keys" not in home.text
        page = await browser.get("/console/api-keys")
        assert page.status_code == 403 and "Only an admin manages the API keys" in page.text
        assert "This form was refused" not in page.text  # a page, not a form: nothing to send again
        assert "e2e admin" not in page.text
        token = csrf_token(home)
        made = await browser.post("/console/api-keys", data={"csrf_token": token, "name": name, "role": "admin"})
        assert made.status_code == 403 and "sc_" not in made.text
        assert await _keys_named(sessions, name) == []
        async with sessions() as session:
            some = (await session.exec(select(ApiKey).where(ApiKey.name == "e2e client"))).first()
        assert some is not None
        kept = await browser.post(f"/console/api-keys/{some.id}", data={"csrf_token": token, "confirm": "1"})
        assert kept.status_code == 403
        async with sessions() as session:
            assert (await session.get(ApiKey, some.id)).revoked_at is None  # type: ignore[union-attr]


@pytest.mark.parametrize("stack", ["it"], indirect=True)
async def test_the_keys_page_in_italian(stack: Stack, sessions: Any) -> None:
    admin = await staff_user(sessions, "Anna Admin", role="admin")
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, admin.user.handle, admin.password)).status_code == 303
        page = await browser.get("/console/api-keys")
        shown = html.unescape(page.text)
        assert "<h1>Chiavi API</h1>" in shown and "Crea la chiave" in shown and "cliente" in shown
        made = await browser.post("/console/api-keys", data={"csrf_token": csrf_token(page), "name": "Modulo",
                                                             "role": "client"})
        assert made.status_code == 200 and "non verrà più mostrata" in html.unescape(made.text)


async def test_a_key_made_and_revoked_in_chromium(stack: Stack, sessions: Any, page: Page) -> None:
    """What an admin does in the browser: the page from the menu, a key made and copied, the key revoked once the
    box is ticked; axe finds nothing serious on the page, with the key shown or not."""
    admin = await staff_user(sessions, "Chiara Conti", role="admin")
    base = str(stack.http.base_url).rstrip("/")
    name = f"gestionale {uuid.uuid4().hex[:6]}"
    await sign_in(page, base, admin)
    await page.get_by_role("link", name="API keys").click()
    await page.wait_for_url(f"{base}/console/api-keys")
    await _accessible(page, "api-keys")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Role").select_option("client")
    await page.get_by_role("button", name="Make the key").click()
    key = await page.get_by_label("The key").input_value()
    assert key.startswith("sc_")
    assert (await stack.http.get("/processes/none", headers={"X-API-Key": key})).status_code != 401
    await _accessible(page, "api-key-made")
    row = page.get_by_role("row").filter(has_text=name)
    await row.get_by_role("button", name="Revoke").click()  # the box not ticked: the browser asks for it
    assert [k.revoked_at for k in await _keys_named(sessions, name)] == [None]
    await row.get_by_label(f"Yes, revoke {name}").check()
    await row.get_by_role("button", name="Revoke").click()
    await page.wait_for_url(f"{base}/console/api-keys?done=key_revoked")
    assert (await stack.http.get("/processes/none", headers={"X-API-Key": key})).status_code == 401
