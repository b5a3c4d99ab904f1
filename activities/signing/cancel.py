"""Cancelling a signature request nobody waits for any more: its phase was skipped, its process aborted or ended.

`cancel_signature` (one request per call) changes the request from `sent` to `cancelled` by a conditional UPDATE,
in one transaction with its history line and, for an HTTP provider whose configuration has a `cancel_url`, the
provider's cancel call recorded as a `Delivery` (kind `cancel_signature`, step key `{request's step key}/cancel`)
before it is made. `delivered_at` is set with it: the process that cancels knows, nothing is signalled. Then the call
is made until the provider took it: a retry after a crash finds the request cancelled and the call still to make
(never lost, never a second history line); a repeat is harmless to the provider (one `Idempotency-Key`, and voiding
a void envelope voids nothing). The embedded signing page answers 410 from then on; a callback that still comes
finds the request final and changes nothing. A request that had its outcome first (signed while the skip came)
keeps it: the answer says which.

**Until the provider answers.** A call still failing when the step's retries are spent (the provider down for
longer) stays `pending`, its error on the row, and the record-events dispatcher's sweep (`retry_cancel_calls`, from
its activity `deliver_submissions`) makes it again once `next_attempt_at` has come: first
SIGNING_CANCEL_RETRY_SECONDS after, then after as long again as it has been failing (the waits double), at most
SIGNING_CANCEL_RETRY_MAX_SECONDS apart. Every attempt posts the body recorded once, with its one Idempotency-Key.
An attempt claims the row first (its `attempts` as read, by a conditional UPDATE that also sets `next_attempt_at`
past the attempt's longest duration): two attempts never run at once, and one that died with its worker is made
again once its claim lapsed. A 4xx is the provider's answer, final: the delivery is `failed`, with it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from pydantic import BaseModel
from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deliveries import DeliveryFailed, capped, post_at_most_once, write_delivery
from activities.deps import Deps
from activities.errors import final_message
from crm.deliveries import Delivery, DeliveryStatus
from crm.models import HistoryEntry, HistoryKind
from crm.signatures import SignatureRequest, SignatureStatus
from crm.types import utcnow
from processes.history_words import history_text
from settings import Settings
from workflows.outbox_sweep import deliver_oldest

CANCEL = "cancel_signature"
OPEN = (DeliveryStatus.pending, DeliveryStatus.sending)  # a cancel call still to make (or being made)
log = logging.getLogger("stagecoach.signatures")


class CancelSignatureInput(BaseModel):
    signature_id: int
    reason: str  # "phase 'Offer' skipped: ...", "process aborted: ..."
    actor: str


def cancel_key(step_key: str) -> str:
    return f"{step_key}/cancel"


@dataclass(frozen=True)
class CancelCall:
    """A recorded cancel call, as an attempt needs it (read before: no session is held over the provider's call)."""

    id: int
    body: str
    message_id: str
    provider: str
    attempts: int
    created_at: datetime

    @classmethod
    def of(cls, row: Delivery) -> CancelCall:
        assert row.id is not None
        return cls(id=row.id, body=row.body, message_id=row.message_id, provider=row.target, attempts=row.attempts,
                   created_at=row.created_at)


def retry_wait(settings: Settings, created_at: datetime, now: datetime) -> timedelta:
    """How long a failing cancel call waits before the sweep makes it again: as long as it has been failing, at
    least SIGNING_CANCEL_RETRY_SECONDS, at most SIGNING_CANCEL_RETRY_MAX_SECONDS."""
    least = timedelta(seconds=settings.signing_cancel_retry_seconds)
    return min(max(now - created_at, least), max(least, timedelta(seconds=settings.signing_cancel_retry_max_seconds)))


def attempt_bound(settings: Settings) -> timedelta:
    """The longest an attempt can take (its connection and its answer, and some): its claim lasts as long."""
    return timedelta(seconds=settings.webhook_connect_timeout_seconds + settings.webhook_read_timeout_seconds + 10)


class SignatureCancelActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name=CANCEL)
    async def cancel_signature(self, input: CancelSignatureInput) -> str:
        """The request's status once this is done: `cancelled`, or the outcome it had already (kept as it was)."""
        settings = self.deps.settings
        async with self.deps.sessions() as session:
            row = await session.get(SignatureRequest, input.signature_id)
            if row is None:
                return "gone"
            provider = settings.signing_providers.get(row.provider)
            if row.status is SignatureStatus.sent:
                now = utcnow()
                changed = await session.exec(update(SignatureRequest).where(  # type: ignore[call-overload]
                    col(SignatureRequest.id) == row.id, col(SignatureRequest.status) == SignatureStatus.sent)
                    .values(status=SignatureStatus.cancelled, completed_at=now, delivered_at=now))
                if changed.rowcount == 1:
                    session.add(HistoryEntry(
                        record_id=row.record_id, kind=HistoryKind.signature_completed, workflow_id=row.workflow_id,
                        phase_key=row.phase_key, actor=input.actor[:200],
                        text=history_text(settings.locale, "signature_cancelled", signature=row.id,
                                          signer=row.signer, reason=input.reason)[:2000],
                        data={"signature_id": row.id, "outcome": "cancelled"}))
                    if provider is not None and provider.cancel_url:
                        session.add(Delivery(
                            step_key=cancel_key(row.step_key), kind=CANCEL, workflow_id=row.workflow_id,
                            message_id=f"sigc_{hashlib.sha256(cancel_key(row.step_key).encode()).hexdigest()[:32]}",
                            record_id=row.record_id, target=row.provider, status=DeliveryStatus.pending,
                            # the sweep leaves it to this step's attempts first
                            next_attempt_at=now + max(retry_wait(settings, now, now), attempt_bound(settings)),
                            body=json.dumps({"envelope_id": row.envelope_id, "reason": input.reason[:500],
                                             "reference": "sig_" + hashlib.sha256(
                                                 row.step_key.encode()).hexdigest()[:32]})))
                await session.commit()
                await session.refresh(row)
            call = (await session.exec(select(Delivery).where(Delivery.step_key == cancel_key(row.step_key)))).first()
            status, provider_name = row.status.value, row.provider
        if call is not None and call.status in OPEN:
            if not await attempt(settings, self.deps.sessions, CancelCall.of(call), due_only=False):
                async with self.deps.sessions() as session:
                    now_open = await session.get(Delivery, call.id)
                if now_open is not None and now_open.status in OPEN:  # the sweep's attempt holds it: retried
                    raise ApplicationError(f"signing provider '{provider_name}' (cancel): another attempt is being "
                                           "made", type="SignatureCancelNotSent")
        return status


