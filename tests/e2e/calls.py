"""A lead to call, over HTTP: the smallest template that waits (one manual phase), saved under a key of its own,
and a new lead owned by a new user. The end-to-end tests that need a process which stays running start it."""

from __future__ import annotations

import uuid

import httpx

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
