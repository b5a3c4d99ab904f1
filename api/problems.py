"""Every error is `application/problem+json` (RFC 9457) with a stable `type` code."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from processes.errors import ErrorDetail, StagecoachError
from processes.documents import format_path

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("stagecoach.api")


def problem(status: int, type_: str, detail: str, errors: list[ErrorDetail] | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": type_, "status": status, "detail": detail}
    if errors:
        body["errors"] = [{"path": e.path, "message": e.message} for e in errors]
    return _Problem(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class _Problem(JSONResponse):
    """A problem+json that can always be written: a half surrogate pair a message echoes goes as its JSON escape
    (`\\ud83d`), where UTF-8 has no way to write it (a 500 instead of the refusal)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
            "utf-8", "backslashreplace")


_HTTP_TYPES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
               405: "MethodNotAllowed", 409: "Conflict", 413: "PayloadTooLarge", 415: "UnsupportedMediaType",
               422: "RequestInvalid", 503: "ServiceUnavailable"}


def allowed_methods(request: Request) -> str:
    """The methods of the resource a request's path names (RFC 9110: a 405's `Allow`; Starlette's names one route's).

    The resource is the first path, in routing order, that matches with parameters its routes accept
    (`/imports/7` is an import job's, `/imports/contacts` the contacts' import), else the first that matches at all."""
    path, root = request.scope["path"], request.scope.get("root_path", "")
    path = path[len(root):] if root and path.startswith(root) else path
    routes = [context for context in iter_route_contexts(request.app.routes)  # included routers are groups there
              if context.path and getattr(context.original_route, "methods", None)]
    matching = [(context.path, found.groupdict()) for context in routes
                if (found := compile_path(context.path)[0].match(path))]
    accepted = [template for template, values in matching if all(
        not field.validate(values.get(field.alias))[1] for context in routes if context.path == template
        for field in getattr(getattr(context.original_route, "dependant", None), "path_params", ()))]
    resource = (accepted or [template for template, _ in matching] or [None])[0]
    methods = {method for context in routes if context.path == resource for method in context.original_route.methods}
    return ", ".join(sorted(methods | ({"HEAD"} if "GET" in methods else set())))  # HEAD as GET (api/head_requests.py)


_NOT_AN_OBJECT = {"model_attributes_type", "dict_type"}


