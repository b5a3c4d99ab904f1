"""A refused form on a process's or a record's page comes back with what was typed in it, and says what is wrong as
the form labels the field (no pydantic path, no API field name, no advice about a field the form has not)."""

from __future__ import annotations

import html
import uuid
from typing import Any

import httpx
import pytest

from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.console.test_console_guards import TEMPLATE, _current
from tests.e2e.conftest import Stack
from tests.e2e.test_client_requests_over_http import setup
from tests.polling import eventually

pytestmark = pytest.mark.e2e


def _shown(page: httpx.Response) -> str:
    return html.unescape(page.text)


async def test_a_refused_form_keeps_what_was_typed(stack: Stack, sessions: Any) -> None:
    """Complete, skip and abort on a process; move, send and link on a record: each refused, each kept"""
    staff = await staff_user(sessions)
    tag, admin, _owner = await setup(stack)
    key = f"kept-{uuid.uuid4().hex[:8]}"
    assert (await stack.http.post("/templates", headers={**admin, "Content-Type": "application/yaml"},
                                  content=TEMPLATE.format(key=key))).status_code == 201
    lead = (await stack.http.post("/records", headers=admin, json={"kind": "lead", "title": f"Kept {key}",
                                                                    "owner_id": staff.user.id})).json()
    job = (await stack.http.post("/records", headers=admin, json={
        "kind": "job", "title": f"730 {tag}", "email": f"c{tag}@example.org"})).json()
    mute = (await stack.http.post("/records", headers=admin, json={"kind": "job", "title": f"No address {tag}"})).json()
    started = await stack.http.post("/processes", headers=admin, json={"template": key, "record_id": lead["id"]})
    workflow_id = started.json()["workflow_id"]
    await eventually(lambda: _current(stack, workflow_id, "one"), what="the process waits in phase one")
    url = f"/console/processes/{workflow_id}"

    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        token = csrf_token(await browser.get(url))

        notes = "esito: chiamato\nrichiamare: lunedì & martedì\nnota senza due punti"
        badly = await browser.post(f"{url}/complete", data={"csrf_token": token, "phase": "one", "answers": notes})
        assert badly.status_code == 422 and "line 3: write each answer as name: value" in badly.text
        assert f">{html.escape(notes, quote=False)}</textarea>" in badly.text
        too_long = await browser.post(f"{url}/complete", data={"csrf_token": token, "phase": "one",
                                                               "answers": "note: " + "x" * 3000})
        assert too_long.status_code == 422 and "Answer 'note': at most 2000 characters" in _shown(too_long)
        assert "constrained-str" not in too_long.text and "x" * 3000 in too_long.text
        skipped = await browser.post(f"{url}/skip", data={"csrf_token": token, "phase": "three", "reason": "r" * 600})
        assert skipped.status_code == 422 and "Reason: at most 500 characters" in skipped.text
        assert 'value="three" selected' in skipped.text and f'value="{"r" * 600}"' in skipped.text
        unconfirmed = await browser.post(f"{url}/abort", data={"csrf_token": token, "reason": "motivo"})
        assert unconfirmed.status_code == 422 and 'id="abort-reason" name="reason" required maxlength="500" ' \
            'value="motivo"' in unconfirmed.text
        assert await _current(stack, workflow_id, "one")

        moved = await browser.post(f"/console/records/{lead['id']}/move", data={
            "csrf_token": token, "to": "Won", "reason": "m" * 1001, "expected_status": lead["status"]})
        assert moved.status_code == 422 and "Reason: at most 1000 characters" in moved.text
        assert f'value="{"m" * 1001}"' in moved.text and 'value="Won"' in moved.text

        template = f"docs-{tag}"
        for days in ("abc", "0", "99999", "1_0", "+5"):  # 1_0 and +5 were taken as 10 and 5 days
            sent = await browser.post(f"/console/records/{job['id']}/client-requests",
                                      data={"csrf_token": token, "template": template, "expires_days": days})
            assert sent.status_code == 422, days
            assert "Expires after: a whole number of days from 1 to 3650" in sent.text, days
            assert f'value="{days}"' in sent.text and f'value="{template}" selected' in sent.text, days
        no_address = await browser.post(f"/console/records/{mute['id']}/client-requests",
                                        data={"csrf_token": token, "template": template})
        assert no_address.status_code == 422 and "give `contact_email`" not in no_address.text
        assert f"record {mute['id']} has no email address (nor a contact with one): write one in “Send to”" \
            in no_address.text
        linked = await browser.post(f"/console/records/{job['id']}/client-requests/link",
                                    data={"csrf_token": token, "request_id": "999999"})
        assert linked.status_code == 404 and 'size="8" required value="999999"' in linked.text
