"""Deliveries: every webhook, SMS and call to the signing provider that processes made (each with its attempts,
what was sent and the receiver's answer; without an SMS gateway, the SMS kept here instead of being sent), and the
webhook endpoints, with the one a 410 disabled enabled again by an admin."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api.auth import ApiRole
from api.console.web import SignedInDep, form, offset, principal, redirect, render
from api.console.refusals import said_in
from api.deps import SessionDep, SettingsDep
from api.paging import Page
from api.routers.deliveries import list_deliveries
from api.routers.webhook_endpoints import enable_endpoint, list_endpoints
from crm.deliveries import DeliveryStatus
from crm.staff_sessions import SignedIn
from processes.errors import StagecoachError
from settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE_SIZE = 50
# the action kinds that record a delivery, with the names the page gives them
KINDS = {"webhook": "Webhook", "send_sms": "SMS", "request_signature": "Signature request",
         "cancel_signature": "Signature request withdrawn"}
MAX_ENDPOINTS = 200


@router.get("/deliveries", response_class=HTMLResponse)
async def deliveries_page(request: Request, session: SessionDep, settings: SettingsDep,
                          signed: SignedInDep) -> HTMLResponse:
    return await _page(request, session, settings, signed)


@router.post("/deliveries/endpoints/{name}/enable")
async def enable_endpoint_form(name: str, request: Request, session: SessionDep, settings: SettingsDep,
                               signed: SignedInDep) -> Response:
    """An admin enables an endpoint a 410 disabled (the receiver is back); anyone else is refused."""
    await form(request, signed)
    who = principal(signed)
    if not who.has(ApiRole.admin):
        return await _page(request, session, settings, signed, 403,
                           "Only an admin enables a webhook endpoint again: ask one to do it.")
    try:
        await enable_endpoint(name[:63], session, settings, who)
    except StagecoachError as exc:
        return await _page(request, session, settings, signed, exc.status, said_in(exc, settings.locale))
    return redirect("/console/deliveries#endpoints")


async def _page(request: Request, session: SessionDep, settings: Settings, signed: SignedIn, status: int = 200,
                error: str = "") -> HTMLResponse:
    kind = request.query_params.get("kind", "")
    kind = kind if kind in KINDS else ""
    status_text = request.query_params.get("status", "")
    wanted = next((s for s in DeliveryStatus if s.value == status_text), None)
    skip = offset(request)
    who = principal(signed)
    deliveries = await list_deliveries(session, who, Page(PAGE_SIZE, skip, request, Response()), kind=kind or None,
                                       status=wanted)
    admin = who.has(ApiRole.admin)  # the endpoints are an admin's, as over the API
    endpoints = await list_endpoints(session, settings, who, Page(MAX_ENDPOINTS, 0, request, Response())) if admin else []
    return render(request, settings, "deliveries.html", status=status, error=error, deliveries=deliveries,
                  kinds=KINDS, kind_filter=kind, statuses=list(DeliveryStatus),
                  status_filter=wanted.value if wanted else "", offset=skip, more=len(deliveries) >= PAGE_SIZE,
                  page_size=PAGE_SIZE, endpoints=endpoints, sms_gateway=settings.sms_gateway is not None,
                  admin_view=admin)