def is_json(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


def charset_of(content_type: str) -> str | None:
    """The charset a Content-Type names (`application/yaml; charset=windows-1252`; "" when it names an empty one), or
    None."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"')
    return None


def other_charset(content_type: str) -> str | None:
    """The charset a Content-Type names when it is not UTF-8 (JSON is read as UTF-8 whatever it says: RFC 8259)."""
    charset = charset_of(content_type)
    return charset if charset is not None and charset.lower() not in ("utf-8", "utf8") else None


_UNION_MEMBERS = re.compile(r"^(constrained-)?(str|int|float|bool|none|bytes|decimal|list|dict)$|"
                            r"^(function-|lax-or-strict|json-or-python|tagged-union|nullable)")


def _plain(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], bool]:
    """A location as the client wrote the request: without pydantic's `[key]` (a map's key is the part before it)
    and the union member its last part names (`constrained-str`, `int`); and whether it named one."""
    loc = tuple(part for part in loc if part != "[key]")
    if loc and isinstance(loc[-1], str) and len(loc) > 2 and _UNION_MEMBERS.match(loc[-1]):
        return loc[:-1], True
    return loc, False


def _unreadable_json(cause: BaseException | None) -> str | None:
    """Why FastAPI could not read a JSON body that is not a plain syntax error (it answers those 400 "There was an
    error parsing the body", saying neither where nor why)."""
    if isinstance(cause, UnicodeDecodeError):
        return f"not UTF-8 at byte {cause.start}: JSON is sent in UTF-8"
    if isinstance(cause, RecursionError):
        return "nested too deep to read"
    if isinstance(cause, ValueError) and "integer string conversion" in str(cause):
        return (f"a number of more than {sys.get_int_max_str_digits():,} digits: send it as text, in quotes, or "
                "leave it out")
    if isinstance(cause, ValueError):
        return f"not readable as JSON: {cause}"
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(StagecoachError)
    async def _stagecoach(_: Request, exc: StagecoachError) -> JSONResponse:
        return problem(exc.status, exc.type, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        sent = request.headers.get("content-type", "")
        if any(tuple(e.get("loc", ())) == ("body",) and e.get("type") in _NOT_AN_OBJECT for e in errors) \
                and not is_json(sent):
            return problem(415, "UnsupportedMediaType", "send the body as JSON with Content-Type: application/json "
                           f"(it came as {sent.split(';')[0] or 'no Content-Type'})")
        details: list[ErrorDetail] = []
        unions: set[str] = set()
        for error in errors:
            loc, member = _plain(tuple(error.get("loc", ())))
            if member:  # one error per member of a union (text, number...): the first one's, once
                if format_path(loc) in unions:
                    continue
                unions.add(format_path(loc))
            if error.get("type") == "json_invalid":  # where and why, not FastAPI's bare "JSON decode error"
                at = f" at character {loc[1]}" if len(loc) > 1 else ""
                details.append(ErrorDetail("body", f"not JSON{at}: {error.get('ctx', {}).get('error', 'unreadable')}"))
                continue
            details.append(ErrorDetail(format_path(loc), str(error.get("msg", "")).removeprefix("Value error, ")))
        first = str(details[0]) if details else "request invalid"
        return problem(422, "RequestInvalid", first, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 400 and (why := _unreadable_json(exc.__cause__)) is not None:
            return problem(422, "RequestInvalid", f"body: {why}", [ErrorDetail("body", why)])
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # Starlette names the methods of the first route of the path only
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return problem(exc.status_code, _HTTP_TYPES.get(exc.status_code, "Error"), detail, headers=headers)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(_: Request, exc: Exception) -> JSONResponse:
        # a value bounded_integers does not see (in a free field) that the database cannot hold
        return problem(422, "RequestInvalid", "a value in the request is out of range for the database")

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        if not exc.connection_invalidated:  # any other database error is a bug: the 500 below logs it
            raise exc
        # a pooled connection found dead (the database restarted): the request's transaction was rolled back
        log.warning("database connection lost during a request: %s", exc.orig)
        return problem(503, "ServiceUnavailable", "the database connection was lost while answering: try again "
                       "(a start with the same Idempotency-Key is not made twice)",
                       headers={"Retry-After": "1"})


class UnexpectedErrors:
    """ASGI middleware: an exception no handler took is one JSON log line (the traceback inside it) and a 500:
    the page `page` gives for the request (the console's error page under /console), else a problem+json.

    It is not raised on: Starlette's own error middleware would hand it to the server, which logs
    it a second time, as a plain multi-line traceback that breaks JSON log collection."""

    def __init__(self, app: ASGIApp, page: Callable[[Scope], Response | None] = lambda _: None) -> None:
        self.app, self.page = app, page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except ClientDisconnect:  # the client went away while its body was read: nobody to answer, nothing wrong here
            log.info("the client disconnected before its request was read whole",
                     extra={"method": scope["method"], "path": scope["path"]})
        except Exception:
            log.exception("unhandled error", extra={"method": scope["method"], "path": scope["path"]})
            if not started:  # otherwise the server closes the half-sent response
                answer = self.page(scope) or problem(500, "InternalError",
                                                     "an unexpected error occurred; it has been logged")
                await answer(scope, receive, send)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "Problem", "required": ["type", "title", "status", "detail"],
    "description": "An error (RFC 9457): `type` is a stable code, `errors` each thing wrong with its path.",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "required": ["path", "message"],
                                              "properties": {"path": {"type": "string"},
                                                             "message": {"type": "string"}}}},
    },
}


def document(schema: dict[str, Any]) -> None:
    """Document in the OpenAPI schema that every error of every operation is a problem+json."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "The request is invalid: every error with its path",
                                    "content": content}
            responses["default"] = {"description": "An error", "content": content}
    for unused in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(unused, None)
