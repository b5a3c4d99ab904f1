"""`stagecoach run`: the embedded default — Temporal dev server, worker and API on SQLite, in one command.

Data lives in the data folder (git-ignored): the SQLite database, the Temporal dev
server's database (so a restart resumes every waiting process) and the admin key.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.auth import create_key, principal_for
from cli.api_client import ApiClient
from cli.examples import load_examples
from crm.db import make_engine, make_sessionmaker
from crm.migrate import upgrade_database
from crm.models import ApiRole
from settings import Settings
from workflows import search_attributes

BIN = Path(sys.executable).parent


def admin_key_file(settings: Settings) -> Path:
    return settings.data_dir / "admin-api-key"


async def _ensure_admin_key(settings: Settings) -> str:
    """The local tour's admin key: generated once, kept in the data folder, never a fixed default."""
    path = admin_key_file(settings)
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            if path.exists():
                key = path.read_text().strip()
                if await principal_for(session, key) is not None:
                    return key
            _, key = await create_key(session, "local admin (make run)", ApiRole.admin)
    finally:
        await engine.dispose()
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key


def ensure_admin_key(settings: Settings) -> str:
    return asyncio.run(_ensure_admin_key(settings))


def _wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[0]} exited with code {proc.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def _wait_ready(url: str, timeout: float, procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise SystemExit(f"{' '.join(map(str, proc.args[:3]))} exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the API at {url} was not ready after {timeout:.0f}s")


def _set_retention(settings: Settings, env: dict[str, str]) -> None:
    """The dev server's namespace keeps closed runs `TEMPORAL_RETENTION_HOURS` (its own default is 24 h)."""
    done = subprocess.run([str(BIN / "temporal"), "operator", "namespace", "update", "--namespace",
                           settings.temporal_namespace, "--retention", f"{settings.temporal_retention_hours}h",
                           "--address", settings.temporal_address], env=env, capture_output=True, timeout=30)
    if done.returncode != 0:
        print(f"Temporal's retention not set: {done.stderr.decode(errors='replace').strip()}", file=sys.stderr)


def run_embedded(settings: Settings, ui_port: int, with_examples: bool = True) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    host, port = settings.temporal_address.rsplit(":", 1)
    env = {**os.environ, "TEMPORAL_ADDRESS": settings.temporal_address, "DATABASE_URL": settings.database_url,
           "DATA_DIR": str(settings.data_dir), "API_HOST": settings.api_host, "API_PORT": str(settings.api_port),
           "TEMPORAL_UI_URL": settings.temporal_ui_url}
    procs: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        """The API, then the worker (its running steps finish and report), then the Temporal server.

        A second Ctrl-C does not cut this short: the Temporal server, in a process group of its own,
        would be left running."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        temporal = subprocess.Popen([
            str(BIN / "temporal"), "server", "start-dev", "--db-filename", str(settings.data_dir / "temporal.db"),
            "--ip", host, "--port", port, "--ui-port", str(ui_port), "--namespace", settings.temporal_namespace,
            "--log-level", "warn", *search_attributes.cli_flags()], env=env,
            process_group=0)  # Ctrl-C reaches the terminal's process group: Temporal stops last, from stop()
        procs.append(temporal)
        _wait_for_port(host, int(port), 60, temporal)
        _set_retention(settings, env)
        upgrade_database(settings.database_url)
        key = ensure_admin_key(settings)
        procs.append(subprocess.Popen([sys.executable, "-m", "worker"], env=env))
        procs.append(subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
                                       "--host", settings.api_host, "--port", str(settings.api_port),
                                       "--no-access-log"], env=env))
        _wait_ready(settings.public_url, 90, procs)
        loaded = load_examples(ApiClient(settings.public_url, key)) if with_examples else None
        print(f"""
Stagecoach is running (data in {settings.data_dir.resolve()}/).
  API docs:     {settings.public_url}/docs
  Temporal UI:  {settings.temporal_ui_url}
  Outbox:       {settings.public_url}/outbox   (email is kept here: no SMTP_HOST set)
  Admin key:    {key}
                (kept in {admin_key_file(settings)}; send it as the X-API-Key header)
{f"  Examples:     {loaded['users']} users, {loaded['records']} records, {loaded['templates']} templates" if loaded else ""}
Press Ctrl-C to stop; processes resume where they were on the next `make run`.
""", flush=True)
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
        failed = next(proc for proc in procs if proc.poll() is not None)
        print(f"{failed.args[0]} exited with code {failed.returncode}; stopping", file=sys.stderr)
        return failed.returncode or 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop()
