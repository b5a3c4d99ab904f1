"""The HTTP server's protocol: uvicorn's (httptools), answering a request it cannot read with a problem+json 400.

A request whose request line or headers the parser refuses (not HTTP, or longer than it reads: a query string of
about 64 KB is), or whose head (request line and headers) goes on past HEAD_LIMIT, never reaches the app (the parser
itself reads headers of any size, keeping each whole in memory: one of 30 MB, or 100,000 small ones, were read and
answered); uvicorn answers it with a plain-text "Invalid HTTP request received.". Served
with `uvicorn --http api.http_protocol:HttpProtocol`, the API answers it as it answers every other refusal. `make run`,
the tests that serve the API in a process of its own and the benchmarks take that command from `api_command`.
"""

from __future__ import annotations

import asyncio
import json
import sys

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from api.problems import PROBLEM_JSON

UNREADABLE = ("the request could not be read as HTTP: its request line or headers are malformed, or longer than "
              "the server reads (about 64 KB; send long values in a body)")
HEAD_LIMIT = 64 * 1024  # bytes of a request's line and headers
LINGER_SECONDS = 5  # a refused connection's, reading and dropping what is still sent
HEAD_TOO_LONG = f"the request's line and headers are longer than {HEAD_LIMIT // 1024} KB: send long values in a body"


class HttpProtocol(HttpToolsProtocol):
    """Uvicorn's protocol, refusing a head over HEAD_LIMIT as it arrives, and answering refusals as problem+json."""

    _in_head = True  # reading a request's line and headers (a connection starts so)
    _head_bytes = 0
    _dropping = False  # refused: what the client still sends is read and dropped

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self._dropping:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > HEAD_LIMIT and not self.transport.is_closing():
            self.logger.warning("A request's head over %s bytes refused.", HEAD_LIMIT)
            self._refuse_while_sent(HEAD_TOO_LONG)

    def _refuse_while_sent(self, detail: str) -> None:
        """Answer 400 and end the answer (half-close), then drop what the client is still sending for a while before
        closing: closed at once with its data unread, the connection is reset and the client never reads the 400."""
        self.transport.write(self._problem_400(detail))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._dropping = True
        asyncio.get_running_loop().call_later(LINGER_SECONDS, self.transport.close)

    def send_400_response(self, msg: str) -> None:
        self.transport.write(self._problem_400(UNREADABLE if msg.startswith("Invalid HTTP request") else msg))
        self.transport.close()

    def _problem_400(self, detail: str) -> bytes:
        body = json.dumps({"type": "BadRequest", "title": "BadRequest", "status": 400, "detail": detail}).encode()
        head = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: ", PROBLEM_JSON.encode(), b"\r\n", b"content-length: ", str(len(body)).encode(),
                 b"\r\n", b"connection: close\r\n\r\n", body]
        return b"".join(head)


def api_command(host: str, port: int, *options: str) -> list[str]:
    """The command that serves the API as `make run` and the deployment do (uvicorn, this protocol), for a child
    process: the launcher, the tests and the benchmarks start the same server."""
    return [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--http",
            "api.http_protocol:HttpProtocol", "--host", host, "--port", str(port), "--no-access-log", *options]
