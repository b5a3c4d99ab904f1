"""Send one logical email exactly once in effect, keyed by its step key.

The message is rendered once and recorded (status `pending`) before any delivery,
so a retry resends the very same content with the very same Message-ID. Without an
SMTP server configured the message is `held` in the outbox, readable over the API.

Delivery is at least once: a worker that dies after the SMTP server took the message, before
it is marked sent, sends it again on the retry (same Message-ID, so a receiver sees one
message). Each delivery is counted in `attempts` before it is tried, so the outbox shows
every possible delivery, a crashed one included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from activities.errors import final_message
from activities.mailer import Attachment, PermanentMailError, TransientMailError, message_id_for
from crm.idempotent import insert_new, insert_once
from crm.models import HistoryEntry, HistoryKind, MessageStatus, OutboxMessage
from crm.types import utcnow
from processes.history_words import Said, history_text, said

# -> (to, subject, body), or (to, subject, body, attachments)
Composer = Callable[[AsyncSession], Awaitable[tuple[str, str, str] | tuple[str, str, str, list[Attachment]]]]
Before = Callable[[AsyncSession], Awaitable[None]]


async def _recorded(deps: Deps, step_key: str, workflow_id: str | None, record_id: int | None,
                    compose: Composer, before: Before | None) -> OutboxMessage:
    async with deps.sessions() as session:
        async def make() -> list[OutboxMessage]:
            to, subject, body, *files = await compose(session)  # reads and renders: before anything is written
            if before is not None:  # the step's bookkeeping: committed with the message
                await before(session)
            return [OutboxMessage(step_key=step_key, message_id=message_id_for(step_key, deps.mailer.sender),
                                  workflow_id=workflow_id, record_id=record_id, to_address=to,
                                  subject=subject, body=body,
                                  attachments=[a.stored() for a in (files[0] if files else [])])]

        return await insert_once(session, OutboxMessage, step_key, make)


async def send_once(deps: Deps, *, step_key: str, workflow_id: str | None, record_id: int | None,
                    compose: Composer, history_kind: HistoryKind = HistoryKind.email_sent,
                    history: Said = said("email_sent"), phase_key: str | None = None,
                    before: Before | None = None, after: Sequence[HistoryEntry] = (),
                    retry_failed: bool = True) -> OutboxMessage:
    """Record the message (with what `before` adds to that transaction), deliver it, then mark it sent
    (with the `after` lines: what the step's success means), and its line in the record's history (`history`, with
    the subject and the address, in the office's language). With `retry_failed` False, a message the SMTP
    server refused for good before is not tried again."""
    row = await _recorded(deps, step_key, workflow_id, record_id, compose, before)
    if row.status in (MessageStatus.sent, MessageStatus.held):
        return row
    if row.status is MessageStatus.failed and not retry_failed:
        raise final_message("EmailRejected", f"outbox message {row.id} was refused by the SMTP server: "
                                             f"{row.last_error}")
    status = MessageStatus.held
    error: str | None = None
    if deps.mailer.configured:
        await _count_attempt(deps, row.id)  # before the send: a crash after it still shows as an attempt
        try:
            await deps.mailer.deliver(to=row.to_address, subject=row.subject, body=row.body,
                                      message_id=row.message_id,
                                      attachments=tuple(map(Attachment.from_stored, row.attachments)))
            status = MessageStatus.sent
        except PermanentMailError as exc:
            error = str(exc)
            await _note_failure(deps, row.id, error, MessageStatus.failed)
            raise final_message("EmailRejected", f"outbox message {row.id} refused by the SMTP server: {error}") from None
        except TransientMailError as exc:
            error = str(exc)
            await _note_failure(deps, row.id, error)
            raise ApplicationError(f"email not delivered yet: {error}", type="EmailDeferred") from None
    async with deps.sessions() as session:
        stored = await session.get(OutboxMessage, row.id)
        assert stored is not None
        stored.status = status
        stored.sent_at = utcnow()
        stored.last_error = None  # an earlier attempt's error is no longer what the message is (its attempts count)
        session.add(stored)
        if record_id is not None:
            session.add(HistoryEntry(record_id=record_id, step_key=step_key, kind=history_kind,
                                     text=_line(deps.settings.locale, history, stored),
                                     workflow_id=workflow_id, phase_key=phase_key,
                                     data={"outbox_message_id": stored.id, "message_id": stored.message_id}))
        await insert_new(session, HistoryEntry, list(after))
        await session.commit()
        activity.logger.info("email %s", status.value, extra={"step_key": step_key})
        return stored


def _line(locale: str, history: Said, message: OutboxMessage) -> str:
    said = partial(history_text, locale)
    return said("email_line", what=history.text(locale), subject=message.subject, to=message.to_address) + (
        said("email_held") if message.status is MessageStatus.held else "")


async def _count_attempt(deps: Deps, row_id: int | None) -> None:
    async with deps.sessions() as session:
        await session.exec(update(OutboxMessage).where(col(OutboxMessage.id) == row_id)  # type: ignore[call-overload]
                           .values(attempts=OutboxMessage.attempts + 1))
        await session.commit()


async def _note_failure(deps: Deps, row_id: int | None, error: str,
                        status: MessageStatus = MessageStatus.pending) -> None:
    async with deps.sessions() as session:
        await session.exec(update(OutboxMessage).where(col(OutboxMessage.id) == row_id)  # type: ignore[call-overload]
                           .values(last_error=error, status=status))
        await session.commit()
