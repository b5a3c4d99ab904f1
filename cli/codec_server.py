"""`stagecoach codec-server`: decodes Stagecoach's encrypted payloads for the Temporal UI and CLI.

An engineer who holds PAYLOAD_ENCRYPTION_KEYS runs it on their own machine (127.0.0.1) and sets it as the
UI's codec endpoint ("Data Encoder"), or passes it to `temporal workflow show --codec-endpoint`: the
browser or the CLI sends it the payloads of a run and shows what comes back. It speaks Temporal's codec
server protocol: `POST /decode` and `POST /encode` with `{"payloads": [...]}` in protobuf JSON.
"""

from __future__ import annotations

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads

from workflows.codec import EncryptionCodec


def codec_app(codec: EncryptionCodec, ui_origins: list[str]) -> Starlette:
    async def convert(request: Request) -> Response:
        try:
            payloads = json_format.Parse(await request.body(), Payloads()).payloads
        except json_format.ParseError as exc:
            return JSONResponse({"detail": f"the body is not {{\"payloads\": [...]}} in protobuf JSON: {exc}"}, 400)
        try:
            done = await (codec.encode if request.url.path.endswith("/encode") else codec.decode)(payloads)
        except Exception as exc:  # a payload of another key, or altered: say so, keep serving
            return JSONResponse({"detail": f"{type(exc).__name__}: {exc}"}, 422)
        return Response(json_format.MessageToJson(Payloads(payloads=done)), media_type="application/json")

    return Starlette(routes=[Route("/decode", convert, methods=["POST"]), Route("/encode", convert, methods=["POST"])],
                     middleware=[Middleware(CORSMiddleware, allow_origins=ui_origins, allow_methods=["POST"],
                                            allow_headers=["content-type", "x-namespace", "authorization"],
                                            allow_credentials=True)])
