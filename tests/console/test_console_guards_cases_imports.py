"""The cases, tasks and imports pages against what a browser would not send: forms without their token, a hidden
case, someone else's import, bad task forms, odd addresses. Each is refused with a page saying why, and changes
nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


async def test_cases_tasks_and_imports_refuse_what_they_must(stack: Stack, sessions: Any) -> None:
    """No token, no form; a restricted case and another user's import do not exist; bad tasks are shown; odd
    addresses never answer 500"""
    staff, other = await staff_user(sessions), await staff_user(sessions, "Luca Bianchi")
    admin = stack.as_("admin")
    tag = uuid.uuid4().hex[:8]
    hidden = (await stack.http.post("/cases", headers=admin, json={"name": f"Hidden {tag}", "restricted": True})).json()
    seen = (await stack.http.post("/cases", headers=admin, json={"name": f"Seen {tag}", "tags": [tag]})).json()
    base = str(stack.http.base_url)
    body = f"title;email\nOne {tag};one.{tag}@example.org\n".encode()

    async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        token = csrf_token(await browser.get("/console/imports"))
        # forms without the session's token are refused, nothing done
        files = {"file": ("x.csv", body, "text/csv")}
        assert (await browser.post("/console/imports", data={"kind": "contacts"}, files=files)).status_code == 403
        assert (await browser.post("/console/tasks", data={"record_id": str(seen["id"]), "title": "x"})).status_code == 403
        tasks = (await stack.http.get("/tasks", headers=admin, params={"record_id": seen["id"], "assignee_id": staff.user.id}))
        assert tasks.json() == []

        # a restricted case is not found, and not listed
        assert (await browser.get(f"/console/cases/{hidden['id']}")).status_code == 404
        listed = await browser.get("/console/cases", params={"q": tag})
        assert f"Seen {tag}" in listed.text and f"Hidden {tag}" not in listed.text
        task_on_hidden = await browser.post("/console/tasks", data={"csrf_token": token, "record_id": str(hidden["id"]),
                                                                    "title": "peek"})
        assert task_on_hidden.status_code == 422 and f"no record {hidden['id']}" in task_on_hidden.text  # as if missing

        # a task form got wrong is shown with its error (on the case's page when it came from there)
        for form, status, says in (({"record_id": "x", "title": "t"}, 422, "number of the record"),
                                   ({"record_id": str(seen["id"]), "title": ""}, 422, "title"),
                                   ({"record_id": str(seen["id"]), "title": "t", "due_at": "tomorrow"}, 422, "due"),
                                   ({"record_id": str(seen["id"]), "title": "t", "category": "nope"}, 422, "nope")):
            refused = await browser.post("/console/tasks", data={"csrf_token": token, **form})
            assert refused.status_code == status and says in refused.text and 'id="task-error"' in refused.text
        from_case = await browser.post("/console/tasks", data={"csrf_token": token, "record_id": str(seen["id"]),
                                                               "title": "", "back": f"/console/cases/{seen['id']}"})
        assert from_case.status_code == 422 and f"Seen {tag}" in from_case.text
        away = await browser.post("/console/tasks", data={"csrf_token": token, "record_id": str(seen["id"]),
                                                          "title": "Call", "back": "//elsewhere.example/x"})
        assert away.status_code == 303 and away.headers["location"] == "/console/tasks?done=task_added"
        [made] = (await stack.http.get("/tasks", headers=admin, params={"record_id": seen["id"]})).json()
        today = (await browser.get("/console")).text  # a task staff made is theirs today too (it was left out)
        assert f'id="task-{made["id"]}"' in today.split('id="tasks-h"')[1]
        assert 'href="/console/processes/"' not in today  # a task of no process had an empty link (no text, no target)
        # closed in one tab, then again in another: the message is on the page the form was on, above its list
        for back, page in (("/console/tasks?done=task", "tasks"), ("", "today")):
            closed = await browser.post(f"/console/tasks/{made['id']}/complete", data={
                "csrf_token": token, "idempotency_key": uuid.uuid4().hex, "back": back})
            assert closed.status_code in (303, 409), closed.text
            if closed.status_code == 303 and back:  # it had said ?done=task&done=task
                assert closed.headers["location"] == "/console/tasks?done=task"
            again = await browser.post(f"/console/tasks/{made['id']}/complete", data={
                "csrf_token": token, "idempotency_key": uuid.uuid4().hex, "back": back})
            assert again.status_code == 409, again.text
            assert f"task {made['id']} is already done" in again.text, page
            assert (page == "tasks") == ('id="tasks-error"' in again.text)

        # an import: no file, then a file with an unmappable mapping, then someone else cannot see it
        assert (await browser.post("/console/imports", data={"csrf_token": token, "kind": "contacts"})).status_code == 422
        sent = await browser.post("/console/imports", data={"csrf_token": token, "kind": "contacts"}, files=files)
        assert sent.status_code == 303, sent.text
        job_url = sent.headers["location"]
        unmapped = await browser.post(f"{job_url}/start", data={"csrf_token": token, "column-1": "email"})
        assert unmapped.status_code == 422 and "no column maps to &#39;title&#39;" in unmapped.text
        wrong_field = await browser.post(f"{job_url}/start", data={"csrf_token": token, "column-0": "nonsense"})
        assert wrong_field.status_code == 422 and "not a field of contacts" in wrong_field.text

    async with httpx.AsyncClient(base_url=base, timeout=30) as someone:
        assert (await sign_in_async(someone, other.user.handle, other.password)).status_code == 303
        other_token = csrf_token(await someone.get("/console/imports"))
        assert (await someone.get(job_url)).status_code == 404
        assert (await someone.get(f"{job_url}/rejected")).status_code == 404
        assert (await someone.post(f"{job_url}/start", data={"csrf_token": other_token,
                                                            "column-0": "title"})).status_code == 404
        assert job_url not in (await someone.get("/console/imports")).text
        for odd in ("/console/cases/99999999999999999999", "/console/cases/2147483648", "/console/imports/2147483648",
                    "/console/imports/99999999999999999999/rejected", "/console/cases?state=nope&offset=-1&tag=" + "x" * 300,
                    "/console/tasks?done=" + "x" * 300):
            answered = await someone.get(odd)
            assert answered.status_code < 500, (odd, answered.status_code, answered.text[:300])