async def attempt(settings: Settings, sessions: async_sessionmaker[AsyncSession], call: CancelCall, *,
                  due_only: bool) -> bool:
    """One attempt at the provider's cancel call, once claimed: delivered, or a failure written on its row and
    raised (`ApplicationError`, non-retryable when the provider refused it for good). False when it was not
    claimed: settled, another attempt holds it, or (`due_only`, the sweep) not due yet."""
    now = utcnow()
    claim = update(Delivery).where(col(Delivery.id) == call.id, col(Delivery.attempts) == call.attempts,
                                   col(Delivery.status).in_(OPEN))
    if due_only:
        claim = claim.where(or_(col(Delivery.next_attempt_at).is_(None), col(Delivery.next_attempt_at) <= now))
    async with sessions() as session:
        claimed = await session.exec(claim.values(  # type: ignore[call-overload]
            status=DeliveryStatus.sending, attempts=call.attempts + 1,
            next_attempt_at=now + max(retry_wait(settings, call.created_at, now), attempt_bound(settings))))
        await session.commit()
    if claimed.rowcount != 1:
        return False
    provider = settings.signing_providers.get(call.provider)
    if provider is None or not provider.cancel_url:
        error = f"signing provider '{call.provider}' has no cancel_url in SIGNING_PROVIDERS any more"
        await write_delivery(sessions, call.id, status=DeliveryStatus.failed, last_error=error, next_attempt_at=None)
        raise final_message("SigningProviderUnknown", error)
    body = json.loads(call.body)
    url = provider.cancel_url.replace("{envelope_id}", quote(body["envelope_id"], safe=""))
    headers = {"Authorization": f"Bearer {provider.api_key.get_secret_value()}", "Idempotency-Key": call.message_id}
    try:
        response = await post_at_most_once(settings, url, where=f"signing provider '{call.provider}' (cancel)",
                                           not_sent="SignatureCancelNotSent", refused="SignatureCancelRefused",
                                           headers=headers, json=body)
    except DeliveryFailed as exc:
        final = exc.outcome == "final"
        failed_at = utcnow()
        await write_delivery(sessions, call.id, status=DeliveryStatus.failed if final else DeliveryStatus.pending,
                             last_error=exc.message, response_status=exc.response_status,
                             response_body=capped(exc.response_body),
                             next_attempt_at=None if final else failed_at + retry_wait(settings, call.created_at,
                                                                                       failed_at))
        if final:
            raise final_message(exc.error_type, exc.message) from None
        raise ApplicationError(exc.message, type=exc.error_type) from None  # a repeat is harmless: retried
    await write_delivery(sessions, call.id, status=DeliveryStatus.delivered, sent_at=utcnow(), last_error=None,
                         next_attempt_at=None, response_status=response.status_code,
                         response_body=capped(response.text))
    return True


async def retry_cancel_calls(settings: Settings, sessions: async_sessionmaker[AsyncSession], session: AsyncSession,
                             batch_size: int) -> tuple[int, bool]:
    """The sweep: make the oldest cancel calls still undelivered whose `next_attempt_at` has come (those the step's
    retries gave up on, or whose attempt died): how many the provider took, and whether more may wait. A failure is
    written on its row (and logged); the row waits for its next attempt."""
    async def deliver(row: Delivery) -> None:
        call = CancelCall.of(row)
        await session.commit()  # no transaction held over the provider's call
        await attempt(settings, sessions, call, due_only=True)

    now = utcnow()
    return await deliver_oldest(
        session, Delivery, [col(Delivery.kind) == CANCEL, col(Delivery.status).in_(OPEN),
                            or_(col(Delivery.next_attempt_at).is_(None), col(Delivery.next_attempt_at) <= now)],
        deliver, lambda row: f"signature cancel call {row.step_key} (delivery {row.id})", batch_size, log,
        settled=lambda row: row.status not in OPEN)
