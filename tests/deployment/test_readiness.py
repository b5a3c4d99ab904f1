"""`/readyz` (the API's container health check): 200 while the database and Temporal answer, 503 naming what
does not. Temporal is reached through a TCP forwarder the tests cut and restore, as a network or a restarting
frontend would; a health check that fails is asked again, for up to 2 s, before Temporal counts as unreachable."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings
from tests.serving import free_port, pipe
from workflows.client import temporal_unready


class Forwarder:
    """127.0.0.1:`port` forwarded to `upstream` while open; `cut` closes it and every connection through it."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream, self.port = (host, int(port)), free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    def hold(self) -> None:
        """Connections stay open, but nothing passes either way (a frontend that stopped answering)."""
        for writer in self.writers:
            writer.transport.pause_reading()  # type: ignore[attr-defined]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self.writers |= {writer, up_writer}
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@contextlib.asynccontextmanager
async def through_forwarder(dev_env: WorkflowEnvironment) -> AsyncIterator[tuple[Forwarder, Client]]:
    forwarder = Forwarder(dev_env.client.service_client.config.target_host)
    await forwarder.open()
    try:
        yield forwarder, await Client.connect(f"127.0.0.1:{forwarder.port}")
    finally:
        await forwarder.cut()  # (again, for a test that cut it: closing a closed server does nothing)


async def _readyz(app: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stagecoach") as http:
        return await http.get("/readyz")


async def test_ready_while_both_answer_and_not_ready_naming_temporal_once_it_is_cut_off(
        dev_env: WorkflowEnvironment, database_url: str, sessions: Any) -> None:
    async with through_forwarder(dev_env) as (forwarder, client):
        app = create_app(Settings(database_url=database_url), temporal=client)
        async with app.router.lifespan_context(app):
            answer = await _readyz(app)
            assert (answer.status_code, answer.json()) == (
                200, {"status": "ready", "checks": {"database": "ok", "temporal": "ok"}})
            await forwarder.cut()
            started = time.monotonic()
            answer = await _readyz(app)
            assert time.monotonic() - started < 10  # asked again for 2 s, not for the SDK's minute of retries
            assert (answer.status_code, answer.json()) == (503, {"status": "not ready", "checks": {
                "database": "ok", "temporal": "unreachable: UNAVAILABLE"}})


async def test_a_failed_health_check_is_asked_again_while_time_is_left(dev_env: WorkflowEnvironment) -> None:
    async with through_forwarder(dev_env) as (forwarder, client):
        await forwarder.cut()
        started = time.monotonic()
        assert await temporal_unready(client, 0.5) == "UNAVAILABLE"
        assert time.monotonic() - started >= 0.3  # 0.1 then 0.2 s between three checks

        async def back_soon() -> None:
            await asyncio.sleep(0.4)
            await forwarder.open()

        comeback = asyncio.create_task(back_soon())
        assert await temporal_unready(client, 30) is None  # answered on a later check, once the way is open
        await comeback


async def test_a_client_that_never_connected_is_said_so_not_raised() -> None:
    nobody = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)  # nothing listens there
    assert await temporal_unready(nobody, 0.3) == "RuntimeError"


async def test_a_temporal_that_holds_its_connections_but_never_answers_is_said_not_to_answer(
        dev_env: WorkflowEnvironment) -> None:
    async with through_forwarder(dev_env) as (forwarder, client):
        forwarder.hold()
        started = time.monotonic()
        assert await temporal_unready(client, 0.5) == "no answer in 0.5s"
        assert time.monotonic() - started < 5
