"""Running an import: every row checked first (pass 1), then the rows written in one transaction (pass 2).

The file is read twice, a row at a time, never held whole. Pass 1 counts the invalid rows, keeps the first
1,000 errors ("row 12, column email: ...") and writes every rejected row, with its reason, to a CSV beside
the file. With errors and the mode `all_or_nothing` the job ends `refused` and nothing is written. Pass 2
writes in batches inside one transaction: an error or a crash half-way rolls all of it back. While pass 2
runs the database holds its transaction (SQLite admits one writer), so its progress is kept in memory
(`PROGRESS`) for the status route, and written to the job's row at its end.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.access import Viewer
from crm.cases.models import CaseParticipant
from crm.cases.store import set_tags
from crm.imports.models import ImportJob, ImportKind, ImportMode, ImportStatus
from crm.imports.reading import FileUnreadable, rows
from crm.imports.rows import RowChecker, RowError
from crm.models import HistoryEntry, HistoryKind, Record
from crm.types import utcnow
from processes.template import RecordKind

MAX_ERRORS = 1000
BATCH = 1000
PROGRESS: dict[int, int] = {}  # job id -> rows written so far in its open transaction
log = logging.getLogger("stagecoach.imports")

Hook = Callable[[int], Awaitable[None]]  # called after each batch written (tests interrupt an import here)


async def _finish(sessions: async_sessionmaker[AsyncSession], job_id: int, **values: Any) -> None:
    async with sessions() as session:
        job = await session.get(ImportJob, job_id)
        assert job is not None
        job.sqlmodel_update(values)
        if values.get("status") not in (ImportStatus.validating, ImportStatus.importing):
            job.finished_at = utcnow()
        session.add(job)
        await session.commit()


async def run_import(sessions: async_sessionmaker[AsyncSession], job_id: int, path: Path, rejected: Path,
                     viewer: Viewer, actor: str, after_batch: Hook | None = None) -> None:
    try:
        invalid = await _check_all(sessions, job_id, path, rejected, viewer)
        async with sessions() as session:
            job = await session.get(ImportJob, job_id)
            assert job is not None
        if invalid and job.mode is ImportMode.all_or_nothing:
            await _finish(sessions, job_id, status=ImportStatus.refused,
                          detail=f"{invalid} invalid row(s): nothing was written (mode all_or_nothing)")
            return
        await _finish(sessions, job_id, status=ImportStatus.importing)
        written = await _write_all(sessions, job, path, viewer, actor, after_batch)
        await _finish(sessions, job_id, status=ImportStatus.done, rows_written=written,
                      detail=f"{written} row(s) written" + (f", {invalid} rejected" if invalid else ""))
    except FileUnreadable as exc:
        await _finish(sessions, job_id, status=ImportStatus.failed, detail=f"{exc}: nothing was written")
    except BaseException as exc:  # a crash or a cancellation: the transaction was rolled back
        log.exception("import %s failed", job_id)
        await _finish(sessions, job_id, status=ImportStatus.failed, rows_written=0,
                      detail=f"stopped ({type(exc).__name__}): nothing was written")
        if not isinstance(exc, Exception):
            raise
    finally:
        PROGRESS.pop(job_id, None)


async def _check_all(sessions: async_sessionmaker[AsyncSession], job_id: int, path: Path, rejected: Path,
                     viewer: Viewer) -> int:
    read = invalid = 0
    errors: list[str] = []
    async with sessions() as session:
        job = await session.get(ImportJob, job_id)
        assert job is not None
        checker = RowChecker(session, job.kind, job.columns, job.mapping, viewer)
        with rejected.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, delimiter=job.delimiter)
            writer.writerow([*job.columns, "reason"])
            for line, values in rows(path, job.encoding, job.delimiter):
                read += 1
                try:
                    await checker.check(values)
                except RowError as exc:
                    invalid += 1
                    message = f"row {line}, {exc}"
                    if len(errors) < MAX_ERRORS:
                        errors.append(message)
                    writer.writerow([*values, message])
                if read % 10_000 == 0:
                    job.rows_read, job.rows_invalid, job.errors = read, invalid, list(errors)
                    session.add(job)
                    await session.commit()
        job.rows_read, job.rows_invalid, job.errors = read, invalid, errors
        session.add(job)
        await session.commit()
    return invalid


async def _write_all(sessions: async_sessionmaker[AsyncSession], job: ImportJob, path: Path, viewer: Viewer,
                     actor: str, after_batch: Hook | None) -> int:
    assert job.id is not None
    written = 0
    async with sessions() as session:  # one transaction: committed once, at the end
        checker = RowChecker(session, job.kind, job.columns, job.mapping, viewer)
        batch: list[dict[str, Any]] = []
        for _, values in rows(path, job.encoding, job.delimiter):
            try:
                batch.append(await checker.check(values))
            except RowError:
                continue  # rejected in pass 1
            if len(batch) >= BATCH:
                written += await _write(session, job.kind, batch, actor)
                batch = []
                PROGRESS[job.id] = written
                if after_batch is not None:
                    await after_batch(written)
        if batch:
            written += await _write(session, job.kind, batch, actor)
        await session.commit()
    return written


async def _write(session: AsyncSession, kind: ImportKind, batch: list[dict[str, Any]], actor: str) -> int:
    now = utcnow()
    if kind is ImportKind.contacts:
        await session.exec(sa.insert(Record), params=[  # type: ignore[call-overload]
            {**values, "created_at": now, "updated_at": now, "restricted": False} for values in batch])
        return len(batch)
    for values in batch:
        case = Record(kind=RecordKind.case, title=values["name"], owner_id=values["owner_id"])
        session.add(case)
        await session.flush()
        assert case.id is not None
        session.add(HistoryEntry(record_id=case.id, kind=HistoryKind.case_created, actor=actor,
                                 text=f"Case created: {case.title} (imported)"))
        for contact_id in values["participant_ids"]:
            session.add(CaseParticipant(case_id=case.id, contact_id=contact_id, added_by=actor))
        if values["tags"]:
            await set_tags(session, case.id, values["tags"])
    await session.flush()
    return len(batch)
