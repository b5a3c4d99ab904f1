"""What staff do with client requests from the console: send one from a template (on the record's page), cancel
one (confirmed), resend one, and link one to a record: from the record (by the request's number, or from the
client's unlinked requests), from the request's page, or from the list of requests.

Each calls the staff API's own function as the signed-in user (api.routers.client_requests), so it is checked,
applied and recorded as the same request over the API would be: a record the user may not see is "no record N"
as a missing one. A refusal shows the API's message on the page the form came from (`from`: record, request or
list), next to the form.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.console.form_once import apply_once
from api.console.i18n import translator
from api.console.record_pages import render_record
from api.console.request_pages import MAX_ID, render_list, render_request
from api.console.refusals import field_error, said_in
from api.console.web import SignedInDep, form, principal, redirect, text
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.fields import digits
from api.routers.client_requests import (cancel_client_request, link_client_request, resend_client_request,
                                         send_client_request)
from crm.client_requests.errors import ClientRequestNotFound, RecipientMissing
from crm.client_requests.public import ClientRequestCreate, ClientRequestLink, ClientRequestResend
from processes.errors import StagecoachError
from settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)
ACTIONS = ("cancel", "resend", "link")


class Refused(Exception):
    def __init__(self, message: str, status: int = 422) -> None:
        self.message, self.status = message, status


def _number(data: FormData, name: str, message: str) -> int:
    value = text(data, name).lstrip("#")
    if not digits(value) or len(value) > 18 or not 0 < int(value) <= MAX_ID:
        raise Refused(message)
    return int(value)


async def _act(action: str, request_id: int, data: FormData, session: SessionDep, temporal: TemporalDep,
               settings: Settings, signed: SignedInDep, _: Any) -> None:
    who = principal(signed)
    if action == "cancel":
        if not text(data, "confirm"):
            raise Refused(_("tick the box to confirm the cancellation"))
        await cancel_client_request(request_id, session, temporal, settings, who)
    elif action == "resend":  # once per form shown: each resend emails the client a new link
        await apply_once(session, data, who, "client-request-resend", f"client request {request_id}",
                         ClientRequestResend(), lambda: resend_client_request(request_id, session, temporal,
                                                                              settings, who))
    else:
        record_id = _number(data, "record_id", _("write the record's number"))
        await link_client_request(request_id, ClientRequestLink(record_id=record_id), session, settings, who)


@router.post("/client-requests/{request_id}/{action}")
async def request_action(request_id: int, action: str, request: Request, session: SessionDep, temporal: TemporalDep,
                         settings: SettingsDep, signed: SignedInDep) -> Response:
    data = await form(request, signed)
    _ = translator(settings.locale)
    origin, record_id = text(data, "from"), text(data, "record")
    try:
        if action not in ACTIONS:
            raise Refused(_("no such action"), 404)
        if request_id > MAX_ID:
            raise ClientRequestNotFound.worded("no client request {id}", id=request_id)
        await _act(action, request_id, data, session, temporal, settings, signed, _)
    except (Refused, StagecoachError) as exc:
        await session.rollback()  # the page is drawn from what is committed, not what was refused
        if origin == "record" and digits(record_id):
            return await render_record(request, session, settings, signed, int(record_id), exc.status,
                                       request_error=said_in(exc, settings.locale), request_error_at=str(request_id))
        if origin == "list":
            return await render_list(request, session, settings, signed, exc.status, said_in(exc, settings.locale),
                                     request_id)
        return await render_request(request, session, settings, signed, request_id, exc.status,
                                    said_in(exc, settings.locale), action[:10])
    if origin == "record" and digits(record_id):
        return redirect(f"/console/records/{record_id}?done={action}#requests-h")
    if origin == "list":
        return redirect(f"/console/client-requests?{request.url.query}&done={action}")
    return redirect(f"/console/client-requests/{request_id}?done={action}")


@router.post("/records/{record_id}/client-requests")
async def send_request(record_id: int, request: Request, session: SessionDep, temporal: TemporalDep,
                       settings: SettingsDep, signed: SignedInDep) -> Response:
    """A new request from a template (its newest version) to the address given, else the record's contact; in the
    language chosen, else the template's."""
    data = await form(request, signed)
    _ = translator(settings.locale)
    days = text(data, "expires_days")
    try:
        if not text(data, "template"):
            raise Refused(_("choose a request template"))
        try:
            if days and not (digits(days) and len(days) < 8):  # "1_0" and "+5" are numbers to Python, not to people
                raise Refused(f"{_('Expires after')}: {_('a whole number of days from 1 to 3650')}")
            body = ClientRequestCreate(template=text(data, "template")[:100], expires_days=int(days) if days else None,
                                       contact_email=text(data, "contact_email")[:400] or None,
                                       language=text(data, "language")[:20] or None)
        except ValidationError as exc:
            raise Refused(field_error(exc, _, {"template": _("Request template"), "expires_days": _("Expires after"),
                                               "contact_email": _("Send to"), "language": _("Language")},
                                      {"expires_days": _("a whole number of days from 1 to 3650"),
                                       "contact_email": _("an email address, such as name@example.com"),
                                       "language": _("one of the languages listed")})) from None
        who = principal(signed)
        try:
            await apply_once(session, data, who, "client-request-send", f"record {record_id}", body,  # one email
                             lambda: send_client_request(record_id, body, session, temporal, settings, who))
        except RecipientMissing:  # the API's advice (give `contact_email`) names the field by the API's name
            message = _("record {id} has no email address (nor a contact with one): write one in “Send to”")
            raise Refused(message.format(id=record_id)) from None
    except (Refused, StagecoachError) as exc:
        await session.rollback()  # the page is drawn from what is committed, not what was refused
        return await render_record(request, session, settings, signed, record_id, exc.status,
                                   request_error=said_in(exc, settings.locale), request_error_at="send",
                                   posted={"template": text(data, "template"), "expires_days": days,
                                           "contact_email": text(data, "contact_email"),
                                           "language": text(data, "language")})
    return redirect(f"/console/records/{record_id}?done=send#requests-h")


@router.post("/records/{record_id}/client-requests/link")
async def link_to_record(record_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                         signed: SignedInDep) -> Response:
    """Link a request (by its number) to this record."""
    data = await form(request, signed)
    _ = translator(settings.locale)
    try:
        request_id = _number(data, "request_id", _("write the request's number"))
        await link_client_request(request_id, ClientRequestLink(record_id=record_id), session, settings,
                                  principal(signed))
    except (Refused, StagecoachError) as exc:
        await session.rollback()  # the page is drawn from what is committed, not what was refused
        return await render_record(request, session, settings, signed, record_id, exc.status,
                                   request_error=said_in(exc, settings.locale), request_error_at="link",
                                   posted={"request_id": text(data, "request_id")})
    return redirect(f"/console/records/{record_id}?done=link#requests-h")
