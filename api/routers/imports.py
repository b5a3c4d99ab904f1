"""CSV import of contacts and cases as a job, its status and rejected rows; CSV export.

`POST /imports/{kind}` takes the file as the body (`text/csv`, up to MAX_IMPORT_BYTES), streams it to
DATA_DIR/imports, reads its header (the encoding and the delimiter detected unless given), checks the
mapping of its columns to fields, and answers `202` with the job; the rows are checked and written in the
background (crm/imports/run.py). A job is seen by the key that sent it and admins. A body that says it is no CSV
(JSON, a form: `curl -F` sends the file inside a multipart form, whose boundary lines would be read as rows) is
415 before it is read.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from api.admission import large_body
from api.auth import Principal
from api.deps import SessionDep, SettingsDep, StaffDep
from api.routers.records import events_recorded
from crm.access import sees_everything
from crm.imports import reading
from crm.imports.models import ImportJob, ImportJobPublic, ImportKind, ImportMode, ImportStatus
from crm.imports.rows import default_mapping, mapping_errors
from crm.imports.run import PROGRESS, run_import
from crm.imports.sweep import rejected_kept, remove_old_files, sweep_stale_imports
from crm.private_files import private_file, private_folder
from processes.errors import ErrorDetail, ImportInvalid, ImportNotFound, StagecoachError
from settings import Settings

router = APIRouter(prefix="/imports", tags=["imports"])
# what a CSV is sent as (a browser, Excel's own, or none said)
CSV_TYPES = {"", "text/csv", "text/plain", "application/csv", "text/comma-separated-values", "application/vnd.ms-excel",
             "application/octet-stream"}


class ImportNotCsv(StagecoachError):
    status = 415


def _csv_body(content_type: str) -> None:
    """ImportNotCsv unless the body is sent as a CSV (or as nothing in particular)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind.startswith("multipart/"):
        raise ImportNotCsv("send the CSV file itself as the body (curl --data-binary @file.csv -H 'Content-Type: "
                           "text/csv'), not inside a form (multipart/form-data)")
    if kind not in CSV_TYPES:
        raise ImportNotCsv(f"the body must be the CSV file itself, with Content-Type: text/csv (it came as {kind})")
Encoding = Literal["auto", "utf-8", "utf-8-sig", "windows-1252"]
Delimiter = Literal["auto", ";", ","]
log = logging.getLogger("stagecoach.imports")
CHUNK = 1 << 16


