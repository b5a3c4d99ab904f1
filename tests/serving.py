"""Serving the API for a test as production does: uvicorn on a free port of 127.0.0.1, in process or in a process of its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from api.http_protocol import api_command
from bench.infra import stop_process

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy what `reader` receives to `writer` until either side closes (the tests' TCP forwarders)."""
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[None]:
    """Serve `app` with uvicorn (its lifespan included) until the block ends."""
    # the server keeps an idle connection longer than httpx's pool does (5 s): else a request sent on a connection
    # just as the server closes it fails with a ReadError (seen on a busy machine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           timeout_keep_alive=30))
    served = asyncio.create_task(server.serve())
    while not server.started:
        if served.done():  # it could not start: say why
            served.result()
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await served


@dataclass
class ApiProcess:
    """The API in a process of its own, as production serves it (`uvicorn --factory api.app:create_app`)."""

    proc: subprocess.Popen[bytes]
    port: int
    output: Path  # what it wrote on stdout and stderr

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_bytes(self) -> int:
        """Its resident memory now."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def lines(self) -> list[str]:
        return self.output.read_text(errors="replace").splitlines()


@asynccontextmanager
async def api_process(env: dict[str, str], output: Path) -> AsyncIterator[ApiProcess]:
    """Start the API with `env` added to this environment; yield once /livez answers; stop it (SIGTERM)."""
    port = free_port()
    with output.open("wb") as sink:
        proc = subprocess.Popen(api_command("127.0.0.1", port, "--timeout-keep-alive", "30"),
                                env={**os.environ, **env}, stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT)
    served = ApiProcess(proc, port, output)
    try:
        async with httpx.AsyncClient(base_url=served.base_url, timeout=2) as http:
            for _ in range(300):
                if proc.poll() is not None:
                    raise RuntimeError(f"the API exited with code {proc.returncode}:\n{output.read_text()}")
                try:
                    if (await http.get("/livez")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"the API did not answer /livez in 30 s:\n{output.read_text()}")
        yield served
    finally:
        stop_process(proc)
