"""Emails to staff that the API recorded in the outbox (a case created, an event added): delivered here.

The API writes the message (`pending`) in the transaction of what it is about, then starts a
`NoticesWorkflow` (workflows/notices.py) that delivers it through the outbox's `send_once`: the same
step key, so a retry or a second start sends the same message once in effect.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.deps import Deps
from activities.errors import final_message
from activities.outbox import send_once
from crm.models import OutboxMessage
from processes.history_words import english, said


class DeliverNoticeInput(BaseModel):
    step_key: str


class StaffNoticeActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="deliver_notice")
    async def deliver_notice(self, input: DeliverNoticeInput) -> str:
        async with self.deps.sessions() as session:
            row = (await session.exec(select(OutboxMessage).where(OutboxMessage.step_key == input.step_key))).first()
        if row is None:  # its record was deleted meanwhile, with its email
            raise final_message("NoticeMissing", f"no message recorded under {input.step_key}")

        async def compose(_: AsyncSession) -> tuple[str, str, str]:
            raise final_message("NoticeMissing", f"no message recorded under {input.step_key}")

        message = await send_once(self.deps, step_key=input.step_key, workflow_id=None, record_id=row.record_id,
                                  compose=compose, history=said("notice_sent"))
        return english("summary_notice", outcome=message.status.value, message=message.id)
