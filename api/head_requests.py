"""HEAD answered as GET is, without its body (RFC 9110 §9.3.2: a server that answers GET answers HEAD): a monitor's
`curl -I /readyz` or a link checker got 405 from FastAPI, whose routes take only the methods they name.

The app sees a GET (its checks, a key asked for before anything is read, its status and headers, `Content-Length`
included); the body it writes is not sent. Uvicorn sends none for HEAD either; this drops it for any server."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
