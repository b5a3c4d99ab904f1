"""The webhook endpoints configured by name (WEBHOOK_ENDPOINTS): which are disabled by a 410, and enabling one."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Path
from sqlmodel import select

from api.deps import AdminDep, SessionDep, SettingsDep
from api.paging import Page, paged
from crm.deliveries import DisabledEndpoint, WebhookEndpointPublic
from crm.types import utcnow
from processes.errors import NotFound, did_you_mean
from settings import Settings

router = APIRouter(prefix="/webhook-endpoints", tags=["webhook endpoints"])

EndpointName = Annotated[str, Path(max_length=63, description="the endpoint's name in WEBHOOK_ENDPOINTS")]


def _public(name: str, settings: Settings, row: DisabledEndpoint | None) -> WebhookEndpointPublic:
    endpoint = settings.webhook_endpoints.get(name)
    return WebhookEndpointPublic(
        name=name, host=httpx.URL(endpoint.url).host if endpoint else "", disabled=bool(row and row.disabled),
        reason=row.reason if row else None, disabled_at=row.disabled_at if row else None,
        enabled_at=row.enabled_at if row else None, enabled_by=row.enabled_by if row else None)


@router.get("", response_model=list[WebhookEndpointPublic])
async def list_endpoints(session: SessionDep, settings: SettingsDep, _: AdminDep,
                         page: Annotated[Page, Depends(paged(100, 500))]) -> list[WebhookEndpointPublic]:
    """Every configured endpoint, and any that was disabled, by name."""
    rows = {row.name: row for row in (await session.exec(select(DisabledEndpoint))).all()}
    names = sorted(set(settings.webhook_endpoints) | set(rows))[page.offset:page.offset + page.limit]
    return page.done([_public(name, settings, rows.get(name)) for name in names])


@router.post("/{name}/enable", response_model=WebhookEndpointPublic)
async def enable_endpoint(name: EndpointName, session: SessionDep, settings: SettingsDep,
                          principal: AdminDep) -> WebhookEndpointPublic:
    """Post to an endpoint a 410 disabled again (the receiver is back). Enabling an enabled endpoint changes
    nothing."""
    row = await session.get(DisabledEndpoint, name)
    if row is None and name not in settings.webhook_endpoints:
        raise NotFound(f"no webhook endpoint '{name}'{did_you_mean(name, settings.webhook_endpoints)}")
    if row is not None and row.disabled:
        row.enabled_at, row.enabled_by = utcnow(), principal.actor
        session.add(row)
        await session.commit()
        await session.refresh(row)
    return _public(name, settings, row)
