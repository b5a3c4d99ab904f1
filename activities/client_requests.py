"""What a client request's workflow does (`workflows/client_requests.py`), and the sweep of submissions.

- `remind_client`: email the client again (the first email's body, its link with it), once per reminder
  number; nothing when the request is no longer pending.
- `move_on_answer`: the client answered a request of a status's automation with auto-move: the record moves
  to the next status of its type's sequence (`crm/pipeline_moves.py`, actor `client request #N`, one history
  line), once (the move's step key). A record that has left the status meanwhile, or a move its type does not
  allow, does not move: one history line says why.
- `deliver_submissions`: the record-events dispatcher's sweep: the pending requests past their expiry marked
  `expired` (`crm/client_requests/closing.py`: a history line; a process waiting for one told, a status's
  request's record owner given a task; their reminders stopped), then the submissions and the ends (closures) not
  delivered yet (`workflows/request_delivery.py`), the signature outcomes (`workflows/signature_delivery.py`), and
  the signing providers' cancel calls due again (`activities/signing/cancel.py`, a few per sweep: each may wait
  for its provider's answer).
"""

from __future__ import annotations

from functools import partial

from pydantic import BaseModel, Field
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from activities.outbox import send_once
from activities.record_values import notify_events
from activities.signing.cancel import retry_cancel_calls
from crm import pipeline_store
from crm.client_requests import closing, store
from crm.client_requests.errors import ClientRequestClosed
from crm.client_requests.models import AutoMove, ClientRequest, RequestStatus
from crm.idempotent import insert_once
from crm.models import HistoryEntry, HistoryKind, OutboxMessage, Record
from crm.pipeline_moves import Move, move_record
from processes.errors import MovedMeanwhile, MoveRefused
from processes.history_words import history_text, said
from workflows import signature_delivery
from workflows.request_delivery import deliver_pending, deliver_pending_closures, requests_cancelled


REMINDER = {"it": ("Promemoria: {title}", "Non abbiamo ancora ricevuto le sue risposte."),
            "fr": ("Rappel : {title}", "Nous n'avons pas encore reçu vos réponses."),
            "de": ("Erinnerung: {title}", "Wir haben Ihre Antworten noch nicht erhalten."),
            "en": ("Reminder: {title}", "We have not received your answers yet.")}


def reminder_email(language: str, title: str, first_body: str) -> tuple[str, str]:
    """A reminder in the request's language: the last email with its link (kept nowhere else), said again."""
    subject, sentence = REMINDER.get(language.split("-")[0].split("_")[0].lower(), REMINDER["en"])
    return " ".join(subject.format(title=title).split())[:500], f"{sentence}\n\n{first_body}"


class RemindInput(BaseModel):
    request_id: int
    email_step_key: str  # the first email's: the reminder sends its body again
    number: int  # 1 for the first reminder


class MoveOnAnswerInput(BaseModel):
    request_id: int


# cancel calls made per sweep activity, each up to its provider's timeouts (20 s by default): well within its 5 minutes
CANCEL_CALLS_PER_SWEEP = 8


class CancelForProcessInput(BaseModel):
    request_id: int
    reason: str  # in the engine's English words: "phase 'Documents' skipped: ...", "process aborted: ..."
    actor: str


class DeliverSubmissionsInput(BaseModel):
    batch_size: int = Field(100, ge=1, le=1000)


class DeliverSubmissionsResult(BaseModel):
    delivered: int = 0
    more: bool = False
    expired: int = 0  # requests marked expired by this sweep


def actor(request_id: int) -> str:
    return f"client request #{request_id}"


async def _note(session: AsyncSession, record_id: int, request_id: int, text: str) -> str:
    """A line in the record's history saying why the answers moved nothing (once per request)."""
    step_key = f"client-request/{request_id}/move/refused"

    async def make() -> list[HistoryEntry]:
        return [HistoryEntry(record_id=record_id, step_key=step_key, kind=HistoryKind.note, text=text,
                             actor=actor(request_id), data={"client_request_id": request_id})]

    await insert_once(session, HistoryEntry, step_key, make)
    return f"not moved: {text}"


class ClientRequestActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="remind_client")
    async def remind_client(self, input: RemindInput) -> bool:
        """Send reminder `number`; False when the request is no longer pending (or its first email is gone)."""
        async with self.deps.sessions() as session:
            request = await session.get(ClientRequest, input.request_id)
            # the link sent last: staff's resend (a new token) replaces the one the step sent
            keys = [f"client-request/{input.request_id}/link/{request.token_hash[:16]}"] if request else []
            first = None
            for key in [*keys, input.email_step_key]:
                first = first or (await session.exec(select(OutboxMessage).where(
                    OutboxMessage.step_key == key))).first()
        if request is None or request.status is not RequestStatus.pending or store.is_expired(request) \
                or first is None:
            return False
        subject, body = reminder_email(request.language, request.title, first.body)

        async def compose(session: AsyncSession) -> tuple[str, str, str]:
            return first.to_address, subject, body

        await send_once(self.deps, step_key=f"{input.email_step_key}/reminder/{input.number}",
                        workflow_id=first.workflow_id, record_id=request.record_id, compose=compose,
                        history_kind=HistoryKind.reminder_sent,
                        history=said("client_reminder_sent", number=input.number, request=request.id))
        async with self.deps.sessions() as session:
            await session.exec(update(ClientRequest).where(  # type: ignore[call-overload]
                col(ClientRequest.id) == input.request_id, col(ClientRequest.reminders_sent) < input.number)
                .values(reminders_sent=input.number))
            await session.commit()
        return True

    @activity.defn(name="move_on_answer")
    async def move_on_answer(self, input: MoveOnAnswerInput) -> str:
        """Move the record on for the answered request; what happened, in a few words."""
        async with self.deps.sessions() as session:
            outcome = await self._move(session, input.request_id)
        return outcome

    async def _move(self, session: AsyncSession, request_id: int) -> str:
        request = await session.get(ClientRequest, request_id)
        if request is None or request.auto_move is not AutoMove.on or not request.waiting_status \
                or request.record_id is None:
            return "no auto-move"
        if request.status is not RequestStatus.submitted:
            return f"not moved: the request is {request.status.value}"
        step_key = f"client-request/{request_id}/move"
        record = await session.get(Record, request.record_id, populate_existing=True)
        assert record is not None
        waiting, record_id, title = request.waiting_status, request.record_id, request.title
        words = partial(history_text, self.deps.settings.locale, request=request_id)  # its lines, in LOCALE's language
        if record.status != waiting:
            done = (await session.exec(select(HistoryEntry).where(HistoryEntry.step_key == step_key))).first()
            if done is not None:  # a second delivery: this request moved it
                return f"moved to '{done.data.get('to')}'"
            return await _note(session, record_id, request_id, words("answered_left", status=record.status,
                                                                    waiting=waiting))
        pipeline = await pipeline_store.governing(session, record.kind, record.type)
        sequence = pipeline.sequence(record.type) if pipeline is not None else []
        following = sequence[sequence.index(waiting) + 1] if waiting in sequence[:-1] else None
        if following is None:
            return await _note(session, record_id, request_id, words("answered_last", waiting=waiting,
                                                                    type=record.type))
        try:
            await move_record(session, record_id, Move(
                to=following, reason=f"the client answered '{title}'", actor=actor(request_id),
                expected_status=waiting, step_key=step_key, locale=self.deps.settings.locale,
                shown_reason=words("client_answered", title=title)))
        except MovedMeanwhile as exc:
            raise ApplicationError(exc.message, type=exc.type) from None  # retried: then it has left, or not
        except MoveRefused as exc:
            await session.rollback()
            return await _note(session, record_id, request_id, words("answered_not_moved", why=exc.message))
        await session.commit()
        await notify_events(self.deps, step_key)  # the next status's automations
        return f"moved to '{following}'"

    @activity.defn(name="cancel_client_request")
    async def cancel_client_request(self, input: CancelForProcessInput) -> str:
        """A request a phase waited for, withdrawn because staff skipped the phase, or the process was aborted or
        ended (`workflows/requests_cancelled.py`): cancelled as staff cancel one, without telling the process (it
        is the one cancelling), and its reminders stopped. Nothing when the client answered or it is cancelled
        already (a retry). What happened, in a few words."""
        async with self.deps.sessions() as session:
            request = await session.get(ClientRequest, input.request_id)
            if request is None:
                return "no such request"
            if request.status in (RequestStatus.submitted, RequestStatus.cancelled):
                return f"not cancelled: it is {request.status.value}"
            try:
                await closing.cancel(session, request, input.actor, self.deps.settings.locale, reason=input.reason,
                                     tell_process=False)
            except ClientRequestClosed as exc:  # answered or cancelled meanwhile
                return f"not cancelled: {exc.message}"
        await requests_cancelled(self.deps.temporal, self.deps.settings, [input.request_id])  # reminders stop
        return "cancelled"

    @activity.defn(name="deliver_submissions")
    async def deliver_submissions(self, input: DeliverSubmissionsInput) -> DeliverSubmissionsResult:
        """The sweep: mark expired the pending requests past their expiry, then deliver the submissions the form
        could not, the signature outcomes the callback could not, the requests' ends, and the signing providers'
        cancel calls still failing (`activities/signing/cancel.py`)."""
        async with self.deps.sessions() as session:
            expired = await closing.expire_due(session, input.batch_size, self.deps.settings.locale)
        if self.deps.temporal is None:
            return DeliverSubmissionsResult(expired=len(expired), more=len(expired) == input.batch_size)
        await requests_cancelled(self.deps.temporal, self.deps.settings, expired)  # their reminders stop
        async with self.deps.sessions() as session:
            delivered, more = await deliver_pending(self.deps.temporal, self.deps.settings, session,
                                                    input.batch_size)
            outcomes, more_outcomes = await signature_delivery.deliver_pending(self.deps.temporal, session,
                                                                               input.batch_size)
            ends, more_ends = await deliver_pending_closures(self.deps.temporal, session, input.batch_size)
            cancels, more_cancels = await retry_cancel_calls(self.deps.settings, self.deps.sessions, session,
                                                             min(input.batch_size, CANCEL_CALLS_PER_SWEEP))
        return DeliverSubmissionsResult(delivered=delivered + outcomes + ends + cancels, expired=len(expired),
                                        more=more or more_outcomes or more_ends or more_cancels
                                        or len(expired) == input.batch_size)
