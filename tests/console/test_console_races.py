"""The same console form sent several times at once (two staff members, a double click, a drag and drop while the form
is clicked): one applies, the others are refused with the API's 409 on the page, never a 500. The losers' refusals
come after a rollback of the request's database session, which must not cost the page who is signed in."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.e2e.conftest import Stack
from tests.e2e.test_client_requests_over_http import setup

pytestmark = pytest.mark.e2e


async def test_forms_sent_at_once_apply_once_and_refuse_the_rest(stack: Stack, sessions: Any) -> None:
    """Moves of a record from its page and from the board, cancels of a client request: one done, the rest 409"""
    staff = await staff_user(sessions, role="admin")
    tag, admin, _owner = await setup(stack)
    lead = (await stack.http.post("/records", headers=admin, json={"kind": "lead", "title": f"Raced {tag}"})).json()
    job = (await stack.http.post("/records", headers=admin, json={
        "kind": "job", "title": f"730 {tag}", "email": f"c{tag}@example.org"})).json()
    pending = (await stack.http.post(f"/records/{job['id']}/client-requests", headers=admin,
                                     json={"template": f"docs-{tag}"})).json()["id"]

    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        token = csrf_token(await browser.get(f"/console/records/{lead['id']}"))
        move = {"csrf_token": token, "to": "Contacted", "expected_status": lead["status"]}
        moves = await asyncio.gather(*(browser.post(f"/console/records/{lead['id']}/move", data={**move, "back": back})
                                       for back in ("", "", "/console/board", "/console/board")))
        assert sorted(r.status_code for r in moves) == [303, 409, 409, 409], [(r.status_code, r.text[:300])
                                                                               for r in moves]
        assert all("<html" in r.text for r in moves if r.status_code == 409)

        cancel = {"csrf_token": token, "from": "record", "record": str(job["id"]), "confirm": "1"}
        cancels = await asyncio.gather(*(browser.post(f"/console/client-requests/{pending}/cancel", data=cancel)
                                         for _ in range(3)))
        assert sorted(r.status_code for r in cancels) == [303, 409, 409], [(r.status_code, r.text[:300])
                                                                           for r in cancels]
        assert all(f'id="request-error-{pending}"' in r.text for r in cancels if r.status_code == 409)
