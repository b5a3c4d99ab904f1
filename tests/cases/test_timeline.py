"""A case's timeline over HTTP: what happened by itself, and events staff add by hand, with users told by email."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cases.helpers import case, contact, history, mail_to, running_process, user
from tests.e2e.conftest import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e


async def test_the_timeline_holds_what_happened_and_events_added_by_hand(stack: Stack) -> None:
    http, staff = stack.http, stack.as_("staff")
    owner, told = await user(stack, "owner"), await user(stack, "told")
    matter = await case(stack, "Boundary dispute", owner_id=owner["id"])
    neighbour = await contact(stack, "The Neighbour")
    await http.post(f"/cases/{matter['id']}/participants", headers=staff, json={"contact_id": neighbour["id"]})
    await running_process(stack, matter["id"])
    task = (await http.post("/tasks", headers=staff, json={"record_id": matter["id"], "title": "Survey the fence",
                                                           "assignee_id": owner["id"]})).json()
    await http.post(f"/tasks/{task['id']}/complete", headers=staff)

    call = await http.post(f"/records/{matter['id']}/events", headers=staff, json={
        "kind": "call", "description": "The neighbour agrees to a survey", "occurred_at": "2026-11-30T10:15:00+01:00",
        "notify_user_ids": [told["id"]]})
    assert call.status_code == 201, call.text
    assert call.json()["kind"] == "call" and call.json()["data"]["occurred_at"] == "2026-11-30T10:15:00+01:00"
    for kind in ("note", "email", "meeting"):
        response = await http.post(f"/records/{matter['id']}/events", headers=staff,
                                   json={"kind": kind, "description": f"A {kind}"})
        assert response.status_code == 201, response.text
    [mail] = await mail_to(stack, told["email"])
    assert mail["Subject"] == "Call on Boundary dispute"
    assert "The neighbour agrees to a survey" in mail.get_content()

    for bad in ({"kind": "fax", "description": "x"}, {"kind": "note", "description": ""},
                {"kind": "note", "description": "x", "occurred_at": "2026-11-30T10:15:00"},
                {"kind": "note", "description": "x", "notify_user_ids": [2**30]}):
        response = await http.post(f"/records/{matter['id']}/events", headers=staff, json=bad)
        assert response.status_code in (404, 422), (bad, response.text)

    await http.post(f"/cases/{matter['id']}/close", headers=staff, json={"running_processes": "abort"})
    kinds = [line["kind"] for line in await _settled(stack, matter["id"])]
    for expected in ("case_created", "participant_added", "process_started", "task_created", "task_completed",
                     "call", "note", "email_logged", "meeting", "case_closed", "email_sent"):
        assert expected in kinds, (expected, kinds)
    assert kinds.count("note") == 1  # the refused events wrote nothing


async def _settled(stack: Stack, case_id: int) -> list[dict[str, Any]]:
    async def with_notice() -> list[dict[str, Any]]:
        lines = await history(stack, case_id)
        return lines if any(line["kind"] == "email_sent" for line in lines) else []

    return await eventually(with_notice, what="the notice's line")  # type: ignore[no-any-return]
