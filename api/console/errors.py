"""A wrong console address, or an unexpected error on a console page, answered with a console page.

A browser under /console is given the console's "Not found" page (in the office's language, with the navigation
when someone is signed in), not the API's problem+json: an address naming no page, a page's number that cannot
be one (`/console/records/abc`, `/console/records/99999999999999999999`) or a method no page takes. An error no
handler took is logged as the API logs it (api.problems.UnexpectedErrors) and shown as the console's error page, and
a form over its size limit gets the console's refusal (413). Everywhere else the API's JSON answers stay as they are.
"""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.types import Scope

from api.admission import BodyTooLarge
from api.console.i18n import translator
from api.console.web import COOKIE, NUL_IN_FORM, refused_page, render
from crm.staff_sessions import signed_in


def _in_console(path: str) -> bool:
    return (path == "/console" or path.startswith("/console/")) and not path.startswith("/console/static/")


async def _who(request: Request) -> None:
    """The signed-in user, for the navigation: no page's dependency ran when no route matched."""
    if getattr(request.state, "console_user", None) is not None:
        return
    token = request.cookies.get(COOKIE)
    if token and len(token) <= 100:
        async with request.app.state.sessions() as session:
            request.state.console_user = await signed_in(session, token)


async def _not_found(request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
    await _who(request)
    page = render(request, request.app.state.settings, "not_found.html", status=status,
                  what=request.url.path[:200])
    page.headers.update(headers or {})
    return page


OUT_OF_RANGE = "a number in it is too large to be one the office has"
TOO_LARGE = "it is larger than {size} bytes (send a smaller file, or fewer at once)"


def too_large(scope: Scope, limit: int) -> Response | None:
    """The console's page for a form over its size limit (413), said in the office's language; None elsewhere (the
    API answers its problem+json). It had answered a console form with the API's JSON."""
    if not _in_console(scope["path"]):
        return None
    settings = scope["app"].state.settings
    _ = translator(settings.locale)
    size = format_decimal(limit, locale=settings.locale)
    return refused_page(Request(scope), settings, _(TOO_LARGE).format(size=size), 413)


def error_page(scope: Scope) -> Response | None:
    """The console's error page for an error no handler took on a console page (api.problems.UnexpectedErrors logs
    it, and answers any other path with its problem+json)."""
    if not _in_console(scope["path"]):
        return None
    return render(Request(scope), scope["app"].state.settings, "error.html", status=500)


def install(app: FastAPI) -> None:
    """Answer the console's paths with its pages; hand every other path to the handlers already installed."""
    api_validation = app.exception_handlers[RequestValidationError]
    api_http = app.exception_handlers[StarletteHTTPException]
    api_out_of_range = app.exception_handlers[DataError]

    @app.exception_handler(OverflowError)  # SQLite's driver
    @app.exception_handler(DataError)  # PostgreSQL's
    async def _out_of_range(request: Request, exc: Exception) -> Any:
        if _in_console(request.url.path):  # a number typed into a form that no row can hold (an id of 20 digits)
            return refused_page(request, request.app.state.settings, OUT_OF_RANGE, 422)
        return await api_out_of_range(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Any:
        if _in_console(request.url.path):
            if any(error.get("type") == "string_nul" for error in exc.errors()):  # a search or an address (api.no_nul)
                return refused_page(request, request.app.state.settings, NUL_IN_FORM, 422)
            return await _not_found(request, 404)  # the pages read their forms themselves: this is a number in the path
        return await api_validation(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Any:
        path = request.url.path
        if _in_console(path) and exc.status_code == 405 and request.method == "GET" and path.count("/") > 2:
            # the address of a form's action, opened (reloaded after the form, kept as a bookmark): what it acts on
            return RedirectResponse(path.rstrip("/").rsplit("/", 1)[0], status_code=303)
        if _in_console(path) and exc.status_code in (404, 405):
            return await _not_found(request, exc.status_code, exc.headers)
        if exc.status_code == 413 and isinstance(exc, BodyTooLarge) and (page := too_large(request.scope, exc.limit)):
            return page  # a body that passed its limit as it was read
        return await api_http(request, exc)
