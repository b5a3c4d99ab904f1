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

import asyncio
import csv
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.access import Viewer
from crm.cases.models import CaseClosure, CaseParticipant
from crm.cases.store import set_tags
from crm.imports.cells import imported_cell, spreadsheet_row
from crm.imports.models import ImportJob, ImportKind, ImportMode, ImportStatus
from crm.imports.reading import FileUnreadable, rows
from crm.imports.rows import RowChecker, RowError
from crm.models import HistoryEntry, HistoryKind, Record, RecordAccess, RecordEvent, RecordEventKind
from crm.private_files import private_file
from crm.record_events import add_record_events
from crm.types import utcnow
from processes.history_words import history_text
from processes.template_basics import RecordKind

MAX_ERRORS = 1000
BATCH = 1000
BEAT_SECONDS = 5  # the heartbeat's period at most (crm/imports/sweep.py)
log = logging.getLogger("stagecoach.imports")
_EVENT = RecordEvent.__table__  # type: ignore[attr-defined]

Hook = Callable[[int], Awaitable[None]]  # called after each batch written (tests interrupt an import here)


@dataclass
class Progress:
    rows_read: int = 0
    rows_invalid: int = 0
    rows_written: int = 0
    errors: list[str] = field(default_factory=list)


PROGRESS: dict[int, Progress] = {}  # job id -> how far its open transaction got


async def _finish(sessions: async_sessionmaker[AsyncSession], job_id: int, **values: Any) -> None:
    """End a job that wrote nothing, unless it ended already (the sweep may have given it up: crm/imports/sweep.py)."""
    async with sessions() as session:
        await session.exec(unless_ended(job_id).values(finished_at=utcnow(), **values))  # type: ignore[call-overload]
        await session.commit()


RUNNING = (ImportStatus.validating, ImportStatus.importing)
# why a job wrote nothing (its `detail`: English over the API, read back in the office's language by the console)
UNREADABLE = "{reason}: nothing was written"  # the reason: `FileUnreadable`'s
STOPPED = "stopped ({error}): nothing was written"


def unless_ended(job_id: int) -> sa.Update:
    """An update of the job while it runs (validating or importing): of two endings, the first wins."""
    return sa.update(ImportJob).where(col(ImportJob.id) == job_id, col(ImportJob.status).in_(RUNNING))


async def run_import(sessions: async_sessionmaker[AsyncSession], job_id: int, path: Path, rejected: Path,
                     viewer: Viewer, actor: str, after_batch: Hook | None = None, locale: str = "en") -> None:
    """Run the import job (its history lines, a case's, in the language of `locale`: the office's, LOCALE)."""
    progress = PROGRESS.setdefault(job_id, Progress())
    try:
        if not await _run(sessions, job_id, path, rejected, viewer, actor, progress, after_batch, locale):
            await _finish(sessions, job_id, status=ImportStatus.refused, rows_written=0, rows_read=progress.rows_read,
                          rows_invalid=progress.rows_invalid, errors=progress.errors,
                          detail=f"{progress.rows_invalid} invalid row(s): nothing was written (mode all_or_nothing)")
    except FileUnreadable as exc:
        await _finish(sessions, job_id, status=ImportStatus.failed, detail=UNREADABLE.format(reason=exc))
    except BaseException as exc:  # a crash or a cancellation: the transaction was rolled back
        log.exception("import %s failed", job_id)
        await _finish(sessions, job_id, status=ImportStatus.failed, rows_written=0,
                      detail=STOPPED.format(error=type(exc).__name__))
        if not isinstance(exc, Exception):
            raise
    finally:
        PROGRESS.pop(job_id, None)
        heartbeat(path).unlink(missing_ok=True)
        path.unlink(missing_ok=True)  # read: the office's contacts are not kept in a file longer than needed


def heartbeat(path: Path) -> Path:
    """The file a running import touches as it reads its rows (how far it got): the sweep's sign of life."""
    return path.with_suffix(".progress")


def _beat(path: Path, progress: Progress) -> None:
    heartbeat(path).write_text(json.dumps({"rows_read": progress.rows_read, "rows_invalid": progress.rows_invalid,
                                           "rows_written": progress.rows_written}))


