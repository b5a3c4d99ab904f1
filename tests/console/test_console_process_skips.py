"""The process page says who skipped each phase and why: a phase skipped on its own by its skip's actor and reason,
a phase the abort ended by who aborted the process and their reason, never "skipped by ?"; a skip the process
refuses is said in the office's language."""

from __future__ import annotations

import html
import uuid
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.e2e.conftest import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e

TEMPLATE = """
key: {key}
name: Skips
controller_email: controller@agency.example
record_kind: lead
phases:
  - {{key: one, name: One, completion: manual, actions: [{{add_history: {{text: "una nota"}}}}]}}
  - {{key: two, name: Two, completion: manual}}
  - {{key: three, name: Three, completion: manual}}
"""


async def _state(stack: Stack, workflow_id: str) -> dict[str, Any]:
    return (await stack.http.get(f"/processes/{workflow_id}", headers=stack.as_("admin"))).json()


async def _skipped_one(stack: Stack, sessions: Any) -> tuple[Any, str]:
    """A staff user, and the process of the template above on their record, its phase one skipped over the API
    (the admin key) with the reason "not needed": it waits in phase two."""
    admin, key = stack.as_("admin"), f"skips-{uuid.uuid4().hex[:8]}"
    assert (await stack.http.post("/templates", headers={**admin, "Content-Type": "application/yaml"},
                                  content=TEMPLATE.format(key=key))).status_code == 201
    staff = await staff_user(sessions)
    record = (await stack.http.post("/records", headers=admin, json={"kind": "lead", "title": f"Skips {key}",
                                                                      "owner_id": staff.user.id})).json()
    workflow_id = (await stack.http.post("/processes", headers=admin,
                                         json={"template": key, "record_id": record["id"]})).json()["workflow_id"]
    await eventually(lambda: _waits_in(stack, workflow_id, "one"), what="the process waits in phase one")
    skipped = await stack.http.post(f"/processes/{workflow_id}/skip", headers=admin,
                                    json={"phase": "one", "reason": "not needed"})
    assert skipped.status_code == 200, skipped.text
    await eventually(lambda: _waits_in(stack, workflow_id, "two"), what="the process waits in phase two")
    return staff, workflow_id


async def test_phases_ended_by_an_abort_say_who_aborted_and_why(stack: Stack, sessions: Any, dev_env: Any) -> None:
    """Skip phase one, abort in phase two from the console: one skipped by its skip, two by the abort; a skip sent
    afterwards from the same tab is refused, and said"""
    staff, workflow_id = await _skipped_one(stack, sessions)

    url = f"/console/processes/{workflow_id}"
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        token = csrf_token(await browser.get(url))
        aborted = await browser.post(f"{url}/abort", data={"csrf_token": token, "confirm": "1",
                                                            "reason": "il cliente ha rinunciato"})
        assert aborted.status_code == 303, aborted.text
        await eventually(lambda: _ended(stack, workflow_id), what="the process is aborted")
        page = await browser.get(url)
        # its run closed in Temporal too (until then the run itself refuses: "the process has ended (aborted)")
        await eventually(lambda: _closed(dev_env.client, workflow_id), what="the run is closed")
        stale = await browser.post(f"{url}/skip", data={"csrf_token": token, "phase": "three", "reason": "tab"})
    assert page.status_code == 200
    # a form from a tab opened before the abort: the page draws no form now, so the refusal is said at its top
    assert stale.status_code == 409 and 'id="do-h"' not in stale.text, stale.text
    alert = stale.text.split('role="alert">', 1)[1].split("</p>", 1)[0]
    assert f"process {workflow_id} has ended; it takes no more requests" in alert, alert
    actor = staff.user.name  # the history keeps user:{id}:{handle}; staff read the name
    one, two, three = (page.text.split(f'id="phase-{key}"', 1)[1].split("</li>", 1)[0]
                       for key in ("one", "two", "three"))
    assert "?" not in one + two and "process aborted" not in two, two
    assert "skipped by API key “" in one and ": not needed" in one and f"by {actor}" not in one, one  # the admin key's
    assert f"skipped by {actor} (aborted: il cliente ha rinunciato)" in two, two
    assert "skipped" not in three, three  # never reached: pending
    assert "· </p>" not in one, one  # the phase's facts joined, none left dangling


@pytest.mark.parametrize("stack", ["it"], indirect=True)
async def test_a_refused_skip_is_said_in_italian(stack: Stack, sessions: Any) -> None:
    """Phase one skipped over the API, then again from the Italian console: 409, said in Italian; the API still
    says it in English"""
    staff, workflow_id = await _skipped_one(stack, sessions)
    url = f"/console/processes/{workflow_id}"
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        token = csrf_token(await browser.get(url))
        again = await browser.post(f"{url}/skip", data={"csrf_token": token, "phase": "one", "reason": "di nuovo"})
    assert again.status_code == 409, again.text
    page = html.unescape(again.text)
    assert "la fase 'one' è già chiusa (stato: saltato)" in page, page
    assert "is already skipped" not in page
    assert "nota nello storico</span> eseguita: voce " in page and " aggiunta alla cronologia" in page, page  # its summary
    api = await stack.http.post(f"/processes/{workflow_id}/skip", headers=stack.as_("admin"), json={"phase": "one"})
    assert api.status_code == 409 and "phase 'one' is already skipped" in api.json()["detail"], api.text


async def _waits_in(stack: Stack, workflow_id: str, phase: str) -> bool:
    return (await _state(stack, workflow_id)).get("current_phase") == phase


async def _ended(stack: Stack, workflow_id: str) -> bool:
    return (await _state(stack, workflow_id)).get("status") == "aborted"


async def _closed(client: Client, workflow_id: str) -> bool:
    return (await client.get_workflow_handle(workflow_id).describe()).status != WorkflowExecutionStatus.RUNNING
