"""Who is responsible: the process owner, the owner of the linked record, or a named user."""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.deps import Deps
from activities.errors import final, final_message
from crm.models import Record, User
from processes.errors import RecordNotFound, UserNotFound
from processes.template_basics import Responsible


class ResolveResponsibleInput(BaseModel):
    responsible: Responsible
    record_id: int
    owner_id: int


async def resolve_user_id(session: AsyncSession, responsible: Responsible, record_id: int, owner_id: int) -> int:
    """The responsible user's id: a read of one column, no row loaded (it runs at the start of every phase)."""
    if responsible.kind == "process_owner":
        if (await session.exec(select(User.id).where(User.id == owner_id))).first() is None:
            raise final(UserNotFound(f"process owner: user {owner_id} does not exist"))
        return owner_id
    if responsible.kind == "record_owner":
        found = (await session.exec(select(Record.id, Record.owner_id).where(Record.id == record_id))).first()
        if found is None:
            raise final(RecordNotFound(f"record {record_id} does not exist"))
        if found[1] is None:
            raise final_message("ResponsibleMissing", f"record {record_id} has no owner to be responsible")
        return found[1]
    user_id = (await session.exec(select(User.id).where(User.handle == responsible.user))).first()
    if user_id is None:
        raise final_message("UserNotFound", f"user '{responsible.user}' does not exist any more")
    return user_id


class ResponsibleActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="resolve_responsible")
    async def resolve_responsible(self, input: ResolveResponsibleInput) -> int:
        """For runs from before the `phase-steps-carry-bookkeeping` patch (keep it while any may run):
        newer runs look the responsible up in their phase's first step (activities/bookkeeping.py)."""
        async with self.deps.sessions() as session:
            return await resolve_user_id(session, input.responsible, input.record_id, input.owner_id)
