"""The API in process (ASGI) and over HTTP (uvicorn), on the real dev server and the test's database."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from api.app import create_app
from api.auth import create_key
from crm.models import ApiRole, User
from renderer.pool import shared_pool
from settings import Settings
from tests.serving import free_port, serving


@dataclass
class Api:
    http: httpx.AsyncClient
    keys: dict[str, str]
    key_ids: dict[str, int]
    base_url: str

    def as_(self, role: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}


async def _keys(sessions: Any) -> tuple[dict[str, str], dict[str, int]]:
    keys, ids = {}, {}
    async with sessions() as session:
        for role in ApiRole:
            row, keys[role.value] = await create_key(session, f"bad input {role.value}", role)
            ids[role.value] = row.id
    return keys, ids


async def ensure_users(sessions: Any, *handles: str, roles: Mapping[str, str] | None = None) -> None:
    """The users the template corpus names (`{user: maria}`), created once per database, with their `roles` (by
    handle; the others are agents)."""
    async with sessions() as session:
        existing = set((await session.exec(select(User.handle).where(User.handle.in_(handles)))).all())
        for handle in set(handles) - existing:
            session.add(User(handle=handle, name=handle.title(), email=f"{handle}@agency.example",
                             role=(roles or {}).get(handle, "agent")))
        await session.commit()


@pytest.fixture
async def api(dev_env: Any, sessions: Any, database_url: str, task_queue: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The app in process over ASGI (its lifespan run), with a key of each role."""
    # the office's CRM as a webhook endpoint, as the corpus's webhook templates name it
    crm = {"url": "https://crm.agency.example/hooks", "secret": "whsec_" + base64.b64encode(b"k" * 32).decode()}
    # and a signing provider, as the corpus's signature templates name it
    acme = {"url": "https://sign.acme.example/envelopes", "api_key": "k", "secret": crm["secret"]}
    app = create_app(Settings(database_url=database_url, temporal_task_queue=task_queue, data_dir=tmp_path,
                              webhook_endpoints={"crm": crm}, signing_providers={"acme": acme}),
                     temporal=dev_env.client, renderer=shared_pool())
    keys, ids = await _keys(sessions)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://stagecoach", timeout=30) as http:
        yield Api(http=http, keys=keys, key_ids=ids, base_url="http://stagecoach")


NO_WORKER_SECONDS = 2.0


@pytest.fixture
async def served_api(dev_env: Any, sessions: Any, database_url: str, task_queue: str,
                     tmp_path: Path) -> AsyncIterator[Api]:
    """The app served by uvicorn on a free port of 127.0.0.1 (for clients that block, in a thread).

    No worker runs: the processes other tests left running in this database (their workers gone) answer no
    staff request, and the API says so (503) after NO_WORKER_SECONDS."""
    port = free_port()
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, api_port=port, data_dir=tmp_path,
                        process_answer_seconds=NO_WORKER_SECONDS)
    keys, ids = await _keys(sessions)
    base_url = f"http://127.0.0.1:{port}"
    async with serving(create_app(settings, temporal=dev_env.client, renderer=shared_pool()), port), \
            httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        yield Api(http=http, keys=keys, key_ids=ids, base_url=base_url)
