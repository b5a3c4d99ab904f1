"""Signing in and out of the console.

The session cookie is HttpOnly, SameSite=Lax, and Secure when the request came over TLS (behind a
proxy: uvicorn's --proxy-headers). The sign-in form carries a token of its own, matched against a
cookie set with the form (a login CSRF is refused like any other); the cookie keeps its token while it lives, so
every sign-in page a browser shows (one per tab) signs in. After 5 failed sign-ins of one
user, or 20 from one address, within 15 minutes, the next are refused without checking the password
until the oldest failure is 15 minutes old (crm/staff_sessions.py).
"""

from __future__ import annotations

import re
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.i18n import translator
from api.console.web import COOKIE, MAX_FIELDS, NUL_IN_FORM, FormRefused, SignedInDep, form, holds_nul, redirect, render
from api.deps import SessionDep, SettingsDep
from crm.staff_sessions import MAX_PASSWORD, SESSION_LIFETIME, check_password, close_session, locked_until, \
    open_session, signed_in

router = APIRouter(prefix="/console", include_in_schema=False)
FORM_COOKIE = "stagecoach_sign_in"
_FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")  # secrets.token_urlsafe(24)


def _back(value: str | None) -> str:
    """Where to go after signing in: a console page, never another site."""
    if value and value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _form_token(request: Request) -> str:
    """The browser's sign-in token, kept while its cookie lives: a new one per page shown would refuse every
    sign-in page but the last one shown (two tabs after a session ended)."""
    kept = request.cookies.get(FORM_COOKIE, "")
    return kept if _FORM_TOKEN.fullmatch(kept) else secrets.token_urlsafe(24)


def _form_page(request: Request, settings: SettingsDep, back: str, status: int = 200, error: str = "",
               handle: str = "") -> HTMLResponse:
    token = _form_token(request)
    page = render(request, settings, "sign_in.html", status=status, form_token=token, back=back, error=error,
                  handle=handle)
    page.set_cookie(FORM_COOKIE, token, max_age=3600, path="/console", httponly=True, samesite="lax",
                    secure=_secure(request))
    return page


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, session: SessionDep, settings: SettingsDep,
                       next: str | None = None) -> Response:
    """The sign-in form; someone signed in already goes on to where they were going."""
    token = request.cookies.get(COOKIE)
    if token and len(token) <= 100 and await signed_in(session, token) is not None:
        return redirect(_back(next))
    return _form_page(request, settings, _back(next))


@router.post("/sign-in")
async def sign_in(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    _ = translator(settings.locale)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise FormRefused("not a form")
    data = await request.form(max_files=0, max_fields=MAX_FIELDS)
    handle, password, back = (str(data.get(name) or "") for name in ("handle", "password", "next"))
    expected = request.cookies.get(FORM_COOKIE, "")
    sent = str(data.get("form_token") or "")
    if not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise FormRefused("the sign-in form's security token is missing or out of date")
    if holds_nul(data):
        raise FormRefused(NUL_IN_FORM, status=422)
    handle = handle.strip().lower()[:63]
    if not handle or not password:
        return _form_page(request, settings, _back(back), 422, _("Give your user name and your password."), handle)
    if len(password) > MAX_PASSWORD:  # no one's: a password is set at most this long
        return _form_page(request, settings, _back(back), 422, _("A password is at most 1,000 characters."), handle)
    address = request.client.host if request.client else ""
    if (until := await locked_until(session, handle, address)) is not None:
        message = _("Too many failed sign-ins for this user: try again after {time}.").format(
            time=f"{until.astimezone(settings.zone):%H:%M}")
        return _form_page(request, settings, _back(back), 429, message, handle)
    user = await check_password(session, handle, password, address)
    if user is None:
        return _form_page(request, settings, _back(back), 401, _("Wrong user name or password."), handle)
    token, _signed = await open_session(session, user)
    response = redirect(_back(back))
    response.set_cookie(COOKIE, token, max_age=int(SESSION_LIFETIME.total_seconds()), path="/", httponly=True,
                        samesite="lax", secure=_secure(request))
    return response


@router.post("/sign-out")
async def sign_out(request: Request, session: SessionDep, signed: SignedInDep) -> RedirectResponse:
    await form(request, signed)
    await close_session(session, signed.session_id)
    response = redirect("/console/sign-in")
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return response
