"""Making the people, contacts and processes a case test needs, over the API."""

from __future__ import annotations

import uuid
from typing import Any

from tests.e2e.conftest import Stack
from tests.polling import eventually

CASE_TEMPLATE = """
key: {key}
name: Hearing preparation
controller_email: controller@agency.example
record_kind: case
phases:
  - key: prepare
    name: Prepare the file
    responsible: record_owner
    completion: manual
"""


async def user(stack: Stack, name: str) -> dict[str, Any]:
    handle = f"{name}{uuid.uuid4().hex[:6]}"
    response = await stack.http.post("/users", headers=stack.as_("admin"), json={
        "handle": handle, "name": name.title(), "email": f"{handle}@agency.example"})
    assert response.status_code == 201, response.text
    return response.json()


async def contact(stack: Stack, title: str, type_: str = "person", **extra: Any) -> dict[str, Any]:
    response = await stack.http.post("/records", headers=stack.as_("admin"), json={
        "kind": "contact", "type": type_, "title": title, **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def case(stack: Stack, name: str, **extra: Any) -> dict[str, Any]:
    response = await stack.http.post("/cases", headers=stack.as_("admin"), json={"name": name, **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def running_process(stack: Stack, case_id: int) -> str:
    """A process waiting on a manual phase of the case, with its task open."""
    admin = stack.as_("admin")
    key = f"hearing-{uuid.uuid4().hex[:6]}"
    response = await stack.http.post("/templates", headers={**admin, "Content-Type": "application/yaml"},
                                     content=CASE_TEMPLATE.format(key=key))
    assert response.status_code == 201, response.text
    started = await stack.http.post("/processes", headers=admin, json={"template": key, "record_id": case_id})
    assert started.status_code == 201, started.text
    workflow_id = started.json()["workflow_id"]

    async def task() -> list[Any]:
        return (await stack.http.get("/tasks", headers=admin, params={"workflow_id": workflow_id})).json()

    await eventually(task, what="the phase's task")
    return workflow_id


async def mail_to(stack: Stack, address: str) -> list[Any]:
    """The messages the SMTP server took for `address`, once there is one."""
    async def received() -> list[Any]:
        return stack.mail.to(address)

    return await eventually(received, what=f"an email to {address}")  # type: ignore[no-any-return]


async def history(stack: Stack, record_id: int) -> list[dict[str, Any]]:
    response = await stack.http.get(f"/records/{record_id}/history", headers=stack.as_("admin"))
    assert response.status_code == 200, response.text
    return response.json()
