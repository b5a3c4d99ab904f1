"""A fresh deployment comes up usable: the migrate job's `stagecoach admin` commands make the first admin key,
and the API refuses to revoke the last admin key (it would lock everyone out for good)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from typer.testing import CliRunner, Result

from api.app import create_app
from api.auth import create_key
from crm.db import make_engine, make_sessionmaker
from crm.migrate import upgrade_database
from crm.models import ApiRole
from cli.main import app
from settings import Settings, get_settings
from tests.conftest import ON_CI, POSTGRES_ADMIN_URL, _postgres_reachable
from tests.serving import free_port, serving

BIN = Path(sys.executable).parent
BOOTSTRAP_KEY = "bootstrap-" + "k3y_Of+the/operator=" * 2


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nobody has migrated yet, as a new deployment finds it."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'stagecoach.db'}"
        return
    if not _postgres_reachable():
        if ON_CI:
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}, and CI must test it")
        pytest.skip("PostgreSQL is not reachable")
    name = f"stagecoach_boot_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`stagecoach admin ...` as the compose file's migrate job runs it: configured by the environment only."""
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([str(BIN / "stagecoach"), "admin", *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def admin_here(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`stagecoach admin ...` in this process (quicker than a subprocess), on the empty database."""
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    get_settings.cache_clear()

    def run(*args: str) -> Result:  # in a thread: the command runs an event loop of its own
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(CliRunner().invoke, app, ["admin", *args]).result()

    yield run
    get_settings.cache_clear()


async def test_the_migrate_job_makes_the_first_admin_key_from_the_secret_file(
        empty_database_url: str, tmp_path: Path, dev_env: Any) -> None:
    secret = tmp_path / "stagecoach_admin_api_key"
    secret.write_text(BOOTSTRAP_KEY + "\n")
    assert admin(empty_database_url, "migrate").returncode == 0
    created = admin(empty_database_url, "create-key", "--key-file", str(secret))
    assert created.returncode == 0, created.stderr
    assert BOOTSTRAP_KEY not in created.stdout  # the operator has the key already; logs never show it

    port = free_port()
    async with serving(create_app(Settings(database_url=empty_database_url, api_port=port),
                                  temporal=dev_env.client), port), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        boot = {"X-API-Key": BOOTSTRAP_KEY}
        keys = (await http.get("/api-keys", headers=boot)).json()
        assert [(k["name"], k["role"]) for k in keys] == [("bootstrap admin", "admin")]

        refused = await http.delete(f"/api-keys/{keys[0]['id']}", headers=boot)
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"] == "LastAdminKey"
        assert "last admin key" in refused.json()["detail"]
        assert (await http.get("/api-keys", headers=boot)).status_code == 200  # nothing changed

        second = (await http.post("/api-keys", headers=boot, json={"name": "ops", "role": "admin"})).json()
        assert (await http.delete(f"/api-keys/{keys[0]['id']}", headers=boot)).status_code == 200
        assert (await http.get("/api-keys", headers=boot)).status_code == 401
        ops = {"X-API-Key": second["key"]}
        assert (await http.delete(f"/api-keys/{second['id']}", headers=ops)).json()["type"] == "LastAdminKey"

        # the migrate job runs again at the next `docker compose up`: the revoked key stays revoked
        again = admin(empty_database_url, "create-key", "--key-file", str(secret))
        assert again.returncode == 0 and "revoked" in again.stdout
        assert (await http.get("/api-keys", headers=boot)).status_code == 401


async def test_without_a_file_the_key_is_generated_and_shown_once(admin_here: Any) -> None:
    assert admin_here("migrate").exit_code == 0
    first = admin_here("create-key", "--if-no-admin")
    assert first.exit_code == 0 and "shown this once" in first.stdout
    key = first.stdout.strip().splitlines()[-1]
    assert key.startswith("sc_")
    second = admin_here("create-key", "--if-no-admin")
    assert second.exit_code == 0 and "nothing created" in second.stdout and key not in second.stdout


def test_a_key_file_that_cannot_be_a_key_is_refused_and_nothing_is_stored(admin_here: Any, tmp_path: Path) -> None:
    assert admin_here("migrate").exit_code == 0
    (tmp_path / "short").write_text("password\n")
    for path in (tmp_path / "short", tmp_path / "missing"):
        result = admin_here("create-key", "--key-file", str(path))
        assert result.exit_code == 2 and f"--key-file {path}" in result.stderr
    generated = admin_here("create-key", "--if-no-admin")
    assert "API key 1 " in generated.stdout  # the refused files stored nothing


async def test_two_admins_revoking_each_other_at_once_leave_one(empty_database_url: str, dev_env: Any) -> None:
    if empty_database_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer and the embedded stack one admin: the race is PostgreSQL's")
    upgrade_database(empty_database_url)
    engine = make_engine(empty_database_url)
    async with make_sessionmaker(engine)() as session:
        keys = [(await create_key(session, f"admin {i}", ApiRole.admin))[1] for i in (1, 2)]
    await engine.dispose()
    port = free_port()
    async with serving(create_app(Settings(database_url=empty_database_url, api_port=port),
                                  temporal=dev_env.client), port), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        answers = await asyncio.gather(*(http.delete(f"/api-keys/{key_id}", headers={"X-API-Key": key})
                                         for key_id, key in ((2, keys[0]), (1, keys[1]))))
        # the loser is refused: as the last admin key's revoker (409), or, when the winner's revocation of its key
        # was committed before its request was authenticated, as a revoked key (401)
        codes = sorted(a.status_code for a in answers)
        assert codes in ([200, 401], [200, 409]), codes
        survivor = keys[0] if answers[0].status_code == 200 else keys[1]
        listed = await http.get("/api-keys", headers={"X-API-Key": survivor}, params={"limit": 500})
        assert listed.status_code == 200, listed.text
        assert sum(1 for k in listed.json() if k["role"] == "admin" and not k.get("revoked_at")) == 1
