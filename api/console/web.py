"""What every console page shares: who is signed in, the CSRF check of every form, and rendering.

A page needs a signed-in user (`SignedInDep`): without a session cookie of a live session, a browser is
sent to the sign-in page. A form is read only after that (the body is never parsed for an anonymous
caller), and only with the session's CSRF token in it (403 otherwise). Requests are bounded like the
API's (api.admission: MAX_BODY_BYTES) before anything here runs.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
from collections.abc import Mapping
from datetime import date, datetime
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from api.admission import BodyTooLarge
from api.auth import Principal
from api.console.actors import actor_in, user_named
from api.console.i18n import translator
from api.fields import digits
from api.deps import SessionDep
from crm.staff_sessions import SignedIn, signed_in
from processes.formatting import brief_date_and_time, parse_locale
from processes.history_words import reason_in, step_in, summary_in
from settings import Settings

COOKIE = "stagecoach_session"
MAX_FIELDS = 200  # fields of one form (the body's bytes are bounded by api.admission)
# every page: never cached (it holds a CSRF token and personal data), never framed (clickjacking), nothing loaded or
# posted anywhere but here
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
           "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"}

_env = Environment(loader=FileSystemLoader(str(files("api.console") / "templates")),
                   autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)


class SignInNeeded(Exception):
    """No live session: a GET goes to the sign-in page (and back after), a form post too."""

    def __init__(self, back: str) -> None:
        self.back = back


class FormRefused(Exception):
    """A form posted without its session's CSRF token, or not a form this page sends: a page saying so (403, or the
    `status` given), nothing done."""

    def __init__(self, reason: str, status: int = 403) -> None:
        super().__init__(reason)
        self.status = status


async def _signed_in(request: Request, session: SessionDep) -> SignedIn:
    token = request.cookies.get(COOKIE)
    found = await signed_in(session, token) if token and len(token) <= 100 else None
    if found is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(back if request.method == "GET" else "/console")
    # detached, so a rollback later in the request (a move or a cancel that lost a race) cannot expire who is signed
    # in: the refusal's page reads them again, and an expired user would be loaded outside the event loop (a 500)
    session.expunge(found.user)
    request.state.console_user = found
    return found


SignedInDep = Annotated[SignedIn, Depends(_signed_in)]


def principal(signed: SignedIn) -> Principal:
    return Principal.console_user(signed.user)


async def form(request: Request, signed: SignedIn, max_files: int = 0) -> FormData:
    """The posted form, once its CSRF token is the session's (its files closed by the caller)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise FormRefused("not a form")
    try:
        data = await request.form(max_files=max_files, max_fields=MAX_FIELDS)
    except BodyTooLarge:
        raise  # the console's page for it (api.console.errors), which says so
    except HTTPException as exc:  # more files or fields than it takes, or a multipart body that does not parse
        raise FormRefused("not a form this page sends", status=exc.status_code) from None
    sent = data.get("csrf_token")
    if not isinstance(sent, str) or not secrets.compare_digest(sent.encode(), signed.csrf_token.encode()):
        await data.close()
        raise FormRefused("the form's security token is missing or out of date")
    if holds_nul(data):
        await data.close()
        raise FormRefused(NUL_IN_FORM, status=422)
    return data


NUL_IN_FORM = ("a field holds the NUL character, an invisible character some programs paste: type the text again "
               "without it")


def holds_nul(data: FormData) -> bool:
    """Whether a field of the form (a name, a text, a file's name) holds NUL, which no text Stagecoach keeps may hold:
    the API refuses it in a body, and a process given it in a reason could not write its history (PostgreSQL)."""
    return any("\x00" in name or "\x00" in (value if isinstance(value, str) else value.filename or "")
               for name, value in data.multi_items())


def text(data: FormData, name: str, default: str = "") -> str:
    value = data.get(name, default)
    return value.strip() if isinstance(value, str) else default


def offset(request: Request) -> int:
    """The `offset` of a paged page; 0 when it is not a number."""
    return offset_in(request.query_params)


