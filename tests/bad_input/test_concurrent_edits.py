"""Changes of one record sent at the same time (served by uvicorn, on SQLite and PostgreSQL): each `PATCH` reads what
the one before wrote, so none undoes another (twenty free fields sent at once kept one), and each history line says
what its change found; a free field changed from `false` to `0` is changed (the ORM took them as equal)."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from api.auth import create_key
from crm.models import ApiKey, ApiRole
from crm.types import utcnow
from tests.bad_input.conftest import Api


async def test_patches_sent_at_once_each_keep_their_change(served_api: Api) -> None:
    staff = served_api.as_("staff")
    made = await served_api.http.post("/records", headers=staff, json={"kind": "lead", "title": "R0"})
    assert made.status_code == 201, made.text
    record = f"/records/{made.json()['id']}"
    answers = await asyncio.gather(*(served_api.http.patch(record, headers=staff, json={"fields": {f"f{i}": i}})
                                     for i in range(20)))
    assert [a.status_code for a in answers] == [200] * 20
    assert (await served_api.http.get(record, headers=staff)).json()["fields"] == {f"f{i}": i for i in range(20)}
    answers = await asyncio.gather(*(served_api.http.patch(record, headers=staff, json={"title": f"R{i}"})
                                     for i in range(1, 11)))
    assert [a.status_code for a in answers] == [200] * 10
    history = (await served_api.http.get(f"{record}/history", headers=staff)).json()
    titles = [line["text"] for line in history if line["kind"] == "values_written" and "title" in line["text"]]
    # each line's "from" is the title the line before it wrote: a chain from R0 to the title kept
    found = [text.removeprefix("Changed: title ").split(" → ") for text in titles]
    assert len(found) == 10 and found[0][0] == "'R0'", titles
    assert all(before == after for (_, after), (before, _) in zip(found, found[1:])), titles
    kept = (await served_api.http.get(record, headers=staff)).json()["title"]
    assert found[-1][1] == f"'{kept}'", (titles, kept)


async def test_a_free_field_changed_from_false_to_0_is_changed(served_api: Api) -> None:
    staff = served_api.as_("staff")
    made = await served_api.http.post("/records", headers=staff, json={
        "kind": "lead", "title": "Flags", "fields": {"flag": False, "on": True}})
    record = f"/records/{made.json()['id']}"
    changed = await served_api.http.patch(record, headers=staff, json={"fields": {"flag": 0, "on": 1}})
    assert changed.status_code == 200 and changed.json()["fields"] == {"flag": 0, "on": 1}, changed.text
    fields = (await served_api.http.get(record, headers=staff)).json()["fields"]
    assert fields == {"flag": 0, "on": 1} and type(fields["flag"]) is int and type(fields["on"]) is int
    history = (await served_api.http.get(f"{record}/history", headers=staff)).json()
    assert [line["text"] for line in history if line["kind"] == "values_written"] == [
        "Changed: field 'flag' no → 0; field 'on' yes → 1"]


async def test_the_last_two_admin_keys_revoked_at_once_leave_one(served_api: Api, sessions: Any) -> None:
    """Each revocation checks that another admin key is left: sent at once, both found the other (SQLite let both
    read before either wrote), and no admin key was left"""
    async with sessions() as session:
        first, first_key = await create_key(session, "last admin A", ApiRole.admin)
        second, second_key = await create_key(session, "last admin B", ApiRole.admin)
        await session.exec(sa.update(ApiKey).where(ApiKey.role == ApiRole.admin, col(ApiKey.revoked_at).is_(None),
                                                   col(ApiKey.id).not_in([first.id, second.id]))
                           .values(revoked_at=utcnow()))  # type: ignore[call-overload]
        await session.commit()
    answers = await asyncio.gather(
        served_api.http.delete(f"/api-keys/{second.id}", headers={"X-API-Key": first_key}),
        served_api.http.delete(f"/api-keys/{first.id}", headers={"X-API-Key": second_key}))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    async with sessions() as session:
        left = (await session.exec(select(ApiKey).where(ApiKey.role == ApiRole.admin,
                                                        col(ApiKey.revoked_at).is_(None)))).all()
    assert len(left) == 1
