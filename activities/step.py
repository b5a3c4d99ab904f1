"""The input every action activity gets, and the variables its text is rendered with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.errors import final
from crm.models import Record, User
from processes.errors import RecordNotFound, UserNotFound
from processes.rendering import render_text


class StepInput(BaseModel):
    """Identifies one side effect: `step_key` is `{workflow id}/{phase}/{action index}/{iteration}`."""

    step_key: str
    workflow_id: str
    record_id: int
    owner_id: int
    template_key: str
    template_name: str
    template_version: int
    controller_email: str
    process_started_at: datetime
    phase_key: str
    phase_name: str
    phase_started_at: datetime | None = None
    phase_deadline: datetime | None = None
    responsible_id: int | None = None


class ActionResult(BaseModel):
    """What an action did, in a line for the process timeline (no personal data)."""

    summary: str
    data: dict[str, Any] = {}


def person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "handle": user.handle, "name": user.name, "email": user.email,
            "phone": user.phone, "role": user.role}


def record_vars(record: Record | None, owner: User | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "id": record.id, "kind": record.kind.value, "type": record.type, "status": record.status,
        "title": record.title, "email": record.email, "phone": record.phone, "channel": record.channel,
        "owner": person(owner), "fields": dict(record.fields or {}), "created_at": record.created_at,
    }


async def load_record(session: AsyncSession, record_id: int) -> Record:
    record = await session.get(Record, record_id)
    if record is None:
        raise final(RecordNotFound(f"record {record_id} does not exist"))
    return record


async def load_user(session: AsyncSession, user_id: int | None, what: str) -> User:
    user = await session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise final(UserNotFound(f"{what}: user {user_id} does not exist"))
    return user


async def render_variables(session: AsyncSession, step: StepInput, now: datetime) -> dict[str, Any]:
    """The variables listed in `processes.variables`, loaded fresh from the database."""
    record = await load_record(session, step.record_id)
    record_owner = await session.get(User, record.owner_id) if record.owner_id else None
    contact = await session.get(Record, record.contact_id) if record.contact_id else None
    contact_owner = await session.get(User, contact.owner_id) if contact and contact.owner_id else None
    owner = await session.get(User, step.owner_id)
    responsible = await session.get(User, step.responsible_id) if step.responsible_id else None
    return {
        "record": record_vars(record, record_owner),
        "contact": record_vars(contact, contact_owner),
        "process": {
            "id": step.workflow_id, "template": step.template_key, "template_name": step.template_name,
            "version": step.template_version, "owner": person(owner), "started_at": step.process_started_at,
            "controller_email": step.controller_email,
        },
        "phase": {"key": step.phase_key, "name": step.phase_name, "started_at": step.phase_started_at,
                  "deadline": step.phase_deadline},
        "responsible": person(responsible),
        "owner": person(owner),
        "now": now,
    }


def render(source: str, variables: dict[str, Any], where: str) -> str:
    """Render user text; a render failure is final (retrying renders the same text)."""
    from processes.errors import RenderError

    try:
        return render_text(source, variables, where=where)
    except RenderError as exc:
        raise final(exc) from None