async def _run(sessions: async_sessionmaker[AsyncSession], job_id: int, path: Path, rejected: Path, viewer: Viewer,
               actor: str, progress: Progress, after_batch: Hook | None, locale: str) -> bool:
    """Check and write every row in one transaction, committed with the job's `done` (so a job is `done` exactly
    when its rows are written); False when rows were invalid and nothing is written (mode all_or_nothing)."""
    async with sessions() as session:
        start = unless_ended(job_id).values(status=ImportStatus.importing)
        started = await session.exec(start)  # type: ignore[call-overload]
        await session.commit()  # the status; from here on one transaction
        if started.rowcount != 1:  # ended before it started (the sweep gave it up): nothing to do
            return True
        job = await session.get(ImportJob, job_id)
        assert job is not None and job.id is not None
        all_or_nothing = job.mode is ImportMode.all_or_nothing
        _beat(path, progress)
        beaten = time.monotonic()
        writes = _Writes(session, job.kind, actor, viewer.user_id, progress, after_batch, locale)
        checker = RowChecker(session, job.kind, job.columns, job.mapping, viewer, before_query=writes.settle)
        batch: list[dict[str, Any]] = []
        try:
            with private_file(rejected, "w", newline="", encoding="utf-8-sig") as out:  # with a BOM, as an export
                writer = csv.writer(out, delimiter=job.delimiter)
                writer.writerow(spreadsheet_row([*job.columns, "reason"]))
                for line, values in rows(path, job.encoding, job.delimiter):
                    progress.rows_read += 1
                    if progress.rows_read % BATCH == 0 and time.monotonic() - beaten > BEAT_SECONDS:
                        _beat(path, progress)
                        beaten = time.monotonic()
                    try:
                        checked = await checker.check(values)
                    except RowError as exc:
                        progress.rows_invalid += 1
                        message = f"row {line}, {exc}"
                        if len(progress.errors) < MAX_ERRORS:
                            progress.errors.append(message)
                        # each cell as the import read it, kept from running: sent back fixed, it reads the same; the
                        # reason under `reason` whatever the row's width (a short row padded, a long one's extra values
                        # after it)
                        cells = [*map(imported_cell, values), *[""] * (len(job.columns) - len(values))]
                        writer.writerow(spreadsheet_row([*cells[:len(job.columns)], message,
                                                         *cells[len(job.columns):]]))
                        continue
                    if all_or_nothing and progress.rows_invalid:
                        continue  # nothing will be written: only checking now
                    batch.append(checked)
                    if len(batch) >= BATCH:
                        await writes.start(batch)
                        batch = []
            if batch and not (all_or_nothing and progress.rows_invalid):
                await writes.start(batch)
            await writes.settle()
        finally:
            await writes.drain()
        if all_or_nothing and progress.rows_invalid:
            await session.rollback()
            return False
        invalid = f", {progress.rows_invalid} rejected" if progress.rows_invalid else ""
        ended = await session.exec(unless_ended(job_id).values(  # type: ignore[call-overload]
            status=ImportStatus.done, rows_read=progress.rows_read, rows_invalid=progress.rows_invalid,
            rows_written=progress.rows_written, errors=progress.errors, finished_at=utcnow(),
            detail=f"{progress.rows_written} row(s) written{invalid}"))
        if ended.rowcount != 1:  # given up by the sweep meanwhile: it said nothing was written, so nothing is
            await session.rollback()
            return True
        await session.commit()
        return True


