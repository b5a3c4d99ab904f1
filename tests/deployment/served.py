"""The stack the deployment tests run a process on: the API served over HTTP and a worker, both on a client
connected as production connects (`workflows.client.connect`, so with tracing, a metrics runtime or payload
encryption as the settings and options say), the dev server and the end-to-end SMTP catcher."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from api.app import create_app
from api.auth import create_key
from crm.models import ApiRole
from settings import Settings
from tests.e2e.conftest import MailCatcher
from tests.serving import free_port, serving
from tests.workflows.helpers import running_worker
from workflows.client import connect


@dataclass
class Served:
    http: httpx.AsyncClient
    admin: dict[str, str]
    staff: dict[str, str]
    mail: MailCatcher

    async def start(self, template: str, title: str, headers: dict[str, str] | None = None,
                    **fields: str) -> tuple[str, str, str]:
        """Save `template` (formatted with a new `key` and `fields`) and start it on a new lead called `title`
        (records and the start as `headers`, else admin): the template's key, the workflow id, the lead's email."""
        as_ = headers or self.admin
        handle = f"d{uuid.uuid4().hex[:6]}"
        owner = await self.http.post("/users", headers=self.admin, json={
            "handle": handle, "name": "Dana", "email": f"{handle}@agency.example"})
        assert owner.status_code == 201, owner.text
        email = f"client-{handle}@example.org"
        record = await self.http.post("/records", headers=as_, json={
            "kind": "lead", "title": title, "email": email, "owner_id": owner.json()["id"]})
        assert record.status_code == 201, record.text
        key = f"deploy-{uuid.uuid4().hex[:6]}"
        saved = await self.http.post("/templates", headers={**self.admin, "Content-Type": "application/yaml"},
                                     content=template.format(key=key, **fields))
        assert saved.status_code == 201, saved.text
        started = await self.http.post("/processes", headers=as_,
                                       json={"template": key, "record_id": record.json()["id"]})
        assert started.status_code == 201, started.text
        return key, started.json()["workflow_id"], email

    async def status(self, workflow_id: str) -> str:
        return (await self.http.get(f"/processes/{workflow_id}", headers=self.admin)).json()["status"]


@asynccontextmanager
async def served(dev_env: Any, sessions: Any, database_url: str, smtp: tuple[MailCatcher, int], task_queue: str,
                 connect_options: dict[str, Any] | None = None, **settings: Any) -> AsyncIterator[Served]:
    """The API and a worker with `settings` (and the client with `connect_options`) until the block ends."""
    catcher, smtp_port = smtp
    port = free_port()
    config = Settings(database_url=database_url, temporal_task_queue=task_queue, api_port=port,
                      temporal_address=dev_env.client.service_client.config.target_host, **settings)
    client = await connect(config, **(connect_options or {}))
    keys = {}
    async with sessions() as session:
        for role in (ApiRole.admin, ApiRole.staff):
            _, keys[role] = await create_key(session, f"deployment {role.value}", role)
    async with serving(create_app(config, temporal=client), port), \
            running_worker(client, sessions, task_queue, smtp_host="127.0.0.1", smtp_port=smtp_port,
                           smtp_from="processes@agency.example", **settings), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        yield Served(http=http, admin={"X-API-Key": keys[ApiRole.admin]}, staff={"X-API-Key": keys[ApiRole.staff]},
                     mail=catcher)
