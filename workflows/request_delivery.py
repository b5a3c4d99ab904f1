"""Delivering client-request submissions: the client side of Temporal, for the form and for the sweep.

The form's submission commits the answers with a `ClientRequestSubmission` outbox row
(`crm/client_requests/submit.py`); `submission_stored` then delivers it at once, and the record-events
dispatcher's timer sweeps the rows still undelivered (`deliver_pending`, from its activity
`deliver_submissions`), so a submission is never lost: not if the API dies after storing it, not while
Temporal or the worker is down. Delivering a row means:

- a process's phase waits (`waiting_workflow_id`, auto-move on): signal `client_request_submitted` to that
  `ProcessWorkflow` (one that has ended is noted on the row: nobody waits any more);
- a status's automation sent it (`waiting_status`, auto-move on): signal-with-start the request's
  `ClientRequestWorkflow`, which moves the record on;
- otherwise (auto-move off): the request's workflow, if running, is told (its reminders stop).

Then the row is marked delivered. Delivering twice (the form and a sweep at once, a crash before the mark) is
harmless: every receiver counts a request's answers once.

A request a process waits for that ends unanswered (cancelled by staff, expired: `crm/client_requests/closing.py`)
has its `ClientRequestClosure` row, delivered the same way (`closures_stored` at once, `deliver_pending_closures`
from the sweep): the signal `client_request_closed` (request id, outcome, at) to that process, counted once.
"""

from __future__ import annotations

import logging

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from crm.client_requests.models import AutoMove, ClientRequest, ClientRequestClosure, ClientRequestSubmission
from crm.types import utcnow
from processes.instance import ClientRequestEnded, ClientRequestSubmitted
from settings import Settings
from workflows.client import (CLOSED_SIGNAL, SUBMITTED_SIGNAL, ClientRequestInput, request_workflow_id,
                              signal_if_running, start_request_workflow)
from workflows.outbox_sweep import deliver_oldest

log = logging.getLogger("stagecoach.client_requests")


async def _signal(client: Client, settings: Settings, request: ClientRequest, signal: ClientRequestSubmitted) -> str:
    """Signal whoever waits for the request's answers; a note when nobody does any more."""
    assert request.id is not None
    if request.auto_move is AutoMove.on and request.waiting_workflow_id:
        if not await signal_if_running(client, request.waiting_workflow_id, SUBMITTED_SIGNAL, signal):
            return f"process {request.waiting_workflow_id} is not running: no phase waits for the answers"
        await signal_if_running(client, request_workflow_id(settings.temporal_task_queue, request.id),
                                SUBMITTED_SIGNAL, signal)
        return ""
    if request.auto_move is AutoMove.on and request.waiting_status and request.record_id is not None:
        # it waits for the answers (started with the request); else signal-with-start: it ended, or never started
        if not await signal_if_running(client, request_workflow_id(settings.temporal_task_queue, request.id),
                                       SUBMITTED_SIGNAL, signal):
            await start_request_workflow(client, settings, ClientRequestInput(request_id=request.id), signal)
        return ""
    await signal_if_running(client, request_workflow_id(settings.temporal_task_queue, request.id),
                            SUBMITTED_SIGNAL, signal)
    return ""


async def deliver(client: Client, settings: Settings, session: AsyncSession,
                  submission: ClientRequestSubmission) -> None:
    """Deliver one submission and mark it delivered (committed); a failure is counted on the row and raised."""
    request = await session.get(ClientRequest, submission.request_id, populate_existing=True)
    assert request is not None and submission.id is not None
    signal = ClientRequestSubmitted(request_id=submission.request_id,
                                    submitted_at=request.submitted_at or submission.created_at)
    row_id = submission.id
    try:
        note = await _signal(client, settings, request, signal)
    except Exception as exc:
        await session.rollback()
        await session.exec(update(ClientRequestSubmission).where(  # type: ignore[call-overload]
            col(ClientRequestSubmission.id) == row_id).values(
            attempts=ClientRequestSubmission.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]))
        await session.commit()
        raise
    await session.exec(update(ClientRequestSubmission).where(  # type: ignore[call-overload]
        col(ClientRequestSubmission.id) == row_id, col(ClientRequestSubmission.delivered_at).is_(None)).values(
        delivered_at=utcnow(), attempts=ClientRequestSubmission.attempts + 1, last_error=note or None))
    await session.commit()


