"""Running an import: the file read once, a row at a time, every row checked and written in one transaction.

Each row is checked as it is read; the valid ones are written in batches inside one transaction, the
invalid ones counted, the first 1,000 errors kept ("row 12, column email: ...") and every rejected row
written, with its reason, to a CSV beside the file. At the end of the file the transaction commits, unless
a row was invalid and the mode is `all_or_nothing`: then it is rolled back (writing stopped at the first
invalid row; the rest is still checked, so every error is listed) and the job ends `refused`. An error or a
crash half-way rolls all of it back. While the transaction is open the database holds it (SQLite admits one
writer), so the job's progress is kept in memory (`PROGRESS`) for the status route, and written to its row
at the end.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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
from processes.template_basics import RecordKind

MAX_ERRORS = 1000
BATCH = 1000
log = logging.getLogger("stagecoach.imports")

Hook = Callable[[int], Awaitable[None]]  # called after each batch written (tests interrupt an import here)


@dataclass
class Progress:
    rows_read: int = 0
    rows_invalid: int = 0
    rows_written: int = 0
    errors: list[str] = field(default_factory=list)


PROGRESS: dict[int, Progress] = {}  # job id -> how far its open transaction got


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
    progress = PROGRESS.setdefault(job_id, Progress())
    try:
        committed = await _run(sessions, job_id, path, rejected, viewer, actor, progress, after_batch)
        counts = {"rows_read": progress.rows_read, "rows_invalid": progress.rows_invalid, "errors": progress.errors}
        if not committed:
            await _finish(sessions, job_id, status=ImportStatus.refused, rows_written=0, **counts,
                          detail=f"{progress.rows_invalid} invalid row(s): nothing was written (mode all_or_nothing)")
            return
        invalid = f", {progress.rows_invalid} rejected" if progress.rows_invalid else ""
        await _finish(sessions, job_id, status=ImportStatus.done, rows_written=progress.rows_written, **counts,
                      detail=f"{progress.rows_written} row(s) written{invalid}")
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


async def _run(sessions: async_sessionmaker[AsyncSession], job_id: int, path: Path, rejected: Path, viewer: Viewer,
               actor: str, progress: Progress, after_batch: Hook | None) -> bool:
    """Check and write every row in one transaction; whether it was committed."""
    async with sessions() as session:
        job = await session.get(ImportJob, job_id)
        assert job is not None and job.id is not None
        all_or_nothing = job.mode is ImportMode.all_or_nothing
        job.status = ImportStatus.importing
        session.add(job)
        await session.commit()  # the status; from here on one transaction
        checker = RowChecker(session, job.kind, job.columns, job.mapping, viewer)
        batch: list[dict[str, Any]] = []
        with rejected.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, delimiter=job.delimiter)
            writer.writerow([*job.columns, "reason"])
            for line, values in rows(path, job.encoding, job.delimiter):
                progress.rows_read += 1
                try:
                    checked = await checker.check(values)
                except RowError as exc:
                    progress.rows_invalid += 1
                    message = f"row {line}, {exc}"
                    if len(progress.errors) < MAX_ERRORS:
                        progress.errors.append(message)
                    writer.writerow([*values, message])
                    continue
                if all_or_nothing and progress.rows_invalid:
                    continue  # nothing will be written: only checking now
                batch.append(checked)
                if len(batch) >= BATCH:
                    progress.rows_written += await _write(session, job.kind, batch, actor)
                    batch = []
                    if after_batch is not None:
                        await after_batch(progress.rows_written)
        if all_or_nothing and progress.rows_invalid:
            await session.rollback()
            return False
        if batch:
            progress.rows_written += await _write(session, job.kind, batch, actor)
        await session.commit()
        return True


async def _write(session: AsyncSession, kind: ImportKind, batch: list[dict[str, Any]], actor: str) -> int:
    now = utcnow()
    if kind is ImportKind.contacts:
        connection = await session.connection()  # Core's executemany: the ORM's bulk path costs a third more
        await connection.execute(sa.insert(Record), [
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
