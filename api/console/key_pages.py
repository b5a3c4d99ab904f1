"""The API keys in the console (admins): the list, a new key (shown once, on the page that made it) and a key revoked.

Through the API's own functions (`POST /api-keys`, `DELETE /api-keys/{id}`), as `stagecoach keys` does: the key's
hash alone is kept, a revoked key is refused at once by this API process, and the last admin key is never revoked.
A new key's form is applied once (`form_once`): sent twice (a double click, a reload), it makes one key, and the
second answer says the key was shown by the first. Staff see none of it: a key is an admin's to give.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlmodel import col, select

from api.console.form_once import apply_once
from api.console.i18n import translator
from api.console.refusals import field_error, said_in
from api.console.web import SignedInDep, form, principal, redirect, refused_page, render, text
from api.deps import SessionDep, SettingsDep
from api.routers.api_keys import ApiKeyCreate, make_key, revoke
from crm.models import ApiKey, ApiRole, User
from processes.errors import LastAdminKey, StagecoachError

router = APIRouter(prefix="/console", include_in_schema=False)
ROLES = tuple(role.value for role in ApiRole)
LIMIT = 500  # keys listed, the newest first


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


def _only_admins(signed: Any, _: Any) -> str | None:
    return None if principal(signed).has(ApiRole.admin) else _("Only an admin manages the API keys: ask one to.")


async def _render(request: Request, session: SessionDep, settings: Any, status: int = 200, error: str = "",
                  posted: dict[str, str] | None = None, made: tuple[ApiKey, str] | None = None,
                  shown_before: bool = False) -> HTMLResponse:
    keys = list((await session.exec(select(ApiKey).order_by(col(ApiKey.id).desc()).limit(LIMIT))).all())
    users = list((await session.exec(select(User).order_by(col(User.name), col(User.id)).limit(1000))).all())
    return render(request, settings, "api_keys.html", status=status, keys=keys, people={u.id: u for u in users},
                  choosable=[u for u in users if u.active], roles=ROLES, error=error, posted=posted or {},
                  made=made, shown_before=shown_before, limit=LIMIT)


@router.get("/api-keys", response_class=HTMLResponse)
async def keys_page(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep) -> HTMLResponse:
    if reason := _only_admins(signed, translator(settings.locale)):
        return refused_page(request, settings, reason, plain=True)
    return await _render(request, session, settings)


@router.post("/api-keys", response_model=None)
async def add_key(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep) -> Response:
    """A new key, shown on the page this answers with (never again: only its hash is kept)."""
    data = await form(request, signed)
    _ = translator(settings.locale)
    if reason := _only_admins(signed, _):
        return refused_page(request, settings, reason)
    posted = {name: text(data, name) for name in ("name", "role", "user_id")}
    made: list[tuple[ApiKey, str]] = []

    async def make() -> None:
        made.append(await make_key(session, body))

    try:
        body = ApiKeyCreate.model_validate({"name": posted["name"], "role": posted["role"],
                                            "user_id": posted["user_id"] or None})
        await apply_once(session, data, principal(signed), "console.api_key", "/api-keys", body, make)
    except ValidationError as exc:
        labels = {"name": _("Name"), "role": _("Role"), "user_id": _("Acts as")}
        return await _render(request, session, settings, 422, field_error(exc, _, labels), posted)
    except StagecoachError as exc:
        return await _render(request, session, settings, exc.status, said_in(exc, settings.locale), posted)
    if not made:  # this form made its key already: it was shown then
        return await _render(request, session, settings, 409, shown_before=True)
    return await _render(request, session, settings, made=made[0])


@router.post("/api-keys/{key_id}", response_model=None)
async def revoke_key(key_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                     signed: SignedInDep) -> Response:
    data = await form(request, signed)
    _ = translator(settings.locale)
    if reason := _only_admins(signed, _):
        return refused_page(request, settings, reason)
    try:
        if text(data, "confirm") != "1":
            raise Refused(422, _("Tick the box to confirm: a program using this key stops working."))
        await revoke(session, request.app.state.api_keys, key_id)
    except Refused as exc:
        return await _render(request, session, settings, exc.status, exc.message)
    except LastAdminKey:
        await session.rollback()
        return await _render(request, session, settings, 409, _(
            "This is the last admin key: make another admin key before revoking this one."))
    except StagecoachError as exc:
        await session.rollback()
        return await _render(request, session, settings, exc.status, said_in(exc, settings.locale))
    return redirect("/console/api-keys?done=key_revoked")