class _Writes:
    """The batches written while the next one is checked: the database works (its driver's thread, or the
    server) while Python checks rows. One batch at most is in flight; anything else that uses the session
    (a look-up of the checker, the commit) settles it first, and its error is raised there."""

    def __init__(self, session: AsyncSession, kind: ImportKind, actor: str, actor_user_id: int | None,
                 progress: Progress, after_batch: Hook | None, locale: str) -> None:
        self.session, self.kind, self.actor, self.actor_user_id = session, kind, actor, actor_user_id
        self.locale = locale
        self.progress, self.after_batch = progress, after_batch
        self.pending: asyncio.Task[int] | None = None

    async def start(self, batch: list[dict[str, Any]]) -> None:
        await self.settle()
        self.pending = asyncio.ensure_future(_write(self.session, self.kind, batch, self.actor, self.actor_user_id,
                                                     self.locale))
        if self.session.bind.dialect.name == "sqlite":
            # SQLite's driver thread binds each row holding the GIL: checking meanwhile only makes both wait
            await self.settle()

    async def settle(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self.progress.rows_written += await pending
            if self.after_batch is not None:
                await self.after_batch(self.progress.rows_written)

    async def drain(self) -> None:
        """After an error: let the batch in flight end before the session rolls back."""
        if self.pending is not None:
            await asyncio.wait({self.pending})
            if not self.pending.cancelled():
                self.pending.exception()  # retrieved: the error that counts was raised already
            self.pending = None


async def _write(session: AsyncSession, kind: ImportKind, batch: list[dict[str, Any]], actor: str,
                 actor_user_id: int | None, locale: str) -> int:
    """Write a batch of checked rows with the `created` record event of each (autostart, a pipeline's on-enter)."""
    now = utcnow()
    if kind is ImportKind.contacts:
        connection = await session.connection()  # Core's executemany: the ORM's bulk path costs a third more
        access = [values.pop("access_user_ids") for values in batch]
        for values in batch:
            values["created_at"] = values["updated_at"] = now
        ids = await _insert_records(connection, batch)
        if listed := [{"record_id": record_id, "user_id": user_id}
                      for record_id, users in zip(ids, access, strict=True) for user_id in users]:
            await connection.execute(sa.insert(RecordAccess), listed)
        # each record's `created` event, as the API writes it (crm/record_events.py), made by the database from the
        # rows just written: one statement a batch instead of a row each
        events = sa.select(col(Record.id), sa.literal(RecordEventKind.created, _EVENT.c.kind.type), col(Record.status),
                           col(Record.visit), sa.literal([], _EVENT.c.fields.type), sa.literal(actor[:200]),
                           sa.literal(actor_user_id, _EVENT.c.actor_user_id.type),
                           sa.literal(now, _EVENT.c.created_at.type)).where(_among(connection, ids))
        await connection.execute(sa.insert(RecordEvent).from_select(
            ["record_id", "kind", "status", "visit", "fields", "actor", "actor_user_id", "created_at"], events))
        return len(batch)
    for values in batch:
        case = Record(kind=RecordKind.case, title=values["name"], owner_id=values["owner_id"],
                      restricted=values["restricted"], created_at=now, updated_at=now)
        session.add(case)
        await session.flush()
        assert case.id is not None
        session.add_all(RecordAccess(record_id=case.id, user_id=user_id) for user_id in values["access_user_ids"])
        if values["closed"]:  # an export of a closed case imports back closed
            session.add(CaseClosure(case_id=case.id, closed_at=now, closed_by=actor[:200]))
        add_record_events(session, None, case, actor=actor, actor_user_id=actor_user_id)
        session.add(HistoryEntry(record_id=case.id, kind=HistoryKind.case_created, actor=actor,
                                 text=history_text(locale, "case_imported", title=case.title)))
        for contact_id in values["participant_ids"]:
            session.add(CaseParticipant(case_id=case.id, contact_id=contact_id, added_by=actor))
        if values["tags"]:
            await set_tags(session, case.id, values["tags"])
    await session.flush()
    return len(batch)


async def _insert_records(connection: AsyncConnection, batch: list[dict[str, Any]]) -> list[int]:
    """Insert the rows; their ids. SQLite returns them (RETURNING costs nothing there); PostgreSQL takes them from
    the sequence first, as psycopg parses a many-row INSERT ... RETURNING in Python (three times the insert's time)."""
    if connection.dialect.name != "postgresql":
        return list((await connection.execute(sa.insert(Record).returning(col(Record.id)), batch)).scalars())
    sequence = sa.func.nextval(sa.func.pg_get_serial_sequence("record", "id"))
    ids = list((await connection.execute(sa.select(sequence).select_from(sa.func.generate_series(1, len(batch)))))
               .scalars())
    for values, record_id in zip(batch, ids, strict=True):
        values["id"] = record_id
    await connection.execute(sa.insert(Record), batch)
    return ids


def _among(connection: AsyncConnection, ids: list[int]) -> sa.ColumnElement[bool]:
    if connection.dialect.name == "postgresql":  # one array parameter, not a thousand
        return col(Record.id) == sa.any_(sa.literal(ids, postgresql.ARRAY(sa.Integer)))
    return col(Record.id).in_(ids)
