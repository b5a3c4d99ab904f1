"""Delivering signature outcomes: the client side of Temporal, for the callback and for the sweep.

A provider's callback commits the outcome on its `SignatureRequest` (`crm/signature_outcomes.py`), its
`delivered_at` empty; `outcome_stored` then signals `signature_completed` to the process whose phase waits, and
the record-events dispatcher's sweep (`deliver_pending`, from the activity `deliver_submissions`) delivers the rows
still undelivered: an outcome is never lost, not if the API dies after storing it, not while Temporal is down. A
process that has ended is noted on the row (nobody waits any more). Delivering twice is harmless: the process
counts a request's outcome once.
"""

from __future__ import annotations

import logging

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from crm.signatures import SignatureRequest, SignatureStatus
from crm.types import utcnow
from processes.instance import SignatureCompleted
from workflows.client import signal_if_running
from workflows.outbox_sweep import deliver_oldest

log = logging.getLogger("stagecoach.signatures")
SIGNAL = "signature_completed"


async def deliver(client: Client, session: AsyncSession, signature: SignatureRequest) -> None:
    """Signal the waiting process and mark the row delivered (committed); a failure is counted on the row and
    raised."""
    assert signature.id is not None and signature.status.final
    row_id, note = signature.id, ""
    try:
        if signature.workflow_id and not await signal_if_running(client, signature.workflow_id, SIGNAL,
                                                                 SignatureCompleted(
                                                                     signature_id=row_id,
                                                                     outcome=signature.status.value,
                                                                     at=signature.completed_at or utcnow())):
            note = f"process {signature.workflow_id} is not running: no phase waits for the signature"
    except Exception as exc:
        await session.rollback()
        await session.exec(update(SignatureRequest).where(  # type: ignore[call-overload]
            col(SignatureRequest.id) == row_id).values(attempts=SignatureRequest.attempts + 1,
                                                       last_error=f"{type(exc).__name__}: {exc}"[:2000]))
        await session.commit()
        raise
    await session.exec(update(SignatureRequest).where(  # type: ignore[call-overload]
        col(SignatureRequest.id) == row_id, col(SignatureRequest.delivered_at).is_(None)).values(
        delivered_at=utcnow(), attempts=SignatureRequest.attempts + 1, last_error=note or None))
    await session.commit()


async def outcome_stored(client: Client | None, session: AsyncSession, signature: SignatureRequest) -> None:
    """Right after the callback committed the outcome: deliver it now. A failure is logged, never raised (the
    outcome is stored; the dispatcher's sweep delivers it)."""
    if client is None:
        return
    try:
        await deliver(client, session, signature)
    except Exception:
        log.warning("signature request %s: outcome not delivered yet; the dispatcher's sweep will", signature.id,
                    exc_info=True)


async def deliver_pending(client: Client, session: AsyncSession, batch_size: int) -> tuple[int, bool]:
    """Deliver the oldest undelivered outcomes: how many were delivered, and whether more may wait."""
    return await deliver_oldest(
        session, SignatureRequest,
        [col(SignatureRequest.status) != SignatureStatus.sent, col(SignatureRequest.delivered_at).is_(None)],
        lambda row: deliver(client, session, row), lambda row: f"signature request {row.id}: outcome", batch_size, log)
