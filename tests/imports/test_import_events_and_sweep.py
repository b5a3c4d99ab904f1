"""Imported records have their record events, as records made over the API do (autostart, a pipeline's on-enter);
an import whose API is killed half-way leaves nothing written, and the sweep marks its job failed."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import os
import signal
import sys
import textwrap
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from crm.imports.models import ImportJob, ImportKind, ImportMode, ImportStatus
from crm.imports.reading import header
from crm.imports.run import PROGRESS, Progress, heartbeat, run_import
from crm.imports.sweep import remove_old_files, sweep_stale_imports
from crm.imports.rows import CheckedContact, RowChecker, RowError
from crm.models import ApiRole, Record, RecordCreate, RecordEvent, RecordEventKind
from crm.types import utcnow
from tests.bad_input.conftest import Api
from tests.imports.test_csv_import import _import
from tests.pipelines.conftest import repair_pipeline, save


class Admin:
    role, user_id = ApiRole.admin, None


def test_a_row_is_checked_as_a_record_made_over_the_api() -> None:
    """The import's row model has RecordCreate's fields with their checks, and RecordCreate no validator method
    it would miss"""
    fields = {n: (f.annotation, f.metadata, f.default) for n, f in RecordCreate.model_fields.items()}
    del fields["access_user_ids"]
    assert {n: (f.annotation, f.metadata, f.default) for n, f in CheckedContact.model_fields.items()} == fields
    decorators = RecordCreate.__pydantic_decorators__
    assert not any(getattr(decorators, f.name) for f in dataclasses.fields(decorators))  # type: ignore[arg-type]


async def test_a_row_with_several_mistakes_reports_the_first_in_the_fields_order() -> None:
    """The email is checked apart (crm/imports/email_domains.py), yet the mistake reported is still the first in
    RecordCreate's order: title, then email, then phone"""
    columns = ["Nome", "Posta", "Tel"]
    checker = RowChecker(None, ImportKind.contacts, columns, {"Nome": "title", "Posta": "email", "Tel": "phone"},
                         Admin())  # type: ignore[arg-type]
    for values, column in ((["", "bad", "9" * 41], "Nome"), (["T", "bad", "9" * 41], "Posta"),
                           (["T", "a@example.org", "9" * 41], "Tel")):
        with pytest.raises(RowError) as refused:
            await checker.check(values)
        assert refused.value.column == column


async def _events(sessions: Any, record_ids: list[int]) -> list[RecordEvent]:
    async with sessions() as session:
        return list((await session.exec(select(RecordEvent).where(col(RecordEvent.record_id).in_(record_ids))
                                        .order_by(col(RecordEvent.record_id)))).all())


async def _records(sessions: Any, tag: str) -> list[Record]:
    async with sessions() as session:
        return list((await session.exec(select(Record).where(col(Record.title).contains(tag))
                                        .order_by(col(Record.id)))).all())


async def test_imported_contacts_and_cases_have_their_created_events(api: Api, sessions: Any) -> None:
    """Each imported contact and case has one `created` event with its status, as POST /records writes it; a
    contact of a type a pipeline lists starts in the type's initial status"""
    tag = uuid.uuid4().hex[:8]
    pipeline = repair_pipeline(tag, record_kind="contact")
    assert (await save(api, pipeline)).status_code == 201
    typed = f"Warranty repair {tag}"
    rows = [["title", "email", "type"]] + [[f"Person {n} {tag}", f"p{n}.{tag}@example.org", typed if n % 2 else ""]
                                           for n in range(1500)]
    body = "\n".join(";".join(r) for r in rows).encode()
    job = await _import(api, "contacts", body)
    assert job["status"] == "done" and job["rows_written"] == 1500, job
    records = await _records(sessions, tag)
    assert len(records) == 1500
    assert {r.status for r in records if r.type == typed} == {"Diagnosis"}  # the type's initial status
    assert {r.status for r in records if r.type == ""} == {"New"}
    events = await _events(sessions, [r.id for r in records if r.id is not None])
    assert [e.record_id for e in events] == [r.id for r in records]  # one each
    by_record = {r.id: r for r in records}
    assert all(e.kind is RecordEventKind.created and e.status == by_record[e.record_id].status and e.visit == 0
               and e.actor.startswith("key:") and e.dispatched_at is None and e.fields == [] for e in events)

    cases = await _import(api, "cases", f"name;tags\nCase A {tag};x\nCase B {tag};y|z\n".encode())
    assert cases["status"] == "done", cases
    made = [r for r in await _records(sessions, f"{tag}") if r.title.startswith("Case")]
    events = await _events(sessions, [r.id for r in made if r.id is not None])
    assert [(e.record_id, e.kind) for e in events] == [(r.id, RecordEventKind.created) for r in made]


