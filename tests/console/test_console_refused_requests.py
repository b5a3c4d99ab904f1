"""A staff request the process refuses is said in the office's language on the process page: the refusal's text
with its values (the phase's key as written, its status in the console's words), not the API's English."""

from __future__ import annotations

import ast
import html
import uuid
from pathlib import Path

import httpx
import pytest

from api.console.i18n import translator
from api.console.refusals import refusal
from processes.errors import InvalidPhaseState, ProcessFinished
from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.e2e.conftest import Stack
from tests.polling import eventually

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = """
key: {key}
name: Refusals
controller_email: controller@agency.example
record_kind: lead
phases:
  - {{key: one, name: One, completion: manual}}
  - {{key: two, name: Two, completion: manual}}
"""


@pytest.mark.e2e
@pytest.mark.parametrize("stack", ["it"], indirect=True)
async def test_a_refused_skip_is_said_in_italian(stack: Stack, sessions: object) -> None:
    """Skip phase one over the API, then again from the Italian console: 409, said in Italian"""
    admin, key = stack.as_("admin"), f"refused-{uuid.uuid4().hex[:8]}"
    assert (await stack.http.post("/templates", headers={**admin, "Content-Type": "application/yaml"},
                                  content=TEMPLATE.format(key=key))).status_code == 201
    staff = await staff_user(sessions)
    record = (await stack.http.post("/records", headers=admin, json={"kind": "lead", "title": f"Refused {key}",
                                                                      "owner_id": staff.user.id})).json()
    workflow_id = (await stack.http.post("/processes", headers=admin,
                                         json={"template": key, "record_id": record["id"]})).json()["workflow_id"]

    async def waits_in_two() -> bool:
        state = (await stack.http.get(f"/processes/{workflow_id}", headers=admin)).json()
        return state.get("current_phase") == "two"

    skipped = await stack.http.post(f"/processes/{workflow_id}/skip", headers=admin, json={"phase": "one"})
    assert skipped.status_code == 200, skipped.text
    await eventually(waits_in_two, what="the process waits in phase two")

    url = f"/console/processes/{workflow_id}"
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        token = csrf_token(await browser.get(url))
        again = await browser.post(f"{url}/skip", data={"csrf_token": token, "phase": "one", "reason": "di nuovo"})
    assert again.status_code == 409, again.text
    page = html.unescape(again.text)
    assert "la fase 'one' è già chiusa (stato: saltato)" in page, page
    assert "is already skipped" not in page
    # over the API the refusal stays as it was
    api = await stack.http.post(f"/processes/{workflow_id}/skip", headers=admin, json={"phase": "one"})
    assert api.status_code == 409 and "phase 'one' is already skipped" in api.json()["detail"], api.text


def _refusal_texts() -> set[str]:
    """The texts of every worded refusal: `_refuse(Error, "text", ...)` in the workflow, `.worded("text", ...)`."""
    found = set()
    for path in [ROOT / "workflows" / "staff_requests.py", *(ROOT / "api").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            args = node.args[1:] if name == "_refuse" else node.args if name == "worded" else []
            if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
                found.add(args[0].value)
    return found


def test_every_worded_refusal_has_its_italian() -> None:
    """A refusal's text changed in English without its Italian would show in English: each one is in the table"""
    texts = _refusal_texts()
    assert "phase '{phase}' is already {status}" in texts and "task {task} is already {status}" in texts
    _ = translator("it")
    assert not [text for text in texts if _(text) == text]


def test_a_refusal_without_its_words_stays_as_written() -> None:
    """A fixed message is looked up whole; one the console has no words for, or from a process that sent no
    wording (code before it), is shown as the API wrote it"""
    _ = translator("it")
    assert refusal(ProcessFinished("the process is being aborted"), _) == "il processo è in corso di interruzione"
    assert refusal(InvalidPhaseState("phase 'x' is already done"), _) == "phase 'x' is already done"
    worded = InvalidPhaseState.worded("task {task} is already {status}", task=7, status="done")
    assert worded.message == "task 7 is already done"
    assert refusal(worded, _) == "l'attività 7 è già chiusa (stato: fatto)"
    assert refusal(worded, translator("en")) == "task 7 is already done"
