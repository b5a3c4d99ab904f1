"""Who is responsible: the process owner, the owner of the linked record, or a named user."""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.deps import Deps
from activities.errors import final_message
from activities.step import load_record, load_user
from crm.models import User
from processes.template import Responsible


class ResolveResponsibleInput(BaseModel):
    responsible: Responsible
    record_id: int
    owner_id: int


async def resolve_user_id(session: AsyncSession, responsible: Responsible, record_id: int, owner_id: int) -> int:
    if responsible.kind == "process_owner":
        return (await load_user(session, owner_id, "process owner")).id  # type: ignore[return-value]
    if responsible.kind == "record_owner":
        record = await load_record(session, record_id)
        if record.owner_id is None:
            raise final_message("ResponsibleMissing", f"record {record_id} has no owner to be responsible")
        return record.owner_id
    user = (await session.exec(select(User).where(User.handle == responsible.user))).first()
    if user is None:
        raise final_message("UserNotFound", f"user '{responsible.user}' does not exist any more")
    return user.id  # type: ignore[return-value]


class ResponsibleActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="resolve_responsible")
    async def resolve_responsible(self, input: ResolveResponsibleInput) -> int:
        async with self.deps.sessions() as session:
            return await resolve_user_id(session, input.responsible, input.record_id, input.owner_id)
