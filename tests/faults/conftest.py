"""Fault injection: a worker and a Temporal dev server as real child processes, a programmable SMTP server,
and the API over HTTP, so that a test can kill, refuse and restart them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from api.app import create_app
from api.auth import create_key
from crm.db import make_engine, make_sessionmaker
from crm.migrate import upgrade_database
from crm.models import ApiRole
from renderer.pool import shared_pool
from settings import Settings
from tests.serving import free_port, serving
from workflows import search_attributes
from workflows.client import dispatcher_id

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SENDER = "processes@agency.example"


def end_process(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send `sig` and wait for the process to end; SIGKILL it if it has not after 30 s."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def named(url: str, name: str) -> str:
    """A database URL whose connections PostgreSQL shows as `application_name` `name` (SQLite's as it is)."""
    if not url.startswith("postgresql"):
        return url
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def psycopg_url(url: str) -> str:
    """SQLAlchemy's PostgreSQL URL as psycopg takes it, to reach the database around the app."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


# --- SMTP ----------------------------------------------------------------------------------------

Reply = str | None  # an SMTP reply line, or None: drop the connection without answering


@dataclass
class Delivery:
    message: EmailMessage
    attempt: int  # 1 for the first DATA of this Message-ID
    reply: Reply

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class ProgrammableSMTP:
    """An aiosmtpd handler that answers as a script says, and records every DATA it received.

    `on_rcpt(address, n)` runs when the n-th RCPT TO of an address arrives; `on_data(delivery)` decides the
    reply to a DATA (both may block, to hold the sender at that point). A DATA counts as
    received (seen by the receiver) whatever the reply: that is the worst case for duplicates.
    """

    port: int = field(default_factory=free_port)
    deliveries: list[Delivery] = field(default_factory=list)
    rcpts: dict[str, int] = field(default_factory=dict)  # recipient -> RCPT TO commands received
    on_rcpt: Callable[[str, int], Awaitable[Reply]] | None = None
    on_data: Callable[[Delivery], Awaitable[Reply]] | None = None
    controller: Controller | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    # aiosmtpd hooks (run on the controller's own thread and event loop)
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          options: list[str]) -> str:
        with self.lock:
            self.rcpts[address] = self.rcpts.get(address, 0) + 1
            n = self.rcpts[address]
        reply = await self.on_rcpt(address, n) if self.on_rcpt else "250 OK"
        if reply is None:
            server.transport.abort()
            return "250 OK"  # not sent: the connection is gone
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            seen = sum(d.message_id == str(message["Message-ID"]) for d in self.deliveries)
            delivery = Delivery(message=message, attempt=seen + 1, reply="250 OK")
            self.deliveries.append(delivery)
        reply = await self.on_data(delivery) if self.on_data else "250 OK"
        delivery.reply = reply
        if reply is None:
            server.transport.abort()
            return "250 OK"
        return reply

    def start(self) -> None:
        assert self.controller is None
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def seen(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def message_ids(self, accepted_only: bool = False) -> dict[str, int]:
        """Message-ID -> how many times the receiver got it (accepted: answered 2xx, or the connection dropped
        after the DATA, which the sender cannot tell from an accepted message)."""
        counts: dict[str, int] = {}
        for d in self.seen():
            if not accepted_only or d.reply is None or d.reply.startswith("2"):
                counts[d.message_id] = counts.get(d.message_id, 0) + 1
        return counts


@asynccontextmanager
async def smtp_server(started: bool = True) -> AsyncIterator[ProgrammableSMTP]:
    server = ProgrammableSMTP()
    if started:
        server.start()
    try:
        yield server
    finally:
        server.stop()


def duplicate_effects(server: ProgrammableSMTP, intended: dict[str, str]) -> tuple[int, int, int]:
    """(deliveries seen, effective duplicates, intended emails never seen) for `intended` step key -> Message-ID.

    The receiver de-duplicates by Message-ID: the same one twice is one effect. An email is
    effectively duplicated when the receiver got a Message-ID that is not the one of its step key,
    or several Message-IDs for one step key.
    """
    ids = server.message_ids(accepted_only=True)
    expected = set(intended.values())
    duplicates = len(set(ids) - expected)
    missing = len(expected - set(ids))
    return len(server.seen()), duplicates, missing


# --- the Temporal dev server and the worker as child processes -------------------------------------


class DevServer:
    """`temporal server start-dev` on a database file and a port of its own, to kill and restart.

    Its SQLite file is in WAL mode with `synchronous=normal`: a commit is in the file (the OS's cache) before
    the server answers, so a killed server loses nothing it acknowledged, as with the default pragmas;
    only a crash of the machine itself could, which these tests do not simulate. It is 5 times faster here.
    """

    def __init__(self, directory: Path) -> None:
        self.db = directory / "temporal.db"
        self.log = directory / "temporal.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, timeout: float = 60.0) -> None:
        assert self.proc is None or self.proc.poll() is not None
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([
                str(BIN / "temporal"), "server", "start-dev", "--db-filename", str(self.db), "--ip", "127.0.0.1",
                "--port", str(self.port), "--headless", "--namespace", "default", "--log-level", "error",
                "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
                *search_attributes.cli_flags()], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the dev server exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
            try:
                client = await Client.connect(self.address, data_converter=pydantic_data_converter)
                await client.count_workflows()  # the namespace answers
                return
            except (RuntimeError, RPCError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    def stop(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        end_process(self.proc, sig)
        deadline = time.monotonic() + 10
        while listening(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)


class WorkerProcess:
    """`python worker.py` as a child process, configured by environment variables like in production."""

    def __init__(self, directory: Path, *, database_url: str, temporal_address: str, task_queue: str,
                 smtp_port: int | None = None) -> None:
        self.directory = directory
        self.env = {**os.environ, "DATABASE_URL": database_url, "TEMPORAL_ADDRESS": temporal_address,
                    "TEMPORAL_NAMESPACE": "default", "TEMPORAL_TASK_QUEUE": task_queue,
                    "DATA_DIR": str(directory), "LOG_LEVEL": "INFO", "LOG_JSON": "true",
                    "RECORD_EVENTS_SWEEP_SECONDS": str(30 * 24 * 3600), "SMTP_FROM": SENDER,
                    "SMTP_TIMEOUT_SECONDS": "60"}
        if smtp_port is not None:
            self.env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port))
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    async def start(self, timeout: float = 60.0) -> None:
        assert self.proc is None or self.proc.poll() is not None
        self.starts += 1
        log_path = self.directory / f"worker-{self.starts}.log"
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], cwd=self.directory,
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while b"worker started" not in log_path.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start: {log_path.read_text()[-3000:]}")
            await asyncio.sleep(0.05)

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            end_process(self.proc, sig)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.directory.glob("worker-*.log")))


@asynccontextmanager
async def worker_process(directory: Path, **options: Any) -> AsyncIterator[WorkerProcess]:
    worker = WorkerProcess(directory, **options)
    await worker.start()
    try:
        yield worker
    finally:
        worker.kill(signal.SIGTERM)


async def end_task_queue(client: Client, task_queue: str) -> None:
    """Terminate what a test left running on its task queue of the shared dev server (processes, dispatcher)."""
    query = f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Running'"
    async for execution in client.list_workflows(query):
        try:
            await client.get_workflow_handle(execution.id).terminate("the test is over")
        except RPCError:
            pass
    try:
        await client.get_workflow_handle(dispatcher_id(task_queue)).terminate("the test is over")
    except RPCError:
        pass


# --- the API over HTTP -----------------------------------------------------------------------------


@dataclass
class Api:
    http: httpx.AsyncClient
    keys: dict[str, str]
    settings: Settings

    def as_(self, role: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}

    @property
    def staff(self) -> dict[str, str]:
        return self.as_("staff")

    @property
    def admin(self) -> dict[str, str]:
        return self.as_("admin")


@asynccontextmanager
async def serve_api(sessions: async_sessionmaker[AsyncSession], temporal: Client, *, database_url: str,
                    task_queue: str, timeout: float = 60.0) -> AsyncIterator[Api]:
    """The API as `uvicorn` serves it in production, with a Temporal client of the caller's."""
    port = free_port()
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, api_port=port)
    keys = {}
    async with sessions() as session:
        for role in ApiRole:
            _, keys[role.value] = await create_key(session, f"faults {role.value}", role)
    limits = httpx.Limits(max_connections=50)
    async with serving(create_app(settings, temporal=temporal, renderer=shared_pool()), port), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=timeout, limits=limits) as http:
        yield Api(http=http, keys=keys, settings=settings)


async def create_template(api: Api, document: dict[str, Any]) -> dict[str, Any]:
    response = await api.http.post("/templates", headers=api.admin, json=document)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def process_state(api: Api, workflow_id: str) -> dict[str, Any] | None:
    response = await api.http.get(f"/processes/{workflow_id}", headers=api.staff)
    return response.json() if response.status_code == 200 else None


def workflow_task_failures(events: Any) -> int:
    return sum(e.HasField("workflow_task_failed_event_attributes") for e in events)


@pytest.fixture
async def embedded_database(tmp_path: Path) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    """A SQLite database of the test's own, as `make run` has beside its dev server (not parametrized)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'stagecoach.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    yield url, make_sessionmaker(engine)
    await engine.dispose()
