"""The `request_signature` action: send a document a letter or report made to a signing provider, at most once.

The document is found by its rendered name among the record's documents (its current version is sent). The send is
a `Delivery` of kind `request_signature` (`activities/deliveries.py`): recorded before anything leaves, the
provider asked once (`at_most_once`: an attempt of unknown outcome becomes an incident asking staff, never a second
envelope), the step key's hash as the provider's idempotency key. Then the `SignatureRequest` row keeps the envelope
id, once per step key (a retry after the send finds the delivery done and only writes the row). With the embedded
provider, the signer is emailed the link to the API's signing page (an outbox email, keyed `{step key}/email`),
recorded in one transaction with the request, which keeps only the SHA-256 of the link's token as its envelope id.

The provider's name, URL and keys are read here, from the settings: none of it enters the workflow.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities import bookkeeping
from activities.deliveries import Answered, Planned, deliver_once
from activities.deps import Deps
from activities.engine_words import moment_text, say
from activities.errors import final_message
from activities.letters import document_name
from activities.outbox import send_once
from activities.send_email import resolve_recipient
from activities.signing.providers import EMBEDDED, UnknownProvider, signing_provider
from activities.step import ActionResult, OnceStep, StepInput, render, render_variables, step_activity
from crm.deliveries import Delivery
from crm.documents import store
from crm.documents.models import Document
from crm.client_requests.store import new_token
from crm.documents.storage import StoredFileMissing, storage_for
from crm.idempotent import insert_once
from crm.models import HistoryEntry, HistoryKind
from crm.signatures import SignatureRequest, SignatureStatus
from crm.types import utcnow
from processes.action_kinds import RequestSignature
from processes.history_words import english, history_text, said

KIND = "request_signature"


class RequestSignatureInput(BaseModel):
    step: StepInput
    action: RequestSignature
    where: str = KIND


def signing_link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/sign/{token}"


class ExpireSignaturesInput(BaseModel):
    signature_ids: list[int]


class SignatureActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="expire_signatures")
    async def expire_signatures(self, input: ExpireSignaturesInput) -> int:
        """The phase waited until the requests' expiry: those still `sent` are `expired` (with their history line,
        delivered: the process knows); a provider's later callback finds them final. How many changed."""
        changed = 0
        async with self.deps.sessions() as session:
            for signature_id in input.signature_ids:
                row = await session.get(SignatureRequest, signature_id)
                if row is None or row.status is not SignatureStatus.sent:
                    continue
                result = await session.exec(update(SignatureRequest).where(  # type: ignore[call-overload]
                    col(SignatureRequest.id) == signature_id, col(SignatureRequest.status) == SignatureStatus.sent)
                    .values(status=SignatureStatus.expired, completed_at=utcnow(), delivered_at=utcnow()))
                if result.rowcount == 1:
                    changed += 1
                    session.add(HistoryEntry(
                        record_id=row.record_id, kind=HistoryKind.signature_completed, workflow_id=row.workflow_id,
                        phase_key=row.phase_key, actor=f"process {row.workflow_id}"[:200],
                        text=history_text(self.deps.settings.locale, "signature_expired", signature=signature_id,
                                          signer=row.signer),
                        data={"signature_id": signature_id, "outcome": "expired"}))
            await session.commit()
        return changed

    @step_activity(KIND)
    async def request_signature(self, input: RequestSignatureInput) -> ActionResult:
        action, deps = input.action, self.deps
        try:
            provider = signing_provider(deps.settings, action.provider)
        except UnknownProvider as exc:
            raise final_message("SigningProviderUnknown", f"{input.where}.provider: {exc}") from None
        once = await OnceStep.prepare(deps, input.step)
        step = once.step

        async def compose(session: AsyncSession) -> Planned:
            variables = await render_variables(session, step, utcnow(), [action.document])
            name = document_name(await render(deps, step, action.document, variables, f"{input.where}.document"))
            document = (await session.exec(select(Document).where(Document.record_id == step.record_id,
                                                                  Document.name == name)
                                           .order_by(col(Document.id).desc()))).first()
            if document is None:
                raise final_message("SignatureDocumentMissing", f"{input.where}.document: record {step.record_id} "
                                                                f"has no document '{name}'")
            signer = await resolve_recipient(session, step, action.signer)
            body = json.dumps({"document_id": document.id, "version": document.current_version, "name": name,
                               "provider": action.provider})
            return Planned(target=signer, body=body,
                           message_id=f"sig_{hashlib.sha256(step.step_key.encode()).hexdigest()[:32]}")

        async def send(row: Delivery) -> Answered:
            planned = json.loads(row.body)
            async with deps.sessions() as session:
                document = await session.get(Document, planned["document_id"])
                if document is None:
                    raise final_message("SignatureDocumentMissing", f"document {planned['document_id']} was "
                                                                    "deleted before it was sent for signature")
                version = await store.version(session, document, planned["version"])
            try:
                pdf = await store.read(storage_for(deps.settings), version)
            except StoredFileMissing:
                raise final_message("SignatureDocumentMissing", f"the file of document {document.id} is gone from "
                                                                "the storage") from None
            return await provider.send(pdf=pdf, name=planned["name"], signer=row.target,
                                       callback_url=f"{deps.settings.public_url.rstrip('/')}/signatures/callback/"
                                                    f"{action.provider}",
                                       idempotency_key=row.message_id,
                                       expires_at=row.created_at + timedelta(days=action.expires_days))

        row = await deliver_once(deps, step, kind=KIND, compose=compose, send=send, before=once.before,
                                 after=once.after(), history_kind=HistoryKind.signature_requested,
                                 describe=lambda d: history_text(
                                     deps.settings.locale, "signature_sent", name=json.loads(d.body)["name"],
                                     signer=d.target, provider=action.provider))
        if action.provider == EMBEDDED:  # the link is made with its email, and the request with them
            await self._link_emailed(step, row, action)
        signature = await self._kept(step, row, action)
        return ActionResult(summary=english("summary_signature", signature=signature.id, signer=action.signer,
                                            provider=action.provider, delivery=row.id),
                            data={"signature_id": signature.id, "expires_at": signature.expires_at.isoformat()},
                            responsible_id=step.responsible_id)

    def _row(self, step: StepInput, row: Delivery, action: RequestSignature, envelope_id: str) -> SignatureRequest:
        planned = json.loads(row.body)
        return SignatureRequest(
            step_key=step.step_key, provider=action.provider, envelope_id=envelope_id, record_id=step.record_id,
            document_id=planned["document_id"], version=planned["version"], signer=row.target,
            workflow_id=step.workflow_id, phase_key=step.phase_key,
            expires_at=row.created_at + timedelta(days=action.expires_days))

    async def _kept(self, step: StepInput, row: Delivery, action: RequestSignature) -> SignatureRequest:
        """The step's signature request: written once, after its delivery (a retry finds it; the embedded
        provider's was written with its link's email)."""
        async with self.deps.sessions() as session:
            async def make() -> list[SignatureRequest]:
                return [self._row(step, row, action, row.provider_id or row.message_id)]

            return await insert_once(session, SignatureRequest, step.step_key, make)

    async def _link_emailed(self, step: StepInput, row: Delivery, action: RequestSignature) -> None:
        """The embedded provider: the signer is emailed a link with a new token (256 random bits), its outbox
        message recorded in one transaction with the request, which keeps only the token's SHA-256, like a client
        request's link (`crm/client_requests/store.py`). A retry finds the message recorded and sends it again; the
        token is in clear nowhere else. A request recorded before its link (by a version that kept the token
        itself) gets a new token: its old one was never emailed."""
        settings = self.deps.settings
        token, digest = new_token()

        async def compose(session: AsyncSession) -> tuple[str, str, str]:
            link = signing_link(settings.public_url, token)
            locale = step.locale or settings.locale
            until = moment_text(row.created_at + timedelta(days=action.expires_days), locale, settings.zone)
            text = say(locale)
            return row.target, text("sign"), text("sign_text", link=link, until=until)

        async def before(session: AsyncSession) -> None:
            found = (await session.exec(select(SignatureRequest).where(
                SignatureRequest.step_key == step.step_key))).first()
            if found is None:
                session.add(self._row(step, row, action, digest))
            else:
                found.envelope_id = digest
                session.add(found)

        await send_once(self.deps, step_key=f"{step.step_key}/email", workflow_id=step.workflow_id,
                        record_id=step.record_id, compose=compose, before=before, phase_key=step.phase_key,
                        history=said("signing_link_emailed"))
