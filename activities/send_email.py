"""The `send_email` action: render subject and body, pick the recipient, send once."""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from activities import bookkeeping
from activities.deps import Deps
from activities.errors import final_message
from activities.outbox import send_once
from activities.step import (ActionResult, OnceStep, StepInput, load_record, load_user, render, render_variables,
                             step_activity)
from crm.models import Record
from crm.types import utcnow
from processes.action_kinds import SendEmail
from processes.history_words import english


class SendEmailInput(BaseModel):
    step: StepInput
    action: SendEmail
    where: str = "send_email"


async def resolve_recipient(session: AsyncSession, step: StepInput, to: str) -> str:
    """The address for a recipient role (or the fixed address itself)."""
    if "@" in to:
        return to
    if to == "controller":
        return step.controller_email
    if to == "process_owner":
        return (await load_user(session, step.owner_id, "process owner")).email
    if to == "responsible":
        return (await load_user(session, step.responsible_id, "responsible user")).email
    record = await load_record(session, step.record_id)
    if to == "record_owner":
        if record.owner_id is None:
            raise final_message("RecipientMissing", f"record {record.id} has no owner to email")
        return (await load_user(session, record.owner_id, "record owner")).email
    # record_contact: the record's own address, else its contact's
    if record.email:
        return record.email
    contact = await session.get(Record, record.contact_id) if record.contact_id else None
    if contact is not None and contact.email:
        return contact.email
    raise final_message("RecipientMissing",
                        f"record {record.id} has no email address and no linked contact with one")


class SendEmailActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @step_activity("send_email")
    async def send_email(self, input: SendEmailInput) -> ActionResult:
        action = input.action
        once = await OnceStep.prepare(self.deps, input.step)

        async def compose(session: AsyncSession) -> tuple[str, str, str]:
            step = once.step  # the phase's responsible, for the text and the recipient
            variables = await render_variables(session, step, utcnow(), [action.subject, action.body])
            to = await resolve_recipient(session, step, action.to)
            subject = await render(self.deps, step, action.subject, variables, f"{input.where}.subject", action.locale)
            body = await render(self.deps, step, action.body, variables, f"{input.where}.body", action.locale)
            return to, " ".join(subject.split()), body

        message = await send_once(self.deps, step_key=once.step.step_key, workflow_id=once.step.workflow_id,
                                  record_id=once.step.record_id, compose=compose, phase_key=once.step.phase_key,
                                  before=once.before, after=once.after())
        return ActionResult(summary=english("summary_email", outcome=message.status.value, message=message.id,
                                            to=action.to),
                            data={"outbox_message_id": message.id}, responsible_id=once.step.responsible_id)

