"""The HTTP server's protocol: uvicorn's (httptools), answering a request it cannot read with a problem+json 400.

A request whose request line or headers the parser refuses (not HTTP, or longer than it reads: a query string of
about 64 KB is) never reaches the app; uvicorn answers it with a plain-text "Invalid HTTP request received.". Served
with `uvicorn --http api.http_protocol:HttpProtocol`, the API answers it as it answers every other refusal. `make run`,
the tests that serve the API in a process of its own and the benchmarks take that command from `api_command`.
"""

from __future__ import annotations

import json
import sys

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from api.problems import PROBLEM_JSON

UNREADABLE = ("the request could not be read as HTTP: its request line or headers are malformed, or longer than "
              "the server reads (about 64 KB; send long values in a body)")


class HttpProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        detail = UNREADABLE if msg.startswith("Invalid HTTP request") else msg
        body = json.dumps({"type": "BadRequest", "title": "BadRequest", "status": 400, "detail": detail}).encode()
        head = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: ", PROBLEM_JSON.encode(), b"\r\n", b"content-length: ", str(len(body)).encode(),
                 b"\r\n", b"connection: close\r\n\r\n", body]
        self.transport.write(b"".join(head))
        self.transport.close()


def api_command(host: str, port: int, *options: str) -> list[str]:
    """The command that serves the API as `make run` and the deployment do (uvicorn, this protocol), for a child
    process: the launcher, the tests and the benchmarks start the same server."""
    return [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--http",
            "api.http_protocol:HttpProtocol", "--host", host, "--port", str(port), "--no-access-log", *options]
