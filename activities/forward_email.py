"""The `forward_email` action: forward a stored email of the record to a person, once (`activities/outbox.py`).

Stagecoach receives no email itself: the emails it stores are those staff log on a record's timeline
(`POST /records/{id}/events` of kind `email`: received or sent outside Stagecoach) and those its processes send
(the outbox). `last_logged` forwards the newest of the first, `last_sent` the newest of the second, with its
attachments (never a forward: forwarding a forward is left out). The email is chosen when the step first
runs and recorded with its message, so a retry forwards the same one with the same Message-ID. The words around it
(the subject's "Fwd:", the forwarded message's line and headers) are in the office's language (the action's
`locale`, else the template's, else LOCALE: `activities/engine_words.py`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities import bookkeeping
from activities.deps import Deps
from activities.engine_words import say
from activities.errors import final_message
from activities.mailer import Attachment
from activities.outbox import send_once
from activities.send_email import resolve_recipient
from activities.step import ActionResult, OnceStep, StepInput, render, render_variables, step_activity
from crm.models import HistoryEntry, HistoryKind, MessageStatus, OutboxMessage
from crm.types import utcnow
from processes.action_kinds import ForwardEmail
from processes.history_words import english, said

FORWARD_SUFFIX = "/forward"  # the end of a forward's outbox step key: a forward is never forwarded


class ForwardEmailInput(BaseModel):
    step: StepInput
    action: ForwardEmail
    where: str = "forward_email"


def forwarded(text: Callable[..., str], headers: list[tuple[str, str]], body: str) -> str:
    """The forwarded email as mail programs write it, in the words `text` says: a line, its headers (each a key of
    `activities/engine_words.py` and its value), its text."""
    lines = "\n".join(f"{text(name)}: {value}" for name, value in headers if value)
    return f"{text('forwarded')}\n{lines}\n\n{body.strip()}\n"


class ForwardEmailActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _last_logged(self, session: AsyncSession, record_id: int, text: Callable[..., str],
                           when: Callable[[datetime | None], str]) -> tuple[str, str, list[Attachment]]:
        query = select(HistoryEntry).where(HistoryEntry.record_id == record_id,
                                           HistoryEntry.kind == HistoryKind.email_logged)
        logged = (await session.exec(query.order_by(col(HistoryEntry.id).desc()))).first()
        if logged is None:
            raise final_message("NothingToForward", f"record {record_id} has no logged email to forward (staff log "
                                                    "one on its timeline: an event of kind email)")
        occurred = datetime.fromisoformat(logged.data["occurred_at"]) if logged.data.get("occurred_at") \
            else logged.created_at
        headers = [("logged_by", logged.actor), ("forwarded_date", when(occurred))]
        return text("logged_email", when=when(occurred)), forwarded(text, headers, logged.text), []

    async def _last_sent(self, session: AsyncSession, record_id: int, text: Callable[..., str],
                         when: Callable[[datetime | None], str]) -> tuple[str, str, list[Attachment]]:
        query = select(OutboxMessage).where(
            OutboxMessage.record_id == record_id,
            col(OutboxMessage.status).in_([MessageStatus.sent, MessageStatus.held]),
            col(OutboxMessage.step_key).not_like(f"%{FORWARD_SUFFIX}"))
        sent = (await session.exec(query.order_by(col(OutboxMessage.id).desc()))).first()
        if sent is None:
            raise final_message("NothingToForward", f"no process has sent an email about record {record_id} yet")
        headers = [("forwarded_from", self.deps.mailer.sender),
                   ("forwarded_date", when(sent.sent_at or sent.created_at)),
                   ("forwarded_subject", sent.subject), ("forwarded_to", sent.to_address)]
        return sent.subject, forwarded(text, headers, sent.body), list(map(Attachment.from_stored, sent.attachments))

    @step_activity("forward_email")
    async def forward_email(self, input: ForwardEmailInput) -> ActionResult:
        action = input.action
        once = await OnceStep.prepare(self.deps, input.step)

        async def compose(session: AsyncSession) -> tuple[str, str, str, list[Attachment]]:
            step = once.step
            locale = action.locale or step.locale or self.deps.settings.locale
            text = say(locale)
            pick = self._last_logged if action.email == "last_logged" else self._last_sent
            subject, body, files = await pick(session, step.record_id, text,
                                              functools.partial(self.deps.settings.show, locale=locale))
            to = await resolve_recipient(session, step, action.to)
            if action.note:
                variables = await render_variables(session, step, utcnow(), [action.note])
                note = await render(self.deps, step, action.note, variables, f"{input.where}.note", action.locale)
                body = f"{note.strip()}\n\n{body}"
            return to, " ".join(text("forward", subject=subject).split())[:1000], body, files

        message = await send_once(self.deps, step_key=once.step.step_key + FORWARD_SUFFIX,
                                  workflow_id=once.step.workflow_id, record_id=once.step.record_id, compose=compose,
                                  phase_key=once.step.phase_key, history=said("email_forwarded"),
                                  before=once.before, after=once.after())
        return ActionResult(summary=english("summary_email_forwarded", outcome=message.status.value,
                                            message=message.id, to=action.to),
                            data={"outbox_message_id": message.id}, responsible_id=once.step.responsible_id)
