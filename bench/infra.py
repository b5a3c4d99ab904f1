"""What a benchmark runs against: a Temporal dev server started for it, worker and API processes, the database."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.http_protocol import api_command
from crm.migrate import upgrade_database
from workflows import search_attributes

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
# the PostgreSQL server the benchmarks create their databases on (the tests' one unless told otherwise)
POSTGRES_ADMIN_URL = (os.environ.get("STAGECOACH_BENCH_POSTGRES")
                      or os.environ.get("STAGECOACH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (VmRSS), from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds(database_url: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving this database (0 on SQLite: it runs in-process)."""
    if not database_url.startswith("postgresql"):
        return 0.0
    name, total = database_url.rsplit("/", 1)[-1], 0.0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f" {name} ".encode() in cmdline.read_bytes() + b" ":
                total += cpu_seconds(int(cmdline.parent.name))
        except OSError:  # the backend ended meanwhile
            pass
    return total


def _die_with_parent() -> None:
    """In a child: end when the runner ends, however it ends (no server or worker left behind)."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Wait until something listens on `port`; fail at once if `proc`, which should, has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 20 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class DevServer:
    mode: str  # "memory" or "sqlite"
    address: str
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextmanager
def dev_server(mode: str) -> Iterator[DevServer]:
    """`temporal server start-dev` as cli/embedded.py starts it: in memory, or with its SQLite file."""
    port, ui_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="bench-temporal-") as tmp:
        db = ["--db-filename", str(Path(tmp) / "temporal.db")] if mode == "sqlite" else []
        proc = subprocess.Popen([str(BIN / "temporal"), "server", "start-dev", *db, "--ip", "127.0.0.1",
                                 "--port", str(port), "--ui-port", str(ui_port), "--headless",
                                 "--log-level", "error", *search_attributes.cli_flags()],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        try:
            wait_port(port, proc)
            yield DevServer(mode=mode, address=f"127.0.0.1:{port}", proc=proc)
        finally:
            stop_process(proc)


async def connect(address: str) -> Client:
    deadline = time.monotonic() + 30
    while True:
        try:
            return await Client.connect(address, data_converter=pydantic_data_converter)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@dataclass
class Proc:
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss(self) -> int:
        return rss_bytes(self.proc.pid)

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the worker process ended with code {self.proc.returncode}")


def _env(server: DevServer, database_url: str, task_queue: str) -> dict[str, str]:
    return {**os.environ, "TEMPORAL_ADDRESS": server.address, "TEMPORAL_TASK_QUEUE": task_queue,
            "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}


@asynccontextmanager
async def worker_process(kind: str, server: DevServer, database_url: str, task_queue: str) -> AsyncIterator[Proc]:
    """A worker of its own (`bench.workerproc`), ready when this yields."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.workerproc", kind], cwd=ROOT,
                            env=_env(server, database_url, task_queue), stdout=subprocess.PIPE,
                            preexec_fn=_die_with_parent)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"the {kind} worker did not start (exit code {proc.poll()})")
        yield Proc(proc)
    finally:
        await asyncio.to_thread(stop_process, proc)


@dataclass
class ApiProc:
    url: str
    pid: int


@asynccontextmanager
async def api_process(server: DevServer, database_url: str, task_queue: str) -> AsyncIterator[ApiProc]:
    """The API as production runs it (uvicorn, its own process); yields its base URL and process id."""
    port = free_port()
    proc = subprocess.Popen(api_command("127.0.0.1", port, "--log-level", "warning"),
                            cwd=ROOT, env=_env(server, database_url, task_queue), preexec_fn=_die_with_parent)
    try:
        await asyncio.to_thread(wait_port, port, proc)  # type: ignore[arg-type]
        yield ApiProc(f"http://127.0.0.1:{port}", proc.pid)
    finally:
        await asyncio.to_thread(stop_process, proc)  # type: ignore[arg-type]


def postgres_reachable() -> bool:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def database(kind: str) -> Iterator[tuple[str, str]]:
    """A fresh, migrated Stagecoach database: ("postgresql", url) when reachable (or asked), else SQLite."""
    if kind in ("auto", "postgresql") and postgres_reachable():
        name = f"stagecoach_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        url = f"{base}/{name}"
        try:
            upgrade_database(url)
            yield "postgresql", url
        finally:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    if kind == "postgresql":
        raise RuntimeError(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}")
    with tempfile.TemporaryDirectory(prefix="bench-db-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'stagecoach.db'}"
        upgrade_database(url)
        yield "sqlite", url

