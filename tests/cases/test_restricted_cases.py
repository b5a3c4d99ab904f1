"""A restricted case is absent from every list, count and search for whoever is not listed on it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from api.auth import create_key
from crm.models import ApiRole
from tests.cases.helpers import case, contact, user
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


async def test_a_restricted_case_is_absent_from_lists_counts_and_searches(stack: Stack, sessions: Any) -> None:
    http = stack.http
    listed, other = await user(stack, "listed"), await user(stack, "other")
    keys = {}
    async with sessions() as session:
        for person in (listed, other):
            _, key = await create_key(session, f"cases {person['handle']}", ApiRole.staff, user_id=person["id"])
            keys[person["id"]] = {"X-API-Key": key}
    tag = f"secret-{uuid.uuid4().hex[:6]}"
    person = await contact(stack, "Hidden Participant")
    hidden = await case(stack, f"Private matter {tag}", tags=[tag], restricted=True, access_user_ids=[listed["id"]],
                        participant_ids=[person["id"]])
    await case(stack, f"Open matter {tag}", tags=[tag])

    for who, sees in ((listed, True), (other, False)):
        headers = keys[who["id"]]
        searches = [{"tag": tag}, {"q": tag}, {"q": "Private matter"}, {"participant_id": person["id"]},
                    {"state": "open", "tag": tag}]
        for params in searches:
            found = [c["id"] for c in (await http.get("/cases", headers=headers, params=params)).json()]
            assert (hidden["id"] in found) is sees, (who["handle"], params)
        [counted] = (await http.get("/tags", headers=headers, params={"q": tag})).json()
        assert counted["cases"] == (2 if sees else 1)
        assert (await http.get(f"/cases/{hidden['id']}", headers=headers)).status_code == (200 if sees else 404)
        history = await http.get(f"/records/{hidden['id']}/history", headers=headers)
        assert history.status_code == (200 if sees else 404)
        dry = await http.delete(f"/cases/{hidden['id']}", headers=headers, params={"dry_run": "true"})
        assert dry.status_code == (200 if sees else 404)
