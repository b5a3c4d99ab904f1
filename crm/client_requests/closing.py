"""A client request that ends without answers: cancelled by staff, or past its expiry (marked `expired` by the sweep).

Each end is ONE transaction: the status changed by a conditional UPDATE (from `pending`: of a submission and an end at
once, one wins; an expiry is marked once), a line in the record's history, and what waits for the answers is told:

- a process's phase (auto-move, `waiting_workflow_id`): a `ClientRequestClosure` outbox row, delivered to the
  process as the signal `client_request_closed` (`workflows/request_delivery.py`), the same never-lost way as a
  submission; the process then resumes the phase's deadline and gives its responsible a task;
- a status's automation (auto-move, `waiting_status`), on expiry: a task for the record's owner to decide what
  becomes of the record, which does not move;
- otherwise (staff's own requests): the history line only.

The request's workflow (reminders) is told after the commit, by the caller (`requests_cancelled`): a reminder checks
that the request is still pending before it is sent anyway.
"""

from __future__ import annotations

from functools import partial

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.client_requests.errors import ClientRequestClosed
from crm.client_requests.models import AutoMove, ClientRequest, ClientRequestClosure, RequestStatus
from crm.models import HistoryEntry, HistoryKind, Record, Task, TaskKind
from crm.types import utcnow
from processes.history_words import history_text

SWEEP = "client request expiry"  # the actor of what the sweep does


def waits_in_process(request: ClientRequest) -> bool:
    """A process's phase waits for the request's answers."""
    return request.auto_move is AutoMove.on and bool(request.waiting_workflow_id)


def _line(request: ClientRequest, kind: HistoryKind, text: str, actor: str) -> HistoryEntry | None:
    if request.record_id is None:
        return None
    return HistoryEntry(record_id=request.record_id, kind=kind, text=text, actor=actor[:200],
                        workflow_id=request.waiting_workflow_id, phase_key=request.waiting_phase_key,
                        data={"client_request_id": request.id, "outcome": "cancelled" if
                              kind is HistoryKind.client_request_cancelled else "expired"})


async def cancel(session: AsyncSession, request: ClientRequest, actor: str, locale: str, reason: str | None = None,
                 tell_process: bool = True) -> None:
    """Withdraw a pending (or expired) request: status, history line (in the language of `locale`: LOCALE; with the
    engine's `reason`, when the process cancels it) and, when a process waits and `tell_process` (not when that
    process cancels it itself), its closure row; committed. `ClientRequestClosed` (nothing changed) once it is
    submitted or cancelled, even by a racing call."""
    assert request.id is not None
    request_id, now = request.id, utcnow()
    was_expired = request.status is RequestStatus.expired  # its end was told already, when it expired
    changed = await session.exec(update(ClientRequest).where(  # type: ignore[call-overload]
        col(ClientRequest.id) == request_id,
        col(ClientRequest.status).in_([RequestStatus.pending, RequestStatus.expired]))
        .values(status=RequestStatus.cancelled, closed_by=actor[:200], closed_at=now))
    if changed.rowcount != 1:
        await session.rollback()
        await session.refresh(request)
        raise ClientRequestClosed.worded("client request {id} is {status}: it cannot be cancelled", id=request_id,
                                         status=request.status.value)
    text = history_text(locale, "client_request_cancelled_why", title=request.title, reason=reason) if reason else \
        history_text(locale, "client_request_cancelled", title=request.title)
    line = _line(request, HistoryKind.client_request_cancelled, text, actor)
    if line is not None:
        session.add(line)
    if waits_in_process(request) and not was_expired and tell_process:
        session.add(ClientRequestClosure(request_id=request_id, outcome=RequestStatus.cancelled))
    await session.commit()
    await session.refresh(request)


async def _owner_task(session: AsyncSession, request: ClientRequest) -> None:
    """A status's request expired: its record's owner decides what becomes of the record (it does not move)."""
    record = await session.get(Record, request.record_id) if request.record_id is not None else None
    if record is None:
        return
    session.add(Task(step_key=f"client-request/{request.id}/expired/{request.expires_at:%Y%m%dT%H%M%S}",
                     kind=TaskKind.manual, workflow_id="", phase_key="", record_id=record.id,
                     assignee_id=record.owner_id, due_at=None,
                     title=f"Client request #{request.id} '{request.title}' expired unanswered"[:500],
                     description=f"The client did not answer client request #{request.id} by "
                                 f"{request.expires_at:%Y-%m-%d %H:%M} UTC. Its answers would have moved the record "
                                 f"on from '{request.waiting_status}'; it stays where it is: move it, resend the "
                                 "request, or close this task."))


async def expire(session: AsyncSession, request_id: int, locale: str) -> bool:
    """Mark one request expired if it is pending past its expiry, with its history line (in the language of
    `locale`: LOCALE) and what waits told; committed. Whether this call marked it (a second call, or a racing sweep,
    finds it marked)."""
    now = utcnow()
    changed = await session.exec(update(ClientRequest).where(  # type: ignore[call-overload]
        col(ClientRequest.id) == request_id, col(ClientRequest.status) == RequestStatus.pending,
        col(ClientRequest.expires_at) <= now).values(status=RequestStatus.expired, closed_at=now))
    if changed.rowcount != 1:
        await session.rollback()
        return False
    request = await session.get(ClientRequest, request_id, populate_existing=True)
    assert request is not None
    said = partial(history_text, locale)
    waits = said("phase_goes_on") if waits_in_process(request) else \
        said("record_stays") if request.auto_move is AutoMove.on and request.waiting_status else ""
    line = _line(request, HistoryKind.client_request_expired,
                 said("client_request_expired", request=request_id, title=request.title) + waits, SWEEP)
    if line is not None:
        session.add(line)
    if waits_in_process(request):
        session.add(ClientRequestClosure(request_id=request_id, outcome=RequestStatus.expired))
    elif request.auto_move is AutoMove.on and request.waiting_status:
        await _owner_task(session, request)
    await session.commit()
    return True


async def expire_due(session: AsyncSession, batch_size: int, locale: str) -> list[int]:
    """Mark expired the oldest pending requests past their expiry (up to `batch_size`), their lines in the language
    of `locale`: the ids marked now."""
    ids = list((await session.exec(select(ClientRequest.id).where(
        col(ClientRequest.status) == RequestStatus.pending, col(ClientRequest.expires_at) <= utcnow())
        .order_by(col(ClientRequest.expires_at)).limit(batch_size))).all())
    return [request_id for request_id in ids if request_id is not None and await expire(session, request_id, locale)]
