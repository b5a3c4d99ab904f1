"""Cancelling a signature request nobody waits for any more: its phase was skipped, or its process aborted.

`cancel_signature` (one request per call) changes the request from `sent` to `cancelled` by a conditional UPDATE,
in one transaction with its history line and, for an HTTP provider whose configuration has a `cancel_url`, the
provider's cancel call recorded as a `Delivery` (kind `cancel_signature`, step key `{request's step key}/cancel`)
before it is made. `delivered_at` is set with it: the process that cancels knows, nothing is signalled. Then the call
is made until the provider took it: a retry after a crash finds the request cancelled and the call still to make
(never lost, never a second history line); a repeat is harmless to the provider (one `Idempotency-Key`, and voiding
a void envelope voids nothing). The embedded signing page answers 410 from then on; a callback that still comes
finds the request final and changes nothing. A request that had its outcome first (signed while the skip came)
keeps it: the answer says which.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote

from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deliveries import DeliveryFailed, capped, post_at_most_once
from activities.deps import Deps
from activities.errors import final_message
from crm.deliveries import Delivery, DeliveryStatus
from crm.models import HistoryEntry, HistoryKind
from crm.signatures import SignatureRequest, SignatureStatus
from crm.types import utcnow

CANCEL = "cancel_signature"


class CancelSignatureInput(BaseModel):
    signature_id: int
    reason: str  # "phase 'Offer' skipped: ...", "process aborted: ..."
    actor: str


def cancel_key(step_key: str) -> str:
    return f"{step_key}/cancel"


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
                        text=f"Signature request #{row.id} cancelled ({row.signer}): {input.reason}"[:2000],
                        data={"signature_id": row.id, "outcome": "cancelled"}))
                    if provider is not None and provider.cancel_url:
                        session.add(Delivery(
                            step_key=cancel_key(row.step_key), kind=CANCEL, workflow_id=row.workflow_id,
                            message_id=f"sigc_{hashlib.sha256(cancel_key(row.step_key).encode()).hexdigest()[:32]}",
                            record_id=row.record_id, target=row.provider, status=DeliveryStatus.pending,
                            body=json.dumps({"envelope_id": row.envelope_id, "reason": input.reason[:500],
                                             "reference": "sig_" + hashlib.sha256(
                                                 row.step_key.encode()).hexdigest()[:32]})))
                await session.commit()
                await session.refresh(row)
            call = (await session.exec(select(Delivery).where(Delivery.step_key == cancel_key(row.step_key)))).first()
            status, provider_name = row.status.value, row.provider
        if call is not None and call.status is not DeliveryStatus.delivered:
            await self._call(call, provider_name)
        return status

    async def _call(self, call: Delivery, name: str) -> None:
        """The provider's cancel call, recorded before: delivered, or a failure written on its row and raised
        (retried, unless the provider refused it for good)."""
        settings = self.deps.settings
        provider = settings.signing_providers.get(name)
        if provider is None or not provider.cancel_url:
            error = f"signing provider '{name}' has no cancel_url in SIGNING_PROVIDERS any more"
            await self._write(call.id, status=DeliveryStatus.failed, last_error=error)
            raise final_message("SigningProviderUnknown", error)
        await self._write(call.id, status=DeliveryStatus.sending, attempts=Delivery.attempts + 1)
        body = json.loads(call.body)
        url = provider.cancel_url.replace("{envelope_id}", quote(body["envelope_id"], safe=""))
        headers = {"Authorization": f"Bearer {provider.api_key.get_secret_value()}", "Idempotency-Key": call.message_id}
        try:
            response = await post_at_most_once(settings, url, where=f"signing provider '{name}' (cancel)",
                                               not_sent="SignatureCancelNotSent", refused="SignatureCancelRefused",
                                               headers=headers, json=body)
        except DeliveryFailed as exc:
            final = exc.outcome == "final"
            await self._write(call.id, status=DeliveryStatus.failed if final else DeliveryStatus.pending,
                              last_error=exc.message, response_status=exc.response_status,
                              response_body=capped(exc.response_body))
            if final:
                raise final_message(exc.error_type, exc.message) from None
            raise ApplicationError(exc.message, type=exc.error_type) from None  # a repeat is harmless: retried
        await self._write(call.id, status=DeliveryStatus.delivered, sent_at=utcnow(), last_error=None,
                          response_status=response.status_code, response_body=capped(response.text))

    async def _write(self, row_id: int | None, **values: object) -> None:
        async with self.deps.sessions() as session:
            await session.exec(update(Delivery).where(col(Delivery.id) == row_id).values(**values))  # type: ignore[call-overload]
            await session.commit()
