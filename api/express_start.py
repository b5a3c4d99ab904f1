"""`POST /processes`, the API's busiest route, answered without FastAPI's request handling when its request is the
usual one: the express lane.

FastAPI's handling of a request below its middleware (the included routers' routing, the body parsed and each of the
route's six dependencies solved, the endpoint's answer validated again against its model, a response built from it)
cost about 0.3 ms of the API's 2.5 ms of CPU a start (bench/findings.md, the start path's twelfth round). The express
lane is a route ahead of the app's others. A request whose body is sent as `application/json` and that
`StartProcessBody` takes as it is (no key given twice or unknown to it, every integer in the database's range, no
NUL in a text), from
a caller the admission found (`api.admission`), starts the process with the route's own code (`start_with`), and its
answer is the model's JSON, as the route's is.

Anything else (no body, another content type, a body the model refuses, an unknown caller) is handed to the app's
own route with its body, which answers it as it answers any request: the express lane never says anything the route
would not (`tests/bad_input/test_express_start.py` sends both the same requests). A refusal of the start itself (no
such template, record or owner, Temporal not answering) comes from `start_with` on either way, through the app's
exception handlers. The OpenAPI document, the admission's role and body limit, and the metrics' route label are the
route's (`api.routers.processes.start`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, get_route_path
from starlette.types import Message, Receive, Scope, Send

from api.admission import api_routes
from api.auth import Principal
from api.bounds import out_of_range
from api.problems import other_charset
from api.routers.processes import start_with
from api.sent_json import keys_twice
from api.start_allocation import StartProcessBody

PATH = "/processes"
_DECLINED = "stagecoach.express_declined"  # in the scope of a request handed on: the lane lets the route take it


class ExpressStart(BaseRoute):
    """The express lane of `POST /processes`, first among the app's routes (`install`)."""

    def __init__(self, route: APIRoute) -> None:
        self.route = route  # the app's own: what a request handed on reaches, and what metrics and tracing name
        self.path, self.name = route.path, route.name  # as a route matched is read (OpenTelemetry's span names)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["method"] == "POST" and _DECLINED not in scope \
                and get_route_path(scope) == PATH:
            return Match.FULL, {"route": self.route}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        principal = scope.get("state", {}).get("principal")
        start = _usual(request, body) if isinstance(principal, Principal) else None
        if start is None:
            await _hand_on(scope, receive, body, send)
            return
        state = request.app.state
        said = Response()  # what `start_with` says of its answer (the status), as FastAPI gives an endpoint
        del said.headers["content-length"]
        async with state.sessions() as session:
            started = await start_with(start, said, session, state.temporal, state.settings, principal)
        answer = Response(started.__pydantic_serializer__.to_json(started), status_code=said.status_code,
                          media_type="application/json")
        answer.raw_headers.extend(said.raw_headers)
        await answer(scope, receive, send)


def _usual(request: Request, body: bytes) -> StartProcessBody | None:
    """The start the body asks for, when the app's route would take it as it is; None for anything else (a query
    string too: the route takes none today, and one it took tomorrow would be the route's to read)."""
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "application/json" or other_charset(content_type) \
            or request.scope.get("query_string"):
        return None
    try:
        start = StartProcessBody.model_validate_json(body, extra="forbid")  # a key it does not know: the route's 422
    except ValidationError:
        return None
    if out_of_range([start.record_id, start.version, start.owner_id]) or keys_twice(body) or b"\\u0000" in body:
        return None  # the route refuses it, naming where
    return start


async def _hand_on(scope: Scope, receive: Receive, body: bytes, send: Send) -> None:
    """The request to the app's own route, its body sent again (what follows it, a disconnect, as it comes)."""
    given = False

    async def again() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope[_DECLINED] = True
    await scope["app"].router(scope, again, send)


def install(app: FastAPI) -> None:
    """Put the express lane of `POST /processes` first among the app's routes (after every router is included)."""
    route: Any = next(route for path, route in api_routes(app) if path == PATH and "POST" in (route.methods or ()))
    app.router.routes.insert(0, ExpressStart(route))