def offset_in(params: Mapping[str, str]) -> int:
    value = params.get("offset", "0")
    return int(value) if digits(value) and len(value) < 10 else 0


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def with_param(url: str, name: str, value: object) -> str:
    """`url` with `name=value` in its query (before its #fragment), in place of any `name` it had: where a form sends
    staff back, saying what was done (`?done=task`, not `?done=task&done=task`)."""
    path, hash_, fragment = url.partition("#")
    base, _, query = path.partition("?")
    kept = [part for part in query.split("&") if part and part.split("=", 1)[0] != name]
    return f"{base}?{'&'.join([*kept, f'{name}={quote(str(value))}'])}{hash_}{fragment}"


def _when(settings: Settings) -> Any:
    """A moment as the office reads one, in its time zone and language: 4 dic 2026 05:58, Dec 4, 2026 5:58 AM."""
    locale = parse_locale(settings.locale)

    def when(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return brief_date_and_time(moment.astimezone(settings.zone), locale)
    return when


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def value_in(_: Any, locale: str, value: Any) -> str:
    """An answer or a free field as the office writes it: 1.250,5 and 29/03/2026 in Italian (1,250.5 and 3/29/2026 in
    English), sì and no; a whole number as it is (a year, a postal code); a list item by item; any other text as it
    is."""
    from babel import Locale
    from babel.dates import format_date
    from babel.numbers import format_decimal

    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int):  # a year, a postal code, a count: as it is (2026, not 2.026)
        return str(value)
    if isinstance(value, float):  # as the client typed it, not as binary fractions add up (0.1 + 0.2)
        try:
            return format_decimal(round(value, 10), locale=locale, decimal_quantization=False)
        except (ArithmeticError, ValueError):  # beyond what Babel writes (1e25): as Python writes it
            return str(value)
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
        short = Locale.parse(locale.replace("-", "_")).date_formats["short"].pattern
        return format_date(day, short if "yyy" in short else short.replace("yy", "y"), locale=locale)
    if isinstance(value, list):
        return ", ".join(value_in(_, locale, item) for item in value)
    if isinstance(value, dict):  # as JSON writes it ({"kw": 4.5}), not as Python does ({'kw': 4.5})
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def language_in(locale: str, code: str) -> str:
    """A language's name in `locale`'s language (`it`: italiano; `en` in an Italian office: inglese), else its
    code."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(code.replace("-", "_")).get_display_name(locale.replace("-", "_")) or code
    except (ValueError, UnknownLocaleError):
        return code


def status_in(_: Any, of: str, status: str) -> str:
    """A status as the page says it of `of` (a phase, a task, an email...): Italian agrees with what it is said of
    (una fase saltata, un'attività annullata, un invio non riuscito); the status's own word where it needs none."""
    said = _(f"{of}:{status}")
    return _(status) if said == f"{of}:{status}" else said


def run_status_in(_: Any, status: str, ended_by: str | None) -> tuple[str, str]:
    """A process run's badge class and words: a status's automations aborted because the record moved on (their
    actor is the pipeline, `activities/stages.py`) left the status; any other run its status."""
    if status == "aborted" and (ended_by or "").startswith("pipeline "):
        return "left", _("left the status")
    return status, _(status)


def render(request: Request, settings: Settings, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    signed: SignedIn | None = getattr(request.state, "console_user", None)
    _ = translator(settings.locale)
    html = _env.get_template(name).render(
        _=_, lang=settings.locale.split("_")[0].split("-")[0], request=request, me=signed.user if signed else None,
        csrf_token=signed.csrf_token if signed else "", admin=bool(signed and signed.user.console_role == "admin"),
        when=_when(settings), new_key=lambda: secrets.token_urlsafe(16), quote=quote,
        said_reason=functools.partial(reason_in, settings.locale),
        said_step=functools.partial(step_in, settings.locale), temporal_ui=settings.temporal_ui_url, status=status,
        said_actor=functools.partial(actor_in, _, context.get("users") or {}),
        said_status=functools.partial(status_in, _), said_run_status=functools.partial(run_status_in, _),
        said_value=functools.partial(value_in, _, settings.locale),
        language_name=functools.partial(language_in, settings.locale),
        said_summary=functools.partial(summary_in, settings.locale, user=user_named(context.get("users") or {})),
        **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def refused_page(request: Request, settings: Settings, reason: str, status: int = 403,
                 plain: bool = False) -> HTMLResponse:
    """A refusal: of a form ("nothing was done: ..."), or with `plain` of a page the user may not open."""
    return render(request, settings, "refused.html", status=status, reason=reason, plain=plain)
