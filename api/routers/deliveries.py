"""Outbound deliveries (webhooks, SMS) with each one's attempts and answer; without an SMS gateway, the SMS
kept here (`held`) are the outbox of the embedded default."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlmodel import col, select

from api.auth import Principal
from api.deps import SessionDep, StaffDep
from api.fields import WorkflowIdQuery
from api.paging import Page, paged
from crm.access import of_visible_record
from crm.deliveries import Delivery, DeliveryPublic, DeliveryStatus
from processes.errors import NotFound

router = APIRouter(prefix="/deliveries", tags=["deliveries"])


def _visible(principal: Principal) -> Any:
    return of_visible_record(principal, col(Delivery.record_id), col(Delivery.workflow_id))


@router.get("", response_model=list[DeliveryPublic])
async def list_deliveries(
    session: SessionDep, principal: StaffDep,
    page: Annotated[Page, Depends(paged(100, 500))],
    kind: Annotated[str | None, Query(max_length=32, description="webhook, send_sms")] = None, status: DeliveryStatus | None = None,
    workflow_id: WorkflowIdQuery = None, record_id: int | None = None,
) -> list[Delivery]:
    """Newest first (none about a record the caller may not see)."""
    query = select(Delivery).where(_visible(principal))
    if kind:
        query = query.where(Delivery.kind == kind)
    if status:
        query = query.where(Delivery.status == status)
    if workflow_id:
        query = query.where(Delivery.workflow_id == workflow_id)
    if record_id is not None:
        query = query.where(Delivery.record_id == record_id)
    query = query.order_by(col(Delivery.id).desc()).offset(page.offset).limit(page.limit)
    return page.done((await session.exec(query)).all())


@router.get("/{delivery_id}", response_model=DeliveryPublic)
async def get_delivery(delivery_id: int, session: SessionDep, principal: StaffDep) -> Delivery:
    delivery = (await session.exec(select(Delivery).where(Delivery.id == delivery_id, _visible(principal)))).first()
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    return delivery
