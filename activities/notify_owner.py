"""The `notify_owner` action: email the owner a summary of the record, once (`activities/outbox.py`).

`owner` is the property's owner when there is one (a property record's linked contact, with an email
address), else the record's owner (the user it belongs to); `property_owner` and `record_owner` say which, and
one that is missing is an incident. The summary is the action's `subject` and `message` (defaults in
`processes/action_kinds.py`, said in the office's language: `activities/engine_words.py`), with the record's last
`history` lines below it when asked, under a heading in that language.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities import bookkeeping
from activities.deps import Deps
from activities.engine_words import default_text, say
from activities.errors import final_message
from activities.lookups import load_record
from activities.outbox import send_once
from activities.send_email import resolve_recipient
from activities.step import ActionResult, OnceStep, StepInput, render, render_variables, step_activity
from crm.models import HistoryEntry, Record
from crm.types import utcnow
from processes.action_kinds import NotifyOwner
from processes.history_words import english, said
from processes.template_basics import RecordKind


class NotifyOwnerInput(BaseModel):
    step: StepInput
    action: NotifyOwner
    where: str = "notify_owner"


async def owner_address(session: AsyncSession, step: StepInput, to: str) -> str:
    """The address of the owner `to` names."""
    record = await load_record(session, step.record_id)
    if to != "record_owner" and record.kind is RecordKind.property and record.contact_id is not None:
        contact = await session.get(Record, record.contact_id)
        if contact is not None and contact.email:
            return contact.email
        if to == "property_owner":
            raise final_message("RecipientMissing", f"the owner of property {record.id} (contact "
                                                    f"{record.contact_id}) has no email address")
    if to == "property_owner":
        raise final_message("RecipientMissing", f"record {record.id} links no owner (a property's owner is the "
                                                "contact it links)")
    return await resolve_recipient(session, step, "record_owner")


class NotifyOwnerActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _recent(self, session: AsyncSession, record_id: int, count: int, locale: str) -> str:
        if not count:
            return ""
        rows = (await session.exec(select(HistoryEntry).where(HistoryEntry.record_id == record_id)
                                   .order_by(col(HistoryEntry.id).desc()).limit(count))).all()
        lines = [f"- {self.deps.settings.show(row.created_at, locale)}  {' '.join(row.text.split())[:300]}"
                 for row in reversed(rows)]
        return f"\n\n{say(locale)('recent_activity')}\n" + "\n".join(lines) if lines else ""

    @step_activity("notify_owner")
    async def notify_owner(self, input: NotifyOwnerInput) -> ActionResult:
        action = input.action
        once = await OnceStep.prepare(self.deps, input.step)

        async def compose(session: AsyncSession) -> tuple[str, str, str]:
            step = once.step
            to = await owner_address(session, step, action.to)
            locale = action.locale or step.locale or self.deps.settings.locale
            text = default_text(action.message, locale)
            variables = await render_variables(session, step, utcnow(), [action.subject, text])
            subject = await render(self.deps, step, action.subject, variables, f"{input.where}.subject", action.locale)
            message = await render(self.deps, step, text, variables, f"{input.where}.message", action.locale)
            recent = await self._recent(session, step.record_id, action.history, locale)
            return to, " ".join(subject.split()), message.rstrip() + recent + "\n"

        message = await send_once(self.deps, step_key=once.step.step_key, workflow_id=once.step.workflow_id,
                                  record_id=once.step.record_id, compose=compose, phase_key=once.step.phase_key,
                                  history=said("owner_notified"), before=once.before,
                                  after=once.after())
        return ActionResult(summary=english("summary_owner_notified", outcome=message.status.value,
                                            message=message.id, to=action.to),
                            data={"outbox_message_id": message.id}, responsible_id=once.step.responsible_id)
