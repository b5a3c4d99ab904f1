"""Signature requests: a document sent to a signing provider, and what the signer did with it.

A `request_signature` step sends the document once (`activities/signing/`, a `Delivery` of kind
`request_signature`, at most once), then records a `SignatureRequest` keyed by its step key, with the provider's
envelope id. The provider's callback (`api/routers/signatures.py`, its signature verified) sets its outcome once:
signed (the signed PDF kept as a new version of the document), declined or expired; or Stagecoach cancels it when
nobody waits for it any more (`activities/signing/cancel.py`). The row is also the outbox of
that outcome: `delivered_at` stays empty until the waiting process was signalled `signature_completed`
(`workflows/signature_delivery.py`; the record-events dispatcher's sweep delivers what the API could not).

A request still `sent` whose process has ended (`ended_process`: one that ended before it cancelled its requests, as
an `end_process` after the request did before `signatures-cancelled-when-the-process-ends`) has nobody waiting for
its outcome: the callback refuses it (409) and the embedded page says it was withdrawn (410), changing nothing.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.models import _created, _enum  # the tables' shared column types
from crm.types import UTCDateTime

if TYPE_CHECKING:
    from crm.process_runs import ProcessRun


class SignatureStatus(str, enum.Enum):
    sent = "sent"  # with the provider, waiting for the signer
    signed = "signed"
    declined = "declined"
    expired = "expired"
    cancelled = "cancelled"  # nobody waits any more: its phase was skipped, its process aborted

    @property
    def final(self) -> bool:
        return self is not SignatureStatus.sent


class SignatureRequest(SQLModel, table=True):
    __tablename__ = "signature_request"
    __table_args__ = (sa.UniqueConstraint("provider", "envelope_id", name="uq_signature_request_envelope"),)

    id: int | None = Field(default=None, primary_key=True)
    step_key: str = Field(unique=True, max_length=400)
    provider: str = Field(max_length=63)
    # the provider's id of the envelope; embedded: the SHA-256 (hex) of the signing link's token, never the token
    envelope_id: str = Field(max_length=200)
    record_id: int = Field(foreign_key="record.id", index=True)
    document_id: int  # no foreign key: a document removed later leaves the request as it was
    version: int  # the version of the document sent
    signer: str = Field(max_length=320)
    workflow_id: str | None = Field(default=None, max_length=255)
    phase_key: str | None = Field(default=None, max_length=63)
    status: SignatureStatus = Field(default=SignatureStatus.sent, sa_type=_enum(SignatureStatus), index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = _created()
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    signed_version: int | None = None  # the document's version that holds the signed PDF
    # the outbox of the outcome: when the waiting process was told (or nobody waits any more: a note)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=sa.Text)


async def ended_process(session: AsyncSession, signature: SignatureRequest) -> ProcessRun | None:
    """The process whose phase waited for `signature`, when it has ended (as its run row says, with its final state
    naming the request): nobody waits for an outcome any more. None for a process still running, a status's
    automation (nothing waits for its requests), or a run whose final state is not known."""
    from crm.process_runs import ProcessRun  # crm.process_runs reads the process models: imported when asked

    if signature.workflow_id is None or signature.id is None:
        return None
    run = (await session.exec(select(ProcessRun).where(ProcessRun.workflow_id == signature.workflow_id))).first()
    if run is None or not run.status.finished or not run.state:
        return None
    phases = run.state.get("phases") or []
    return run if any(signature.id in (p.get("waiting_signatures") or []) for p in phases) else None
