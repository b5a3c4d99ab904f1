"""`stagecoach run`: the embedded default — Temporal dev server, worker and API on SQLite, in one command.

Data lives in the data folder (git-ignored): the SQLite database, the Temporal dev
server's database (so a restart resumes every waiting process), its log, the admin key, the console
admin's password and the API's URL (for the `stagecoach` command, from any directory).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlmodel import select

from api.auth import create_key, principal_for
from api.http_protocol import api_command
from cli.api_client import KEY_FILE, URL_FILE, ApiClient
from cli.examples import Loaded, examples_in, load_examples
from crm.db import make_engine, make_sessionmaker
from crm.migrate import upgrade_database
from crm.models import ApiRole, User
from crm.staff_sessions import password_matches, set_password
from processes.languages import language
from settings import Settings
from workflows import search_attributes

CONSOLE_ADMIN = "admin"
CONSOLE_PASSWORD_FILE = "console-admin-password"

BIN = Path(sys.executable).parent


def admin_key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def busy_ports(settings: Settings, ui_port: int) -> list[str]:
    """What `make run` would listen on that another program holds already, each with how to choose another port."""
    host, port = settings.temporal_address.rsplit(":", 1)
    wanted = [(settings.api_host, settings.api_port, "the API", f"API_PORT={settings.api_port + 1} make run"),
              (host, int(port), "Temporal", f"TEMPORAL_ADDRESS={host}:{int(port) + 1} make run"),
              (host, ui_port, "the Temporal Web UI", f"make run UI_PORT={ui_port + 1}")]
    busy = []
    for address, number, what, instead in wanted:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((address, number))
            except OSError:
                busy.append(f"port {number} on {address} ({what}) is in use by another program: stop it, "
                            f"or choose another port: {instead}")
    return busy


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


ADMIN_NAME = {"en": "Administrator", "it": "Amministratore"}  # the console's first admin, as the office reads it


async def _ensure_console_admin(settings: Settings) -> str:
    """The console's first admin, `admin`: a password generated once and kept in the data folder. What the banner
    says of its password (the password, or that an operator has changed it since)."""
    path = settings.data_dir / CONSOLE_PASSWORD_FILE
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            user = (await session.exec(select(User).where(User.handle == CONSOLE_ADMIN))).first()
            if user is not None and user.password_hash and path.exists():
                password = path.read_text().strip()
                if password_matches(user.password_hash, password):
                    return password
                return "changed since (stagecoach admin set-password admin)"
            if user is None:
                user = User(handle=CONSOLE_ADMIN, name=ADMIN_NAME[language(settings.locale)],
                            email="admin@stagecoach.example")
            password = secrets.token_urlsafe(12)
            await set_password(session, user, password, role="admin")
    finally:
        await engine.dispose()
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password


def _wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the Temporal dev server exited with code {proc.returncode}; its log: {log}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"the Temporal dev server does not listen on {host}:{port} after {timeout:.0f}s; its log: {log}")


def _lost_a_port(log: Path, since: int) -> bool:
    """Whether the dev server's log, from byte `since`, says a port it meant to listen on was taken meanwhile."""
    with log.open("rb") as file:
        file.seek(since)
        return b"address already in use" in file.read()


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


def _banner(settings: Settings, key: str, loaded: Loaded | None, password: str) -> dict[str, str]:
    outbox = f"{settings.public_url}/console/outbox"  # the API's /outbox needs a key: not a link for a browser
    email = (f"sent through {settings.smtp_host}:{settings.smtp_port}, and kept in {outbox}"
             if settings.smtp_host else f"kept in {outbox} (no SMTP_HOST set: nothing is sent)")
    lines = {"Console": f"{settings.public_url}/console",
             "Sign in as": f"{CONSOLE_ADMIN}, password {password} (kept in {settings.data_dir / CONSOLE_PASSWORD_FILE})",
             "API docs": f"{settings.public_url}/docs", "Temporal UI": settings.temporal_ui_url, "Email": email,
             "Admin key": key, "Key file": str(admin_key_file(settings)), "Time zone": f"{settings.timezone} (TIMEZONE)",
             "Temporal log": str(settings.data_dir / "temporal.log")}
    if loaded is not None:
        lines["Examples"] = loaded.text()
    return lines


def _print_banner(settings: Settings, lines: dict[str, str], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"data_dir": str(settings.data_dir.resolve()), **lines}), flush=True)
        return
    key_file = lines.pop("Key file")
    text = "\n".join(f"  {f'{label}:':<13} {value}" for label, value in lines.items())
    text = text.replace(lines["Admin key"], f"{lines['Admin key']}\n                (kept in {key_file}; "
                                            "send it as the X-API-Key header)", 1)
    print(f"""
Stagecoach is running (data in {settings.data_dir.resolve()}/).
{text}
Press Ctrl-C to stop; processes resume where they were on the next `make run`.
""", flush=True)


