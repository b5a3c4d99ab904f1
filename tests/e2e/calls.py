"""A lead to call, over HTTP: the smallest template that waits (one manual phase), saved under a key of its own,
and a new lead owned by a new user. The end-to-end tests that need a process which stays running start it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from temporalio.client import Client

from api.app import create_app
from api.auth import create_key
from crm.models import ApiRole
from settings import Settings
from tests.serving import serving

CALL_TEMPLATE = """
key: {key}
name: Call a lead
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: call
    name: Call
    completion: manual
"""


async def call_a_lead(http: httpx.AsyncClient, admin: dict[str, str],
                      staff: dict[str, str] | None = None) -> tuple[str, int]:
    """Save the template (as `admin`) and create the lead (as `staff`, else `admin`): their key and id."""
    key = f"call-{uuid.uuid4().hex[:6]}"
    saved = await http.post("/templates", headers={**admin, "Content-Type": "application/yaml"},
                            content=CALL_TEMPLATE.format(key=key))
    assert saved.status_code == 201, saved.text
    handle = f"u{uuid.uuid4().hex[:6]}"
    owner = await http.post("/users", headers=admin, json={
        "handle": handle, "name": "Anna", "email": f"{handle}@agency.example"})
    assert owner.status_code == 201, owner.text
    record = await http.post("/records", headers=staff or admin, json={
        "kind": "lead", "title": "Lead", "owner_id": owner.json()["id"]})
    assert record.status_code == 201, record.text
    return key, record.json()["id"]


@dataclass
class StartedCall:
    http: httpx.AsyncClient
    admin: dict[str, str]  # the admin key's header
    workflow_id: str


@asynccontextmanager
async def a_started_call(settings: Settings, temporal: Client, sessions: Any) -> AsyncIterator[StartedCall]:
    """The app served on `settings.api_port` with an admin key, and a lead's call started over HTTP: on a task queue no
    worker polls, the process is in Temporal and waits."""
    async with sessions() as session:
        _, key = await create_key(session, "e2e admin", ApiRole.admin)
    admin = {"X-API-Key": key}
    async with serving(create_app(settings, temporal=temporal), settings.api_port), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=30) as http:
        template, record_id = await call_a_lead(http, admin)
        started = await http.post("/processes", headers=admin, json={"template": template, "record_id": record_id})
        assert started.status_code == 201, started.text  # a start needs no worker
        yield StartedCall(http, admin, started.json()["workflow_id"])
