"""API keys found valid are kept a few seconds (API_KEY_CACHE_SECONDS), so that a caller's requests in a row cost
one lookup: a key revoked through the API is refused at once all the same, one revoked elsewhere (another
API process) once its entry is that old, and an unknown key is never kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from api.auth import KeyCache, create_key, generate_key, store_key
from crm.models import ApiKey, ApiRole
from crm.types import utcnow
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _revoke_in_the_database(sessions: Any, key_id: int) -> None:
    async with sessions() as session:  # as another API process would
        row = await session.get(ApiKey, key_id)
        row.revoked_at = utcnow()
        session.add(row)
        await session.commit()


async def test_a_key_revoked_elsewhere_is_refused_once_its_entry_is_old(sessions: Any) -> None:
    clock = Clock()
    cache = KeyCache(5, clock=clock)
    async with sessions() as session:
        row, key = await create_key(session, "kept", ApiRole.client)
    assert row.id is not None
    assert (await cache.principal(sessions, key)).key_id == row.id  # type: ignore[union-attr]
    await _revoke_in_the_database(sessions, row.id)
    clock.now += 4.9
    assert (await cache.principal(sessions, key)) is not None  # still within its 5 seconds
    clock.now += 0.2
    assert (await cache.principal(sessions, key)) is None
    clock.now += 60
    assert (await cache.principal(sessions, key)) is None  # a refused key is looked up, never kept


async def test_without_a_cache_a_revoked_key_is_refused_at_once(sessions: Any) -> None:
    cache = KeyCache(0, clock=Clock())
    async with sessions() as session:
        row, key = await create_key(session, "not kept", ApiRole.client)
    assert row.id is not None and await cache.principal(sessions, key) is not None
    await _revoke_in_the_database(sessions, row.id)
    assert await cache.principal(sessions, key) is None


async def test_an_unknown_key_is_not_kept_and_forget_drops_a_key(sessions: Any) -> None:
    cache = KeyCache(300, clock=Clock())
    key = generate_key()
    assert await cache.principal(sessions, key) is None
    async with sessions() as session:
        row = await store_key(session, "stored later", ApiRole.staff, key)
    assert row.id is not None and (await cache.principal(sessions, key)).role is ApiRole.staff  # type: ignore[union-attr]
    await _revoke_in_the_database(sessions, row.id)
    cache.forget(row.id)
    assert await cache.principal(sessions, key) is None


async def test_a_key_revoked_through_the_api_is_refused_at_once(stack: Stack) -> None:
    http, admin = stack.http, stack.as_("admin")
    created = (await http.post("/api-keys", headers=admin, json={"name": "short lived", "role": "staff"})).json()
    mine = {"X-API-Key": created["key"]}
    assert (await http.get("/templates", headers=mine)).status_code == 200  # kept from here on
    assert (await http.delete(f"/api-keys/{created['id']}", headers=admin)).status_code == 200
    refused = await http.get("/templates", headers=mine)
    assert refused.status_code == 401 and refused.json()["detail"] == "unknown or revoked API key"


async def test_a_key_revoked_while_a_request_looks_it_up_is_not_kept(sessions: Any) -> None:
    """A request that read the key valid just before it was revoked (through this process: `forget`) goes on, but
    must not put the key back in the cache: the next request is refused at once (it was kept for its seconds)"""
    clock = Clock()
    cache = KeyCache(5, clock=clock)
    async with sessions() as session:
        row, key = await create_key(session, "raced", ApiRole.admin)
    assert row.id is not None

    @asynccontextmanager
    async def revoked_during_the_lookup() -> AsyncIterator[Any]:
        async with sessions() as session:
            yield session  # the lookup reads the key still valid...
        await _revoke_in_the_database(sessions, row.id)  # ...and then it is revoked, and forgotten
        cache.forget(row.id)

    assert (await cache.principal(revoked_during_the_lookup, key)) is not None  # this request read it valid
    assert (await cache.principal(sessions, key)) is None  # the next, at the same moment, is refused