async def _job(sessions: Any, api: Api, path: Path, mode: ImportMode = ImportMode.all_or_nothing) -> int:
    columns, delimiter = header(path, "utf-8", None)
    async with sessions() as session:
        job = ImportJob(kind=ImportKind.contacts, mode=mode, api_key_id=api.key_ids["admin"], encoding="utf-8",
                        delimiter=delimiter, columns=columns, mapping={c: c for c in columns})
        session.add(job)
        await session.commit()
        assert job.id is not None
        return job.id


def _write_contacts(path: Path, tag: str, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(["title", "email"])
        writer.writerows([f"Row {n} {tag}", f"r{n}.{tag}@example.org"] for n in range(count))


KILLED = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from crm.db import make_engine, make_sessionmaker
    from crm.imports.run import run_import
    from crm.models import ApiRole

    class Admin:
        role, user_id = ApiRole.admin, None

    async def stop(written):
        if written >= 2000:
            print("half-way", flush=True)
            await asyncio.sleep(3600)  # killed here, its transaction open

    async def main(url, job_id, path, actor):
        sessions = make_sessionmaker(make_engine(url))
        await run_import(sessions, job_id, path, path.with_suffix(".rejected.csv"), Admin(), actor, after_batch=stop)

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]))
""")


async def test_an_import_killed_half_way_leaves_nothing_and_the_sweep_fails_its_job(
        api: Api, sessions: Any, database_url: str, tmp_path: Path) -> None:
    """An API killed (SIGKILL) with 2,000 rows written in its open transaction: no record and no event is left, in
    either mode; the job stays `importing` until the sweep, past the grace period, marks it failed with the reason"""
    for mode in (ImportMode.all_or_nothing, ImportMode.valid_rows):
        tag = uuid.uuid4().hex[:8]
        path = tmp_path / f"{tag}.csv"
        _write_contacts(path, tag, 3500)
        job_id = await _job(sessions, api, path, mode)
        path = path.rename(tmp_path / f"{job_id}.csv")  # where the API keeps it: DATA_DIR/imports/{id}.csv
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", KILLED, database_url, str(job_id), str(path), f"killed-{tag}",
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
        assert child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), 120) == b"half-way\n"
        child.send_signal(signal.SIGKILL)
        await child.wait()

        async with sessions() as session:
            job = await session.get(ImportJob, job_id)
            assert job is not None and job.status is ImportStatus.importing
        assert await _records(sessions, tag) == []
        assert heartbeat(path).exists()
        # within the grace period, or with a recent heartbeat, it is left alone
        assert job_id not in await sweep_stale_imports(sessions, tmp_path, timedelta(hours=1))
        old = time.time() - 7200
        os.utime(heartbeat(path), (old, old))
        os.utime(path, (old, old))
        assert job_id not in await sweep_stale_imports(sessions, tmp_path, timedelta(minutes=10))  # created just now
        later = utcnow() + timedelta(hours=3)
        assert job_id in await sweep_stale_imports(sessions, tmp_path, timedelta(minutes=10), now=later)
        async with sessions() as session:
            job = await session.get(ImportJob, job_id)
            count = (await session.exec(sa.select(sa.func.count()).select_from(RecordEvent)  # type: ignore[call-overload]
                                        .where(RecordEvent.actor == f"killed-{tag}"))).one()[0]
        assert job is not None and job.status is ImportStatus.failed and job.finished_at is not None
        assert job.detail.startswith("interrupted: no progress since") and "nothing was written" in job.detail
        assert count == 0 and await _records(sessions, tag) == []
        assert not heartbeat(path).exists() and not path.with_suffix(".rejected.csv").exists()


async def test_the_sweep_leaves_running_and_ended_jobs_alone(api: Api, sessions: Any, tmp_path: Path) -> None:
    """A job running in this process, or one that ended, is never swept, however old"""
    tag = uuid.uuid4().hex[:8]
    path = tmp_path / "file.csv"
    _write_contacts(path, tag, 10)
    running, ended = await _job(sessions, api, path), await _job(sessions, api, path)
    await run_import(sessions, ended, path, tmp_path / "rejected.csv", Admin(), "test")
    async with sessions() as session:
        await session.exec(sa.update(ImportJob).where(col(ImportJob.id) == running)  # type: ignore[call-overload]
                           .values(status=ImportStatus.importing))
        await session.commit()
    PROGRESS[running] = Progress()
    try:
        swept = await sweep_stale_imports(sessions, tmp_path, timedelta(minutes=1), now=utcnow() + timedelta(days=1))
    finally:
        PROGRESS.pop(running)
    assert running not in swept and ended not in swept
    async with sessions() as session:
        statuses = {j.id: j.status for j in (await session.exec(
            select(ImportJob).where(col(ImportJob.id).in_([running, ended])))).all()}
    assert statuses == {running: ImportStatus.importing, ended: ImportStatus.done}
    # an import given up by the sweep before it started (stuck `validating`) writes nothing when it runs after all
    async with sessions() as session:
        await session.exec(sa.update(ImportJob).where(col(ImportJob.id) == running)  # type: ignore[call-overload]
                           .values(status=ImportStatus.failed, detail="given up"))
        await session.commit()
    late = tmp_path / "late.csv"
    _write_contacts(late, f"late{tag}", 5)
    await run_import(sessions, running, late, tmp_path / "rejected-late.csv", Admin(), "test")
    assert await _records(sessions, f"late{tag}") == []
    async with sessions() as session:
        job = await session.get(ImportJob, running)
        assert job is not None and job.status is ImportStatus.failed and job.detail == "given up"


async def test_an_imports_files_are_removed_once_no_longer_needed(api: Api, sessions: Any, tmp_path: Path) -> None:
    """The files hold the office's contacts and were kept for ever: the uploaded file goes as its import ends (the
    sweep removes one an API stopped before it could), the rejected rows once IMPORT_REJECTED_DAYS have passed;
    a running job's files and rejected rows still in time stay"""
    tag = uuid.uuid4().hex[:8]
    ended_file = tmp_path / "ended.csv"
    _write_contacts(ended_file, tag, 3)
    with ended_file.open("a", encoding="utf-8") as file:
        file.write(f"Row bad {tag};not an email\r\n")
    ended = await _job(sessions, api, ended_file, ImportMode.valid_rows)
    running = await _job(sessions, api, ended_file)
    stopped = await _job(sessions, api, ended_file)  # ended by the sweep, its upload left by a stopped API
    source, rejected = tmp_path / f"{ended}.csv", tmp_path / f"{ended}.rejected.csv"
    ended_file.rename(source)
    await run_import(sessions, ended, source, rejected, Admin(), "test")
    assert not source.exists() and rejected.exists()
    for job_id in (running, stopped):
        (tmp_path / f"{job_id}.csv").write_text("title\r\nx\r\n")
    async with sessions() as session:
        for job_id, status in ((running, ImportStatus.importing), (stopped, ImportStatus.failed)):
            await session.exec(sa.update(ImportJob).where(col(ImportJob.id) == job_id)  # type: ignore[call-overload]
                               .values(status=status))
        await session.commit()
        job = await session.get(ImportJob, ended)
        assert job is not None and job.status is ImportStatus.done and job.finished_at is not None
        finished = job.finished_at
    (tmp_path / "999999999.rejected.csv").write_text("no job of that id\r\n")

    assert sorted(p.name for p in await remove_old_files(sessions, tmp_path, 30, now=finished + timedelta(days=29))) \
        == sorted([f"{stopped}.csv", "999999999.rejected.csv"])
    assert rejected.exists() and (tmp_path / f"{running}.csv").exists()
    assert await remove_old_files(sessions, tmp_path, 30, now=finished + timedelta(days=31)) == [rejected]
    assert (tmp_path / f"{running}.csv").exists()