async def sweep_forever(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """The API's sweep of the import jobs a stopped API left behind, and of the files no longer needed
    (crm/imports/sweep.py), now and then."""
    while True:
        try:
            await sweep_stale_imports(sessions, _folder(settings), timedelta(seconds=settings.import_stale_seconds))
            await remove_old_files(sessions, _folder(settings), settings.import_rejected_days)
        except Exception as exc:  # the database away, or locked by an import under way (SQLite): next time
            log.warning("the sweep of stale imports failed (%s: %s); it runs again in %s s", type(exc).__name__,
                        str(exc)[:500], settings.import_sweep_seconds)
        await asyncio.sleep(settings.import_sweep_seconds)


def _folder(settings: Settings) -> Path:
    return private_folder(settings.data_dir / "imports")  # the office's contacts


def public(job: ImportJob, settings: Settings) -> ImportJobPublic:
    """The job as answered; its rejected rows' address while they are kept (IMPORT_REJECTED_DAYS)."""
    public = ImportJobPublic.model_validate(job, from_attributes=True)
    if (progress := PROGRESS.get(job.id or 0)) is not None:  # running in this process: its transaction is open
        public.rows_read, public.rows_invalid = progress.rows_read, progress.rows_invalid
        public.rows_written, public.errors = progress.rows_written, list(progress.errors)
    if _rejected(job) and rejected_kept(job, settings.import_rejected_days):
        public.rejected_url = f"/imports/{job.id}/rejected"
    return public


def _rejected(job: ImportJob) -> bool:
    """Whether the job ended with rejected rows (written to DATA_DIR/imports/{id}.rejected.csv)."""
    return job.status in (ImportStatus.done, ImportStatus.refused) and bool(job.rows_invalid)


def _mapping(text: str | None) -> dict[str, str] | None:
    if text is None:
        return None
    try:
        mapping = json.loads(text)
    except ValueError as exc:
        raise ImportInvalid("mapping is not JSON", details=[ErrorDetail("query.mapping", str(exc))]) from None
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise ImportInvalid("mapping must be a JSON object of column names to field names",
                            details=[ErrorDetail("query.mapping", 'e.g. {"E-mail": "email", "Nome": "title"}')])
    return mapping


@router.post("/{kind}", status_code=202, response_model=ImportJobPublic)
@large_body
async def start_import(
    kind: ImportKind, request: Request, session: SessionDep, settings: SettingsDep, principal: StaffDep,
    mode: ImportMode = ImportMode.all_or_nothing,
    encoding: Encoding = "auto", delimiter: Delimiter = "auto",
    mapping: Annotated[str | None, Query(max_length=10_000, description="JSON: column -> field; by the "
                                         "columns' names when empty")] = None,
) -> ImportJobPublic:
    """Import a CSV of contacts or cases (the body, `text/csv`). Every row is checked first; with
    `mode=all_or_nothing` (the default) nothing is written unless all are valid, with `mode=valid_rows` the
    valid ones are and the others come back from `GET /imports/{id}/rejected` with a reason column."""
    _csv_body(request.headers.get("content-type", ""))
    wanted = _mapping(mapping)
    job = await receive(session, settings, principal, kind, mode, request.stream(), encoding, delimiter)
    await launch(request, session, settings, principal, job, wanted, "query.mapping")
    return public(job, settings)


async def receive(session: SessionDep, settings: Settings, principal: Principal, kind: ImportKind, mode: ImportMode,
                  chunks: AsyncIterator[bytes], encoding: Encoding = "auto",
                  delimiter: Delimiter = "auto") -> ImportJob:
    """A job for the file: kept in DATA_DIR/imports as it arrives, its encoding, delimiter and columns read; a file
    whose header cannot be read is refused. (The console then shows its columns to map: `launch` starts it.)"""
    job = ImportJob(kind=kind, mode=mode, api_key_id=principal.key_id,
                    user_id=principal.user_id if principal.key_id is None else None)
    session.add(job)
    await session.commit()
    path = _folder(settings) / f"{job.id}.csv"
    with private_file(path, "wb") as file:
        async for chunk in chunks:
            file.write(chunk)
    try:
        job.encoding = reading.detect_encoding(path) if encoding == "auto" else encoding
        job.columns, job.delimiter = reading.header(path, job.encoding, None if delimiter == "auto" else delimiter)
    except reading.FileUnreadable as exc:
        await _refuse(session, job, path, str(exc), [ErrorDetail("body", str(exc))], exc.wording)
    session.add(job)
    await session.commit()
    return job


async def launch(request: Request, session: SessionDep, settings: Settings, principal: Principal, job: ImportJob,
                 mapping: dict[str, str] | None, where: str) -> None:
    """Check the mapping of the file's columns (by their names when None) and start reading its rows."""
    assert job.id is not None
    path = _folder(settings) / f"{job.id}.csv"
    job.mapping = mapping if mapping is not None else default_mapping(job.kind, job.columns)
    if errors := mapping_errors(job.kind, job.columns, job.mapping, by_name=mapping is None):
        await _refuse(session, job, path, errors[0], [ErrorDetail(where, e) for e in errors])
    session.add(job)
    await session.commit()
    task = asyncio.create_task(_import(request, settings, job.id, path, principal))
    jobs: set[asyncio.Task[None]] = request.app.state.__dict__.setdefault("import_tasks", set())
    jobs.add(task)
    task.add_done_callback(jobs.discard)


async def _import(request: Request, settings: Settings, job_id: int, path: Path, principal: Principal) -> None:
    """The import, then a signal to the record-events dispatcher: its records' events go out now (autostart)."""
    await run_import(request.app.state.sessions, job_id, path, path.with_suffix(".rejected.csv"), principal,
                     principal.actor, locale=settings.locale)
    await events_recorded(request.app.state.temporal, settings, None)


async def _refuse(session: SessionDep, job: ImportJob, path: Path, detail: str, errors: list[ErrorDetail],
                  wording: tuple[str, dict[str, str]] | None = None) -> None:
    """Refuse the file or its mapping (422): nothing is kept, no job left in the list, the file removed."""
    await session.delete(job)
    await session.commit()
    path.unlink(missing_ok=True)
    raise ImportInvalid(detail, details=errors, wording=wording)


def sent_by(principal: Principal) -> Any:
    """The jobs `principal` sent: by its API key, or in the console by its user."""
    if principal.key_id is not None:
        return col(ImportJob.api_key_id) == principal.key_id
    return col(ImportJob.user_id) == principal.user_id


async def job_or_404(session: SessionDep, job_id: int, principal: Principal) -> ImportJob:
    job = await session.get(ImportJob, job_id)
    mine = job is not None and (job.api_key_id == principal.key_id if principal.key_id is not None
                                else job.user_id is not None and job.user_id == principal.user_id)
    if job is None or not (sees_everything(principal) or mine):
        raise ImportNotFound.worded("no import {id}", id=job_id)
    return job


@router.get("/{job_id}", response_model=ImportJobPublic)
async def get_import(job_id: int, session: SessionDep, settings: SettingsDep, principal: StaffDep) -> ImportJobPublic:
    """How far the import is: rows read, invalid (with the first 1,000 errors), written."""
    return public(await job_or_404(session, job_id, principal), settings)


@router.get("/{job_id}/rejected", response_class=FileResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "the rejected rows, with a reason column"}})
async def rejected_rows(job_id: int, session: SessionDep, settings: SettingsDep, principal: StaffDep) -> FileResponse:
    job = await job_or_404(session, job_id, principal)
    path = _folder(settings) / f"{job.id}.rejected.csv"
    if _rejected(job) and not rejected_kept(job, settings.import_rejected_days):
        raise ImportNotFound(f"the rejected rows of import {job_id} were removed {settings.import_rejected_days} days "
                             "after it ended (IMPORT_REJECTED_DAYS)")
    if job.status not in (ImportStatus.done, ImportStatus.refused) or not path.exists():
        raise ImportNotFound.worded("import {id} has no rejected rows (yet)", id=job_id)
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"import-{job_id}-rejected.csv")
