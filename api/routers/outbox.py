"""The outbox: every email processes sent or, without an SMTP server, kept here instead."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api import record_rows
from api.deps import SessionDep, StaffDep
from api.fields import WorkflowIdQuery
from api.paging import Page, paged
from crm.models import MessageStatus, OutboxMessage, OutboxMessagePublic

router = APIRouter(prefix="/outbox", tags=["outbox"])


@router.get("", response_model=list[OutboxMessagePublic])
async def list_messages(
    session: SessionDep, principal: StaffDep,
    page: Annotated[Page, Depends(paged(100, 500, newest_first=True))],
    status: MessageStatus | None = None, workflow_id: WorkflowIdQuery = None, record_id: int | None = None,
) -> list[OutboxMessage]:
    """Newest first (none about a record the caller may not see)."""
    return await record_rows.newest(session, OutboxMessage, principal, page, status=status, workflow_id=workflow_id,
                                    record_id=record_id)


@router.get("/{message_id}", response_model=OutboxMessagePublic)
async def get_message(message_id: int, session: SessionDep, principal: StaffDep) -> OutboxMessage:
    return await record_rows.one(session, OutboxMessage, principal, message_id, f"no outbox message {message_id}")