async def submission_stored(client: Client | None, settings: Settings, session: AsyncSession,
                            request: ClientRequest) -> None:
    """Right after the form committed the submission of `request` (as it was read before): deliver it now, the
    signal first, then the row marked delivered. A failure is logged, never raised (the client's answers are
    stored; the dispatcher's sweep delivers them)."""
    if client is None or request.id is None:
        return
    request_id = request.id
    try:
        note = await _signal(client, settings, request, ClientRequestSubmitted(request_id=request_id,
                                                                               submitted_at=utcnow()))
        await session.exec(update(ClientRequestSubmission).where(  # type: ignore[call-overload]
            col(ClientRequestSubmission.request_id) == request_id,
            col(ClientRequestSubmission.delivered_at).is_(None)).values(
            delivered_at=utcnow(), attempts=ClientRequestSubmission.attempts + 1, last_error=note or None))
        await session.commit()
    except Exception:
        log.warning("client request %s: submission not delivered yet; the dispatcher's sweep will", request_id,
                    exc_info=True)


async def deliver_pending(client: Client, settings: Settings, session: AsyncSession,
                          batch_size: int) -> tuple[int, bool]:
    """Deliver the oldest undelivered submissions: how many were delivered, and whether more may wait."""
    return await deliver_oldest(
        session, ClientRequestSubmission, [col(ClientRequestSubmission.delivered_at).is_(None)],
        lambda row: deliver(client, settings, session, row),
        lambda row: f"client request {row.request_id}: submission", batch_size, log)


async def requests_cancelled(client: Client | None, settings: Settings, request_ids: list[int]) -> None:
    """Requests were cancelled (committed): their workflows stop reminding. A failure is logged (a reminder checks
    the request is still pending before it is sent)."""
    for request_id in request_ids if client is not None else []:
        try:
            await signal_if_running(client, request_workflow_id(settings.temporal_task_queue, request_id), "cancel",
                                    None)
        except Exception:
            log.warning("client request %s: its workflow was not told it is cancelled", request_id, exc_info=True)


async def deliver_closure(client: Client, session: AsyncSession, closure: ClientRequestClosure) -> None:
    """Signal `client_request_closed` to the process waiting for the request and mark the row delivered (committed);
    a process that has ended is noted on the row. A failure is counted on the row and raised."""
    request = await session.get(ClientRequest, closure.request_id, populate_existing=True)
    assert request is not None and closure.id is not None
    row_id, note = closure.id, ""
    signal = ClientRequestEnded(request_id=closure.request_id, outcome=closure.outcome.value,  # type: ignore[arg-type]
                                at=closure.created_at)
    try:
        if request.waiting_workflow_id and not await signal_if_running(client, request.waiting_workflow_id,
                                                                       CLOSED_SIGNAL, signal):
            note = f"process {request.waiting_workflow_id} is not running: no phase waits for the answers"
    except Exception as exc:
        await session.rollback()
        await session.exec(update(ClientRequestClosure).where(  # type: ignore[call-overload]
            col(ClientRequestClosure.id) == row_id).values(
            attempts=ClientRequestClosure.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]))
        await session.commit()
        raise
    await session.exec(update(ClientRequestClosure).where(  # type: ignore[call-overload]
        col(ClientRequestClosure.id) == row_id, col(ClientRequestClosure.delivered_at).is_(None)).values(
        delivered_at=utcnow(), attempts=ClientRequestClosure.attempts + 1, last_error=note or None))
    await session.commit()


async def closures_stored(client: Client | None, settings: Settings, session: AsyncSession, request_id: int) -> None:
    """Right after a request's end was committed: deliver its closure rows now. A failure is logged, never raised
    (the end is stored; the dispatcher's sweep delivers it)."""
    if client is None:
        return
    rows = (await session.exec(select(ClientRequestClosure).where(
        ClientRequestClosure.request_id == request_id, col(ClientRequestClosure.delivered_at).is_(None)))).all()
    for row in rows:
        try:
            await deliver_closure(client, session, row)
        except Exception:
            log.warning("client request %s: its end not delivered yet; the dispatcher's sweep will", request_id,
                        exc_info=True)


async def deliver_pending_closures(client: Client, session: AsyncSession, batch_size: int) -> tuple[int, bool]:
    """Deliver the oldest undelivered closures: how many were delivered, and whether more may wait."""
    return await deliver_oldest(
        session, ClientRequestClosure, [col(ClientRequestClosure.delivered_at).is_(None)],
        lambda row: deliver_closure(client, session, row),
        lambda row: f"client request {row.request_id}: its end", batch_size, log)
