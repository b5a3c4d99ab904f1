"""Backup and restore as docs/deployment.md tells an operator: stop the API and the worker, back up
Temporal's database and Stagecoach's, start them again; later, restore both on new servers, and every
process goes on from where the backup left it, its email sent once."""

from __future__ import annotations

import shutil
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlmodel import select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from crm.db import make_engine, make_sessionmaker
from crm.models import Task, TaskStatus
from tests.conftest import POSTGRES_ADMIN_URL
from tests.factories import Factory
from tests.faults.conftest import Api, DevServer, create_template, process_state, serve_api, smtp_server, worker_process
from tests.polling import eventually

TEMPLATE = {"name": "Call, then thank", "controller_email": "controller@agency.example", "record_kind": "lead",
            "phases": [{"key": "call", "name": "Call the client", "completion": "manual"},
                       {"key": "thanks", "name": "Thank them", "actions": [{"send_email": {
                           "to": "record_contact", "subject": "Grazie, {{ record.title }}", "body": "A presto."}}]}]}


def back_up(database_url: str, temporal_db: Path, into: Path) -> None:
    """The commands of docs/deployment.md, "Backup and restore"."""
    into.mkdir()
    subprocess.run(["sqlite3", str(temporal_db), f".backup '{into / 'temporal.db'}'"], check=True)
    if database_url.startswith("sqlite"):
        subprocess.run(["sqlite3", database_url.split("///", 1)[1], f".backup '{into / 'stagecoach.db'}'"], check=True)
    else:
        subprocess.run(["pg_dump", "--format=custom", f"--file={into / 'stagecoach.dump'}",
                        database_url.replace("+psycopg", "")], check=True)


def restore(database_url: str, backup: Path, into: Path) -> str:
    """Temporal's file where the new server starts, Stagecoach's database under a new name: its URL."""
    into.mkdir()
    shutil.copy(backup / "temporal.db", into / "temporal.db")
    if database_url.startswith("sqlite"):
        shutil.copy(backup / "stagecoach.db", into / "stagecoach.db")
        return f"sqlite+aiosqlite:///{into / 'stagecoach.db'}"
    name = f"stagecoach_restored_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{database_url.rsplit('/', 1)[0]}/{name}"
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={url.replace('+psycopg', '')}",
                    str(backup / "stagecoach.dump")], check=True)
    return url


@asynccontextmanager
async def stagecoach(directory: Path, database_url: str, sessions: Any, server: DevServer, task_queue: str,
                     smtp_port: int) -> AsyncIterator[Api]:
    client = await Client.connect(server.address, data_converter=pydantic_data_converter)
    async with serve_api(sessions, client, database_url=database_url, task_queue=task_queue) as api, \
            worker_process(directory, database_url=database_url, temporal_address=server.address,
                           task_queue=task_queue, smtp_port=smtp_port):
        yield api


async def open_task(api: Api, workflow_id: str) -> int:
    """The id of the task the process waits on (once its step has reported it: the row comes a moment before)."""
    async def found() -> int | None:
        state = await process_state(api, workflow_id)
        return state["phases"][0]["task_id"] if state else None
    return await eventually(found, what="the phase's task is open")


async def complete_and_finish(api: Api, workflow_id: str) -> None:
    task_id = await open_task(api, workflow_id)
    done = await api.http.post(f"/tasks/{task_id}/complete", headers=api.staff, json={})
    assert done.status_code == 200, done.text

    async def completed() -> bool:
        state = await process_state(api, workflow_id)
        return state is not None and state["status"] == "completed"
    await eventually(completed, what="the process completes")


async def test_both_databases_backed_up_and_restored(database_url: str, sessions: Any, factory: Factory,
                                                     tmp_path: Path) -> None:
    task_queue = f"backup-{uuid.uuid4().hex[:8]}"
    live, backup = tmp_path / "live", tmp_path / "backup"
    live.mkdir()
    server = DevServer(live)
    owner = await factory.user()
    record = await factory.record(owner=owner, title="Casa Bianchi", email=f"{task_queue}@example.org")
    async with smtp_server() as mail:
        await server.start()
        try:
            async with stagecoach(live, database_url, sessions, server, task_queue, mail.port) as api:
                template = await create_template(api, {**TEMPLATE, "key": task_queue})
                started = await api.http.post("/processes", headers=api.staff,
                                              json={"template": template["key"], "record_id": record.id})
                assert started.status_code == 201, started.text
                workflow_id = started.json()["workflow_id"]
                await open_task(api, workflow_id)
            back_up(database_url, server.db, backup)  # the API and the worker are stopped; Temporal runs on
            async with stagecoach(live, database_url, sessions, server, task_queue, mail.port) as api:
                await complete_and_finish(api, workflow_id)  # the live installation goes on past the backup
        finally:
            server.stop(signal.SIGTERM)
        assert [d.message["Subject"] for d in mail.seen()] == ["Grazie, Casa Bianchi"]

        restored_url = restore(database_url, backup, tmp_path / "restored")
        engine = make_engine(restored_url)
        restored_sessions = make_sessionmaker(engine)
        server = DevServer(tmp_path / "restored")
        await server.start()
        try:
            async with stagecoach(tmp_path / "restored", restored_url, restored_sessions, server, task_queue,
                                  mail.port) as api:
                state = await process_state(api, workflow_id)
                assert state is not None and state["status"] == "running" and state["current_phase"] == "call"
                await complete_and_finish(api, workflow_id)
            async with restored_sessions() as session:
                [task] = (await session.exec(select(Task).where(Task.workflow_id == workflow_id))).all()
            assert task.status is TaskStatus.done
        finally:
            server.stop(signal.SIGTERM)
            await engine.dispose()
        # the restored installation sent its own email once: the one of the run it took back
        assert [d.message["Subject"] for d in mail.seen()] == ["Grazie, Casa Bianchi"] * 2
        assert len(set(mail.message_ids())) == 1  # the same message (its Message-ID is the step's), not a copy
