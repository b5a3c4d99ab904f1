"""The loop guard: an automatic start beyond the daily limit for its template and record is cancelled."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.deps import Deps
from activities.history import write_history_once
from activities.outbox import send_once
from crm.models import HistoryEntry, HistoryKind, ProcessOrigin, ProcessRun, User
from crm.types import utcnow


class LoopGuardInput(BaseModel):
    workflow_id: str
    template_key: str
    template_name: str
    record_id: int
    owner_id: int
    controller_email: str
    triggered_by_user_id: int | None = None


class LoopGuardResult(BaseModel):
    cancelled: bool
    starts_today: int
    limit: int
    reason: str = ""


class LoopGuardActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _starts_today(self, session: AsyncSession, input: LoopGuardInput) -> int:
        zone = self.deps.settings.zone
        today = datetime.combine(utcnow().astimezone(zone).date(), time(0), tzinfo=zone)
        query = select(func.count()).select_from(ProcessRun).where(
            ProcessRun.template_key == input.template_key, ProcessRun.record_id == input.record_id,
            col(ProcessRun.origin).in_([ProcessOrigin.follow_up, ProcessOrigin.autostart]),
            ProcessRun.created_at >= today, ProcessRun.created_at < today + timedelta(days=1),
            ProcessRun.created_at <= (await self._created_at(session, input.workflow_id)))
        return (await session.exec(query)).one()

    async def _created_at(self, session: AsyncSession, workflow_id: str) -> datetime:
        created = (await session.exec(select(ProcessRun.created_at)
                                      .where(ProcessRun.workflow_id == workflow_id))).first()
        return created or utcnow()

    @activity.defn(name="apply_loop_guard")
    async def apply_loop_guard(self, input: LoopGuardInput) -> LoopGuardResult:
        """Count this start among today's automatic starts; past the limit, tell everyone and cancel."""
        limit = self.deps.settings.loop_guard_limit
        async with self.deps.sessions() as session:
            starts = await self._starts_today(session, input)
            if starts <= limit:
                return LoopGuardResult(cancelled=False, starts_today=starts, limit=limit)
            recipients = {input.controller_email}
            for user_id in (input.owner_id, input.triggered_by_user_id):
                user = await session.get(User, user_id) if user_id is not None else None
                if user is not None:
                    recipients.add(user.email)
        reason = (f"loop guard: '{input.template_key}' was started automatically {starts} times today on "
                  f"record {input.record_id} (the limit is {limit})")
        for n, address in enumerate(sorted(recipients)):
            async def compose(_: AsyncSession, to: str = address) -> tuple[str, str, str]:
                body = (f"The process '{input.template_name}' ({input.workflow_id}) on record {input.record_id} "
                        f"was cancelled before its first phase: it had already been started automatically "
                        f"{starts - 1} times today (the limit is {limit}), through follow-ups or autostarts that "
                        "start it again and again. Check the templates' follow-up and autostart settings.\n")
                return to, f"Process cancelled by the loop guard: {input.template_name}", body

            await send_once(self.deps, step_key=f"{input.workflow_id}/loop-guard/{n}", workflow_id=input.workflow_id,
                            record_id=None, compose=compose)
        await write_history_once(self.deps, HistoryEntry(
            record_id=input.record_id, step_key=f"{input.workflow_id}/loop-guard", kind=HistoryKind.loop_guard,
            text=f"Process '{input.template_name}' cancelled: {reason}", workflow_id=input.workflow_id,
            actor="loop guard", data={"starts_today": starts, "limit": limit}))
        return LoopGuardResult(cancelled=True, starts_today=starts, limit=limit, reason=reason)
