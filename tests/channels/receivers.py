"""Real local HTTP servers that receive what Stagecoach sends out (webhooks, SMS), answering as a test says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.serving import free_port, serving


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # the receiver's clock (time.monotonic)


Answer = Callable[[Received, int], Awaitable[Response]]  # (the request, how many came to its path) -> answer


async def ok(received: Received, n: int) -> Response:
    return JSONResponse({"ok": True})


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 recording every request; `answers[path]` decides each answer (default 200)."""

    port: int = field(default_factory=free_port)
    answers: dict[str, Answer] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def _handle(self, request: Request) -> Response:
        received = Received(path=request.url.path, headers=dict(request.headers), body=await request.body(),
                            at=asyncio.get_running_loop().time())
        self.received.append(received)
        answer = self.answers.get(received.path, ok)
        return await answer(received, len(self.at(received.path)))

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST", "GET"])])


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    async with serving(server.app(), server.port):
        yield server