def _set_retention(settings: Settings, env: dict[str, str]) -> None:
    """The dev server's namespace keeps closed runs `TEMPORAL_RETENTION_HOURS` (its own default is 24 h)."""
    done = subprocess.run([str(BIN / "temporal"), "operator", "namespace", "update", "--namespace",
                           settings.temporal_namespace, "--retention", f"{settings.temporal_retention_hours}h",
                           "--address", settings.temporal_address], env=env, capture_output=True, timeout=30)
    if done.returncode != 0:
        print(f"Temporal's retention not set: {done.stderr.decode(errors='replace').strip()}", file=sys.stderr)



RESTARTS, RESTART_WINDOW_SECONDS = 3, 60.0


def _supervise(procs: list[subprocess.Popen[bytes]], parts: list[tuple[str, Callable[[], subprocess.Popen[bytes]]]]
               ) -> int:
    """Keep the parts running: one that stops (killed, out of memory) is started again, and says so; the others
    keep answering meanwhile, and the processes it ran resume where they were. A part that stops more than
    `RESTARTS` times within a minute stops everything (1): something is wrong that a restart does not mend."""
    stops: dict[str, list[float]] = {name: [] for name, _ in parts}
    while True:
        time.sleep(0.5)
        for n, (name, start) in enumerate(parts):
            proc = procs[n]
            if proc.poll() is None:
                continue
            how = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
                   else f"exited with code {proc.returncode}")
            now = time.monotonic()
            stops[name] = [t for t in stops[name] if now - t < RESTART_WINDOW_SECONDS] + [now]
            if len(stops[name]) > RESTARTS:
                print(f"{name} (pid {proc.pid}) {how}, its {len(stops[name])}th stop within a minute: stopping "
                      "everything (its last lines above, or data/temporal.log, say why). Waiting processes are "
                      "kept: `make run` resumes them.", file=sys.stderr, flush=True)
                return 1
            print(f"{name} (pid {proc.pid}) {how}: starting it again (processes resume where they were).",
                  file=sys.stderr, flush=True)
            try:
                procs[n] = start()
            except SystemExit as exc:  # the Temporal server did not come back
                print(f"{name} could not be started again: {exc}. Stopping everything.", file=sys.stderr, flush=True)
                return 1


def run_embedded(settings: Settings, ui_port: int, with_examples: bool = True, as_json: bool = False) -> int:
    if busy := busy_ports(settings, ui_port):
        print("Stagecoach cannot start:\n  " + "\n  ".join(busy), file=sys.stderr)
        return 2
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
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops everything, even if started with it ignored
    temporal_log = (settings.data_dir / "temporal.log").open("ab")

    def start_temporal() -> subprocess.Popen[bytes]:
        """The dev server, once it listens (stopped again if it does not, or on Ctrl-C meanwhile). It picks its HTTP
        API's and metrics' ports itself, free when picked: one taken by another program before it binds it ends it
        at once, and it is started again (up to three times)."""
        log = Path(temporal_log.name)
        for attempt in range(3):
            temporal_log.flush()
            begun = log.stat().st_size
            temporal = subprocess.Popen([
                str(BIN / "temporal"), "server", "start-dev", "--db-filename", str(settings.data_dir / "temporal.db"),
                "--ip", host, "--port", port, "--ui-port", str(ui_port), "--namespace", settings.temporal_namespace,
                "--log-level", "warn", *search_attributes.cli_flags()], env=env,
                stdout=temporal_log, stderr=subprocess.STDOUT,  # its shutdown warnings in its log, not the terminal
                process_group=0)  # Ctrl-C reaches the terminal's process group: Temporal stops last, from stop()
            try:
                _wait_for_port(host, int(port), 60, temporal, log)
                return temporal
            except SystemExit:
                temporal.kill()
                if attempt < 2 and _lost_a_port(log, begun):
                    continue
                raise
            except BaseException:
                temporal.kill()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    try:
        procs.append(start_temporal())
        _set_retention(settings, env)
        upgrade_database(settings.database_url)
        key = ensure_admin_key(settings)
        password = asyncio.run(_ensure_console_admin(settings))
        parts: dict[str, Callable[[], subprocess.Popen[bytes]]] = {
            "the Temporal dev server": start_temporal,
            "the worker": lambda: subprocess.Popen([sys.executable, "-m", "worker"], env=env),
            "the API": lambda: subprocess.Popen(api_command(settings.api_host, settings.api_port), env=env)}
        procs.extend((parts["the worker"](), parts["the API"]()))
        _wait_ready(settings.public_url, 90, procs)
        (settings.data_dir / URL_FILE).write_text(settings.public_url + "\n")
        loaded = (load_examples(ApiClient(settings.public_url, key), examples_in(settings.locale))
                  if with_examples else None)
        _print_banner(settings, _banner(settings, key, loaded, password), as_json)
        return _supervise(procs, list(parts.items()))
    except KeyboardInterrupt:
        print("\nStopping: the API, the worker (its running steps finish), then Temporal...", flush=True)
        stop()
        print("Stopped. Processes resume where they were on the next `make run`.", flush=True)
        return 0
    finally:
        stop()
        temporal_log.close()
