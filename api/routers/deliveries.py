"""Outbound deliveries (webhooks, SMS) with each one's attempts and answer; without an SMS gateway, the SMS
kept here (`held`) are the outbox of the embedded default."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api import record_rows
from api.deps import SessionDep, StaffDep
from api.fields import WorkflowIdQuery
from api.paging import Page, paged
from crm.deliveries import Delivery, DeliveryKind, DeliveryPublic, DeliveryStatus

router = APIRouter(prefix="/deliveries", tags=["deliveries"])


@router.get("", response_model=list[DeliveryPublic])
async def list_deliveries(
    session: SessionDep, principal: StaffDep,
    page: Annotated[Page, Depends(paged(100, 500, newest_first=True))],
    kind: Annotated[DeliveryKind | None, Query(description="what it is of (`send_sms` for an SMS): another is 422, "
                                                            "not an empty list")] = None,
    status: DeliveryStatus | None = None,
    workflow_id: WorkflowIdQuery = None, record_id: int | None = None,
) -> list[Delivery]:
    """Newest first (none about a record the caller may not see)."""
    return await record_rows.newest(session, Delivery, principal, page, kind=kind, status=status,
                                    workflow_id=workflow_id, record_id=record_id)


@router.get("/{delivery_id}", response_model=DeliveryPublic)
async def get_delivery(delivery_id: int, session: SessionDep, principal: StaffDep) -> Delivery:
    return await record_rows.one(session, Delivery, principal, delivery_id, f"no delivery {delivery_id}")
