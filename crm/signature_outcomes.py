"""A signature request's outcome, kept once: what a provider's callback (or the embedded signing page) tells.

In ONE transaction: the request's status changed from `sent` by a conditional UPDATE (of two callbacks at once
one wins; a repeat finds it final and changes nothing), the signed PDF kept as a new version of the document
(`crm/documents/store.add_once`, keyed `{step key}/signed`), and a history line. The row, its `delivered_at`
empty, is the outbox of the outcome: `workflows/signature_delivery.py` signals the waiting process.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.documents import store
from crm.documents.models import Document
from crm.documents.storage import Storage
from crm.models import HistoryEntry, HistoryKind
from crm.signatures import SignatureRequest, SignatureStatus
from crm.types import utcnow
from processes.errors import DocumentInvalid
from processes.history_words import history_text


class AlreadyFinal(Exception):
    """The request had its outcome already: nothing changed."""


async def keep_outcome(session: AsyncSession, storage: Storage, signature: SignatureRequest,
                       outcome: SignatureStatus, signed_pdf: bytes | None, actor: str, locale: str) -> SignatureRequest:
    """Keep `outcome` (with the signed PDF, for `signed`); `AlreadyFinal` when another outcome was kept first. Its
    history lines are in the language of `locale` (LOCALE)."""
    assert signature.id is not None and outcome.final
    signature_id = signature.id
    line = HistoryEntry(record_id=signature.record_id, kind=HistoryKind.signature_completed,
                        text=history_text(locale, f"signature_{outcome.value}", signature=signature_id,
                                          signer=signature.signer),
                        workflow_id=signature.workflow_id, phase_key=signature.phase_key, actor=actor[:200],
                        data={"signature_id": signature_id, "outcome": outcome.value})

    async def mark(s: AsyncSession, version: int | None = None) -> None:
        changed = await s.exec(update(SignatureRequest).where(  # type: ignore[call-overload]
            col(SignatureRequest.id) == signature_id, col(SignatureRequest.status) == SignatureStatus.sent)
            .values(status=outcome, completed_at=utcnow(), signed_version=version))
        if changed.rowcount != 1:
            raise AlreadyFinal(f"signature request {signature_id} has its outcome already")
        s.add(line)

    if outcome is SignatureStatus.signed and signed_pdf is not None:
        document = await session.get(Document, signature.document_id)
        if document is None:
            raise DocumentInvalid(f"the document {signature.document_id} sent for signature was deleted")
        number = document.current_version + 1
        try:
            await store.add_once(session, storage, record_id=signature.record_id, data=signed_pdf,
                                 filename=document.name, declared="application/pdf",
                                 step_key=f"{signature.step_key}/signed", actor=actor[:200],
                                 before=lambda s: mark(s, number), locale=locale, words="signed_version")
        except BaseException:
            await session.rollback()
            raise
    else:
        try:
            await mark(session)
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    await session.refresh(signature)
    return signature
