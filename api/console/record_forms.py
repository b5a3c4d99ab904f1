"""Making a record and changing one in the console: its kind and type, title, address, phone, channel, owner and
free fields (`name: value` lines, as the answers of a phase are written).

Through the API's own functions as the signed-in user (`POST /records`, `PATCH /records/{id}`): the same checks, the
same history lines and automations (a new record enters its type's first status; a changed free field may start a
process). A refused form comes back with what was typed in it and what is wrong, in the office's language.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.console.actions import FormInvalid
from api.console.form_once import apply_once
from api.console.i18n import translator
from api.console.process_pages import users_by_id
from api.console.record_pages import render_record
from api.console.record_values import baseline, changed_fields, free_fields, record_types
from api.console.refusals import field_error, said_in
from api.console.web import SignedInDep, form, principal, redirect, render, text
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.fields import digits
from api.routers.records import create_record, get_record_or_404, update_record
from crm.models import RecordCreate, RecordUpdate
from processes.errors import StagecoachError
from processes.template_basics import RecordKind

router = APIRouter(prefix="/console", include_in_schema=False)
FIELDS = ("kind", "type", "title", "email", "phone", "channel", "owner_id", "fields", "shown")


def _values(data: Any, _: Any, owner: str) -> dict[str, Any]:
    """The form's fields but its free fields (new ones for a new record, changes for a record: the callers')."""
    values: dict[str, Any] = {name: text(data, name) for name in ("type", "title", "channel")}
    values["email"] = text(data, "email") or None
    values["phone"] = text(data, "phone") or None
    if owner and not digits(owner):
        raise FormInvalid(_("choose the owner"))
    values["owner_id"] = int(owner) if owner else None
    return values


async def render_new(request: Request, session: SessionDep, settings: Any, signed: Any, status: int = 200,
                     error: str = "", posted: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, settings, "record_new.html", status=status, error=error, posted=posted or {},
                  kinds=list(RecordKind), types=await record_types(session), users=await users_by_id(session))


@router.get("/records/new", response_class=HTMLResponse)
async def new_record_page(request: Request, session: SessionDep, settings: SettingsDep,
                          signed: SignedInDep) -> HTMLResponse:
    return await render_new(request, session, settings, signed, posted={"owner_id": str(principal(signed).user_id
                                                                                        or "")})


@router.post("/records", response_model=None)
async def make_record(request: Request, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                      signed: SignedInDep) -> Response:
    data = await form(request, signed)
    _ = translator(settings.locale)
    posted = {name: text(data, name) for name in FIELDS}
    made: list[int] = []
    try:
        values = _values(data, _, posted["owner_id"])
        fields = free_fields(text(data, "fields"), _, settings.locale)
        body = RecordCreate.model_validate({"kind": posted["kind"], "fields": fields,
                                            **values})

        async def create() -> None:
            made.append((await create_record(body, session, temporal, settings, principal(signed))).id or 0)
        # sent twice (a double click, the back button and the button again): one record, and its automations once
        await apply_once(session, data, principal(signed), "console_create_record", "records", body, create)
    except (ValidationError, RequestValidationError, FormInvalid, StagecoachError) as exc:
        await session.rollback()  # the page is drawn from what is committed, not what was refused
        return await render_new(request, session, settings, signed, _status(exc), _said(exc, _, settings), posted)
    if not made:  # this form made its record already: found by its title
        return redirect(f"/console/records?q={quote(body.title[:200])}")
    return redirect(f"/console/records/{made[0]}?done=created")


@router.post("/records/{record_id}/edit", response_model=None)
async def edit_record(record_id: int, request: Request, session: SessionDep, temporal: TemporalDep,
                      settings: SettingsDep, signed: SignedInDep) -> Response:
    """The record's fields as the form shows them: a free field whose line was taken out is removed."""
    data = await form(request, signed)
    _ = translator(settings.locale)
    posted = {name: text(data, name) for name in FIELDS}
    try:
        record = await get_record_or_404(session, record_id, principal(signed))
        drawn = baseline(text(data, "shown"), record)  # what the form showed: only what was changed on it is sent
        changed = {name: value for name, value in _values(data, _, posted["owner_id"]).items()
                   if text(data, name) != drawn[name]}  # the owner only when it changes
        if "fields" in data and (fields := changed_fields(text(data, "fields"), drawn["fields"], _, settings.locale)):
            changed["fields"] = fields  # (a form sent without its fields box changes none of them)
        await update_record(record_id, RecordUpdate.model_validate(changed), session, temporal, settings,
                            principal(signed))
    except (ValidationError, RequestValidationError, FormInvalid, StagecoachError) as exc:
        await session.rollback()
        return await render_record(request, session, settings, signed, record_id, _status(exc),
                                   edit_error=_said(exc, _, settings), posted=posted)
    return redirect(f"/console/records/{record_id}?done=edited")


def _status(exc: Exception) -> int:
    return exc.status if isinstance(exc, StagecoachError) else 422


def _said(exc: Exception, _: Any, settings: Any) -> str:
    labels = {"kind": _("Kind"), "type": _("Type"), "title": _("Title"), "email": _("Email"), "phone": _("Phone"),
              "channel": _("Channel"), "owner_id": _("Owner"), "fields": _("Fields")}
    if isinstance(exc, ValidationError):
        return field_error(exc, _, labels)
    if isinstance(exc, FormInvalid):
        return exc.message
    if isinstance(exc, RequestValidationError):  # the free fields merged, past their limits
        return "; ".join(f"{labels['fields']}: {_(str(e['msg']))}" for e in exc.errors()[:5])
    return said_in(exc, settings.locale)
