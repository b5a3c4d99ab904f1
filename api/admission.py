"""What a request must pass before anything of its body is read: who calls, with which role, and how much it sends.

An ASGI middleware, ahead of routing. For the route a request is for, it reads the API key from
the headers and checks it against the role the route needs (401, 403), then the body's declared
size (413), before the route reads a byte of the body or validates a parameter: an anonymous
caller's 29 MB body, or its out-of-range id, is refused unread. A body sent without a length is
counted as it arrives and refused once it passes the limit (`MAX_BODY_BYTES`, 1 MB by default).
Every refusal is a problem+json.

(FastAPI's own `max_body_size` answers a declared oversize body with a plain-text 413 in place of
whatever the app answered, a 401 included: the order and the format here are the API's.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Principal
from api.problems import problem
from crm.models import ApiRole

ROLE_ATTRIBUTE = "stagecoach_role"
_UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}


def needs(role: ApiRole) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a dependency as the check that the caller has `role` (api.deps.require)."""
    def mark(check: Callable[..., Any]) -> Callable[..., Any]:
        setattr(check, ROLE_ATTRIBUTE, role)
        return check

    return mark


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """Every API route with its full path (FastAPI keeps included routers as groups, not in `app.routes`)."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.path:
            yield context.path, context.original_route


def required_role(route: APIRoute) -> ApiRole | None:
    """The highest role a route's dependencies ask for; None for a public route."""
    roles = [getattr(d.call, ROLE_ATTRIBUTE) for d in _dependants(route.dependant) if hasattr(d.call, ROLE_ATTRIBUTE)]
    return max(roles, key=lambda role: role.rank, default=None)


LARGE_BODY_ATTRIBUTE = "__stagecoach_large_body__"


def body_limit(setting: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a route whose body may be as large as the setting `setting` says (a file), not MAX_BODY_BYTES."""
    def mark(route: Callable[..., Any]) -> Callable[..., Any]:
        setattr(route, LARGE_BODY_ATTRIBUTE, setting)
        return route

    return mark


large_body = body_limit("max_import_bytes")  # a CSV to import


@dataclass(frozen=True)
class _Rule:
    path: re.Pattern[str]
    methods: frozenset[str]
    role: ApiRole | None
    limit: str | None = None  # the setting naming the route's body limit, when not MAX_BODY_BYTES


def _rules(app: FastAPI) -> list[_Rule]:
    rules = []
    for path, route in api_routes(app):
        methods = set(route.methods or ())
        rules.append(_Rule(compile_path(path)[0], frozenset(methods | ({"HEAD"} if "GET" in methods else set())),
                           required_role(route), getattr(route.endpoint, LARGE_BODY_ATTRIBUTE, None)))
    return rules


def api_keys(scope: Scope) -> list[str]:
    """The API keys the request sends, each once: those in `X-API-Key`, else those sent as `Authorization: Bearer`
    (an `X-API-Key` counts before a bearer, as it always did). Two different ones in the same header are refused by
    the caller: which would count was whichever the reader took (the last two `X-API-Key` headers' one, here)."""
    given: dict[str, list[str]] = {"x": [], "bearer": []}
    for name, value in scope["headers"]:
        if name.lower() == b"x-api-key" and (key := value.decode("latin-1").strip()):
            given["x"].append(key)
        elif name.lower() == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                given["bearer"].append(credentials.strip())
    return list(dict.fromkeys(given["x"] or given["bearer"]))


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a body sent without a declared length passes the limit."""

    def __init__(self, limit: int, setting: str = "max_body_bytes") -> None:
        super().__init__(413, f"the request body is over {limit:,} bytes ({setting.upper()})")
        self.limit = limit


class Admission:
    def __init__(self, app: ASGIApp, max_body_bytes: int, limits: dict[str, int] | None = None,
                 pages: dict[str, Callable[[Scope, int], ASGIApp]] | None = None,
                 page: Callable[[Scope, int], ASGIApp | None] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limits = limits or {}  # by setting name: {"max_import_bytes": 200_000_000, ...}
        self.pages = pages or {}  # by setting name: the page a browser gets for a body over it (the client's form)
        self.page = page  # by path: the page a browser gets for a body over its limit, or None (the console's)
        self._rules: dict[str, list[_Rule]] | None = None  # by method, in the app's order

    def _route(self, scope: Scope) -> _Rule | None:
        if self._rules is None:
            rules = _rules(scope["app"])
            self._rules = {method: [r for r in rules if method in r.methods]
                           for method in {m for r in rules for m in r.methods}}
        path, root = scope["path"], scope.get("root_path", "")
        path = path[len(root):] if root and path.startswith(root) else path
        for rule in self._rules.get(scope["method"], ()):
            if rule.path.match(path):
                return rule
        return None  # no such route (404) or method (405): answered without reading the body

    async def _principal(self, scope: Scope, key: str) -> Principal | None:
        state = scope["app"].state
        return await state.api_keys.principal(state.sessions, key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self._route(scope)
        role = rule.role if rule is not None else None
        setting = rule.limit if rule is not None else None
        limit = self.limits.get(setting, self.max_body_bytes) if setting else self.max_body_bytes
        if role is not None:
            keys = api_keys(scope)
            key = keys[0] if len(keys) == 1 else None
            principal = await self._principal(scope, key) if key else None
            if principal is None:
                detail = "unknown or revoked API key" if key else \
                    f"{len(keys)} API keys sent: send one (X-API-Key header or Authorization: Bearer)" if keys else \
                    "an API key is required (X-API-Key header or Authorization: Bearer)"
                await problem(401, "Unauthorized", detail, headers=_UNAUTHENTICATED)(scope, receive, send)
                return
            if not principal.has(role):
                detail = f"this needs the {role.value} role; the key has {principal.role.value}"
                await problem(403, "Forbidden", detail)(scope, receive, send)
                return
            scope.setdefault("state", {})["principal"] = principal
        length = _declared_length(scope)
        if length is not None and length > limit:
            if setting in self.pages:
                await self.pages[setting](scope, limit)(scope, receive, send)
                return
            if self.page is not None and (page := self.page(scope, limit)) is not None:
                await page(scope, receive, send)
                return
            error = BodyTooLarge(limit, setting or "max_body_bytes")
            await problem(413, "PayloadTooLarge", error.detail)(scope, receive, send)
            return
        await self.app(scope, self._counting(receive, limit, setting or "max_body_bytes"), send)

    def _counting(self, receive: Receive, limit: int, setting: str) -> Receive:
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, setting)  # FastAPI passes it on: a problem+json 413
            return message

        return counted


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
