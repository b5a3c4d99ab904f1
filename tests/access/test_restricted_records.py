"""Restricted records over HTTP: the owner and the listed users see them; changing the list changes who does."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from api.auth import Principal, create_key
from crm.access import hidden_process_records
from crm.models import ApiRole
from crm.process_runs import ProcessRun, RunStatus
from tests.e2e.conftest import Stack
from tests.factories import Factory

pytestmark = pytest.mark.e2e


async def staff_user(stack: Stack, sessions: Any, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    handle = f"{name}{uuid.uuid4().hex[:6]}"
    user = (await stack.http.post("/users", headers=stack.as_("admin"), json={
        "handle": handle, "name": f"{name.title()} Ferraro", "email": f"{handle}@agency.example"})).json()
    async with sessions() as session:
        _, key = await create_key(session, f"{name} key", ApiRole.staff, user_id=user["id"])
    return user, {"X-API-Key": key}


async def test_the_owner_and_the_listed_users_see_a_restricted_record(stack: Stack, sessions: Any) -> None:
    http = stack.http
    (owner, as_owner), (colleague, as_colleague) = await staff_user(stack, sessions, "owner"), \
        await staff_user(stack, sessions, "colleague")
    created = await http.post("/records", headers=as_owner, json={
        "kind": "lead", "title": "Confidential sale", "owner_id": owner["id"], "restricted": True})
    assert created.status_code == 201, created.text
    record = created.json()
    url = f"/records/{record['id']}"

    assert (await http.get(url, headers=as_owner)).status_code == 200
    assert (await http.get(url, headers=as_colleague)).status_code == 404
    assert (await http.get(url, headers=stack.as_("staff"))).status_code == 404  # a key of no user
    assert (await http.get(url, headers=stack.as_("admin"))).status_code == 200

    listed = await http.patch(url, headers=as_owner, json={"access_user_ids": [colleague["id"]]})
    assert listed.json()["access_user_ids"] == [colleague["id"]]
    assert (await http.get(url, headers=as_colleague)).status_code == 200
    titles = [r["title"] for r in (await http.get("/records", headers=as_colleague,
                                                   params={"q": "Confidential"})).json()]
    assert "Confidential sale" in titles

    opened = await http.patch(url, headers=as_owner, json={"restricted": False, "access_user_ids": []})
    assert opened.json()["restricted"] is False
    assert (await http.get(url, headers=stack.as_("staff"))).status_code == 200


async def test_an_unknown_user_on_the_access_list_changes_nothing(stack: Stack, sessions: Any) -> None:
    http, admin = stack.http, stack.as_("admin")
    record = (await http.post("/records", headers=admin, json={
        "kind": "lead", "title": "Quiet sale", "restricted": True})).json()
    response = await http.patch(f"/records/{record['id']}", headers=admin,
                                json={"title": "Renamed", "access_user_ids": [10**9]})
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"path": "body.access_user_ids[0]", "message": f"no user {10**9}"}]
    after = (await http.get(f"/records/{record['id']}", headers=admin)).json()
    assert after["title"] == "Quiet sale" and after["access_user_ids"] == []
    refused = await http.post("/records", headers=admin, json={
        "kind": "lead", "title": "Nobody", "restricted": True, "access_user_ids": [10**9]})
    assert refused.status_code == 422


async def test_a_restricted_record_with_no_owner_is_hidden_where_the_unseen_are_listed(
        sessions: Any, factory: Factory) -> None:
    """The records a user may NOT see, asked by negating the condition of those they may (the live processes left out
    of Temporal's list, the tags a user may not change): SQL's NULL made a restricted record with no owner neither
    seen nor unseen, so its running process was listed to everyone and its tag changed by anyone"""
    starter, maria = await factory.user(), await factory.user("Maria Bianchi")
    unowned = await factory.record(owner=None, title="Riservata", restricted=True)
    owned = await factory.record(owner=maria, title="Di Maria", restricted=True)
    async with sessions() as session:
        for record in (unowned, owned):
            session.add(ProcessRun(workflow_id=f"process-x-{record.id}-{uuid.uuid4().hex[:6]}", template_key="x",
                                   template_version=1, record_id=record.id, sequence=1, owner_id=starter.id,
                                   status=RunStatus.running))
        await session.commit()
        hidden = await hidden_process_records(session, Principal(key_id=None, name="m", role=ApiRole.staff,
                                                                 user_id=maria.id))
    assert unowned.id in hidden and owned.id not in hidden
