"""The outbox: every email processes sent or, without an SMTP server, kept here instead."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlmodel import col, select

from api.auth import Principal
from api.deps import SessionDep, StaffDep
from api.fields import WorkflowIdQuery
from api.paging import Page, paged
from crm.access import of_visible_record
from crm.models import MessageStatus, OutboxMessage, OutboxMessagePublic
from processes.errors import NotFound

router = APIRouter(prefix="/outbox", tags=["outbox"])


def _visible(principal: Principal) -> Any:
    """The messages of a record, or of a process on a record, the caller may see (crm/access.py)."""
    return of_visible_record(principal, col(OutboxMessage.record_id), col(OutboxMessage.workflow_id))


@router.get("", response_model=list[OutboxMessagePublic])
async def list_messages(
    session: SessionDep, principal: StaffDep,
    page: Annotated[Page, Depends(paged(100, 500))],
    status: MessageStatus | None = None, workflow_id: WorkflowIdQuery = None, record_id: int | None = None,
) -> list[OutboxMessage]:
    """Newest first (none about a record the caller may not see)."""
    query = select(OutboxMessage).where(_visible(principal))
    if status:
        query = query.where(OutboxMessage.status == status)
    if workflow_id:
        query = query.where(OutboxMessage.workflow_id == workflow_id)
    if record_id is not None:
        query = query.where(OutboxMessage.record_id == record_id)
    query = query.order_by(col(OutboxMessage.id).desc()).offset(page.offset).limit(page.limit)
    return page.done((await session.exec(query)).all())


@router.get("/{message_id}", response_model=OutboxMessagePublic)
async def get_message(message_id: int, session: SessionDep, principal: StaffDep) -> OutboxMessage:
    query = select(OutboxMessage).where(OutboxMessage.id == message_id,
                                        _visible(principal))
    message = (await session.exec(query)).first()
    if message is None:
        raise NotFound(f"no outbox message {message_id}")
    return message
