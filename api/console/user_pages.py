"""The office's users in the console (admins): the list, adding a colleague, changing one (name, address, phone, job,
active), and their console sign-in (a password, staff or admin).

Through the API's own functions (`POST /users`, `PATCH /users/{id}`) and `staff_sessions.set_password`, as the CLI's
`stagecoach admin set-password`: a new password ends the user's open sessions. The last console admin is not made
staff (nobody would be left to manage the users). Staff see the list, and change nothing.
"""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlmodel import col, func, select

from api.console.i18n import translator
from api.console.refusals import field_error, not_found_page, said_in
from api.console.web import SignedInDep, form, principal, redirect, render, text
from api.deps import SessionDep, SettingsDep
from api.routers.users import create_user, get_user_or_404, update_user
from crm.models import ApiRole, User, UserCreate, UserUpdate
from crm.staff_sessions import MAX_PASSWORD, MIN_PASSWORD, end_sessions, set_password
from processes.errors import StagecoachError

router = APIRouter(prefix="/console", include_in_schema=False)
CONSOLE_ROLES = ("staff", "admin")
FIELDS = ("handle", "name", "email", "phone", "role", "active", "password", "console_role")


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


def _labels(_: Any) -> dict[str, str]:
    return {"handle": _("User name"), "name": _("Name"), "email": _("Email"), "phone": _("Phone"), "role": _("Job"),
            "active": _("Active")}


async def _users(session: SessionDep) -> list[User]:
    return list((await session.exec(select(User).order_by(col(User.name), col(User.id)).limit(1000))).all())


async def render_users(request: Request, session: SessionDep, settings: Any, status: int = 200, error: str = "",
                       posted: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, settings, "users.html", status=status, users=await _users(session), error=error,
                  posted=posted or {}, console_roles=CONSOLE_ROLES)


async def render_user(request: Request, session: SessionDep, settings: Any, user_id: int, status: int = 200,
                      error: str = "", error_for: str = "", posted: dict[str, str] | None = None) -> HTMLResponse:
    try:
        user = await get_user_or_404(session, user_id)
    except StagecoachError as exc:
        return not_found_page(request, settings, str(user_id), exc)
    return render(request, settings, "user.html", status=status, user=user, error=error, error_for=error_for,
                  posted=posted or {}, console_roles=CONSOLE_ROLES)


def _admin(signed: Any, _: Any) -> None:
    if not principal(signed).has(ApiRole.admin):
        raise Refused(403, _("Only an admin changes the users: ask one to."))


async def _password(session: SessionDep, user: User, data: Any, _: Any) -> None:
    """The console sign-in the form gives `user`, if it gives a password; the last admin stays one."""
    password, role = _raw_password(data), text(data, "console_role") or "staff"
    if not password:
        return
    await _role_checked(session, user, role, _)
    await set_password(session, user, password, role)


async def _role_checked(session: SessionDep, user: User, role: str, _: Any) -> None:
    """A console role staff or admin, and not one that takes the console's last admin away."""
    if role not in CONSOLE_ROLES:
        raise Refused(422, _("choose staff or admin"))
    if role != "admin":
        await _not_the_last_admin(session, user, _)


async def _not_the_last_admin(session: SessionDep, user: User, _: Any) -> None:
    if user.console_role == "admin" and await _admins(session) <= 1:
        raise Refused(409, _("This is the console's last admin: make another user admin first."))


async def _console_role(session: SessionDep, user: User, data: Any, _: Any) -> None:
    """The console role alone, for a user who signs in already; their sessions end, as with a new password."""
    role = text(data, "console_role")
    if not user.password_hash:
        raise Refused(422, _("write the new password"))
    await _role_checked(session, user, role, _)
    user.console_role = role
    session.add(user)
    assert user.id is not None
    await end_sessions(session, user.id)
    await session.commit()


def _raw_password(data: Any) -> str:
    """As typed, spaces and all: the sign-in form takes it so."""
    value = data.get("password")
    return value if isinstance(value, str) else ""


def _password_fits(data: Any, _: Any, locale: str) -> None:
    password = _raw_password(data)
    if password and not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Refused(422, _("A password has {min} to {max} characters.").format(
            min=MIN_PASSWORD, max=format_decimal(MAX_PASSWORD, locale=locale)))
    if password and not password.strip():
        raise Refused(422, _("a password is not only spaces"))


async def _admins(session: SessionDep) -> int:
    count = (await session.exec(select(func.count()).select_from(User).where(
        User.console_role == "admin", col(User.password_hash).is_not(None), col(User.active)))).one()
    return int(count)


@router.get("/users", response_class=HTMLResponse)
async def users_page(request: Request, session: SessionDep, settings: SettingsDep,
                     signed: SignedInDep) -> HTMLResponse:
    return await render_users(request, session, settings)


@router.post("/users", response_model=None)
async def add_user(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep) -> Response:
    data = await form(request, signed)
    _ = translator(settings.locale)
    posted = {name: text(data, name) for name in FIELDS if name != "password"}
    try:
        _admin(signed, _)
        body = UserCreate.model_validate({"handle": posted["handle"], "name": posted["name"],
                                          "email": posted["email"], "phone": posted["phone"] or None,
                                          "role": posted["role"] or "agent"})
        _password_fits(data, _, settings.locale)  # before the user is made: all or nothing
        user = await create_user(body, session, principal(signed))
        await _password(session, user, data, _)
    except (ValidationError, StagecoachError, Refused) as exc:
        await session.rollback()
        return await render_users(request, session, settings, *_refusal(exc, _, settings), posted=posted)
    return redirect(f"/console/users/{user.id}?done=user_added")


@router.get("/users/{user_id}", response_class=HTMLResponse)
async def user_page(user_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                    signed: SignedInDep) -> HTMLResponse:
    return await render_user(request, session, settings, user_id)


@router.post("/users/{user_id}", response_model=None)
async def change_user(user_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                      signed: SignedInDep) -> Response:
    """The user's details (`details` form) or their console sign-in (`sign_in` form)."""
    data = await form(request, signed)
    _ = translator(settings.locale)
    which = "sign_in" if text(data, "form") == "sign_in" else "details"
    posted = {name: text(data, name) for name in FIELDS if name != "password"}
    try:
        _admin(signed, _)
        user = await get_user_or_404(session, user_id)
        if which == "details":
            if posted["active"] != "on" and user.active and user.password_hash:
                await _not_the_last_admin(session, user, _)
            await update_user(user_id, UserUpdate.model_validate({
                "name": posted["name"], "email": posted["email"], "phone": posted["phone"] or None,
                "role": posted["role"] or user.role, "active": posted["active"] == "on"}), session, principal(signed))
            if posted["active"] != "on":  # an inactive colleague is signed out, and cannot sign in
                await end_sessions(session, user_id)
                await session.commit()
        elif not _raw_password(data):
            await _console_role(session, user, data, _)
        else:
            _password_fits(data, _, settings.locale)
            await _password(session, user, data, _)
    except (ValidationError, StagecoachError, Refused) as exc:
        await session.rollback()
        status, message = _refusal(exc, _, settings)
        return await render_user(request, session, settings, user_id, status, message, which, posted)
    return redirect(f"/console/users/{user_id}?done={'password' if which == 'sign_in' else 'user_saved'}")


def _refusal(exc: Exception, _: Any, settings: Any) -> tuple[int, str]:
    if isinstance(exc, ValidationError):
        return 422, field_error(exc, _, _labels(_))
    if isinstance(exc, Refused):
        return exc.status, exc.message
    assert isinstance(exc, StagecoachError)
    return exc.status, said_in(exc, settings.locale)
