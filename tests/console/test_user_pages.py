"""The office's users in the console (an office had to use the API and the CLI to add a colleague): an admin adds
one with a console sign-in, changes them, sets a password (their sessions end); the last admin stays one; staff
change nothing."""

from __future__ import annotations

import html
import uuid
from typing import Any

import httpx
import pytest
from sqlmodel import select

from crm.models import User
from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


async def test_an_admin_adds_and_changes_a_colleague(stack: Stack, sessions: Any) -> None:
    admin = await staff_user(sessions, "Anna Admin", role="admin")
    staff = await staff_user(sessions)
    handle = f"marco{uuid.uuid4().hex[:6]}"
    base = str(stack.http.base_url)
    async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
        assert (await sign_in_async(browser, admin.user.handle, admin.password)).status_code == 303
        token = csrf_token(await browser.get("/console/users"))
        new = {"csrf_token": token, "handle": handle, "name": "Marco Tecnico", "email": f"{handle}@agency.example",
               "role": "installer", "password": "corta", "console_role": "staff"}
        refused = await browser.post("/console/users", data=new)
        assert refused.status_code == 422 and "A password has 10 to 1,000 characters." in refused.text
        assert 'aria-describedby="user-error"' in refused.text  # the fields point at the error, not at '"user-error"'
        assert f'value="{handle}"' in refused.text and "corta" not in refused.text  # kept, but not the password
        async with sessions() as session:
            assert (await session.exec(select(User).where(User.handle == handle))).first() is None
        added = await browser.post("/console/users", data={**new, "password": " a long pass phrase "})
        assert added.status_code == 303, added.text
        user_url = added.headers["location"].split("?")[0]
        shown = html.unescape((await browser.get(added.headers["location"])).text)
        assert "The user was added." in shown and "installer" in shown

        saved = await browser.post(user_url, data={"csrf_token": token, "form": "details", "name": "Marco Bianchi",
                                                   "email": f"{handle}@agency.example", "role": "installer"})
        assert saved.status_code == 303  # the active box left empty: made inactive
        users = (await stack.http.get("/users", headers=stack.as_("admin"), params={"limit": 500})).json()
        [marco] = [u for u in users if u["handle"] == handle]
        assert marco["name"] == "Marco Bianchi" and marco["active"] is False
        async with sessions() as session:  # every other console admin made staff: this one is the last
            for other in (await session.exec(select(User).where(User.console_role == "admin",
                                                                User.id != admin.user.id))).all():
                other.console_role = "staff"
                session.add(other)
            await session.commit()
        last = await browser.post(f"/console/users/{admin.user.id}", data={
            "csrf_token": token, "form": "sign_in", "password": "another long one", "console_role": "staff"})
        assert last.status_code == 409 and "last admin" in last.text
        inactive = await browser.post(f"/console/users/{admin.user.id}", data={  # the active box left empty
            "csrf_token": token, "form": "details", "name": "Anna Admin", "email": admin.user.email, "role": "x"})
        assert inactive.status_code == 409 and "last admin" in inactive.text
        made = await browser.post(user_url, data={"csrf_token": token, "form": "sign_in", "console_role": "admin"})
        assert made.status_code == 303  # Marco an admin (his role alone: no new password), but inactive
        still = await browser.post(f"/console/users/{admin.user.id}", data={
            "csrf_token": token, "form": "sign_in", "password": "another long one", "console_role": "staff"})
        assert still.status_code == 409  # an inactive admin cannot sign in: Anna is still the last one
        await stack.http.patch(f"/users/{marco['id']}", headers=stack.as_("admin"), json={"active": True})
        demoted = await browser.post(f"/console/users/{admin.user.id}", data={
            "csrf_token": token, "form": "sign_in", "password": "another long one", "console_role": "staff"})
        assert demoted.status_code == 303, demoted.text

    await stack.http.patch(f"/users/{marco['id']}", headers=stack.as_("admin"), json={"active": False})
    async with httpx.AsyncClient(base_url=base, timeout=30) as browser:  # inactive: refused as a wrong password is
        assert (await sign_in_async(browser, handle, " a long pass phrase ")).status_code != 303
    await stack.http.patch(f"/users/{marco['id']}", headers=stack.as_("admin"), json={"active": True})
    async with httpx.AsyncClient(base_url=base, timeout=30) as browser:  # the password as typed, spaces and all
        assert (await sign_in_async(browser, handle, " a long pass phrase ")).status_code == 303
        await stack.http.patch(f"/users/{marco['id']}", headers=stack.as_("admin"), json={"active": False})
        assert "/console/sign-in" in (await browser.get("/console")).headers.get("location", "")  # signed out
    async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        page = await browser.get("/console/users")
        assert handle in page.text and "Add a user" not in page.text
        refused = await browser.post("/console/users", data={**new, "csrf_token": csrf_token(page),
                                                            "handle": f"x{handle}", "password": ""})
        assert refused.status_code == 403 and "Only an admin changes the users" in refused.text
