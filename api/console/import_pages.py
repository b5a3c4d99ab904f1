"""CSV imports in the console: sending a file, mapping its columns to fields, following its progress, reading its
errors ("row 12, column email: ...") and downloading the rows it rejected; and the export of contacts or cases
(`/console/imports/export?kind=...`: `GET /exports/{kind}` as the signed-in user), in the columns an import reads.

Through the API's own functions (api/routers/imports.py) as the signed-in user: the file is received as
`POST /imports/{kind}` receives it, then its columns are shown to map before its rows are read. A user sees the
imports they sent (admins every one). The upload form carries the session's CSRF token; its body may be as large
as MAX_IMPORT_BYTES (api.admission).
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Callable
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlmodel import col, select
from starlette.datastructures import UploadFile

from api.admission import body_limit
from api.console.i18n import translator
from api.console.import_errors_said import import_error_in
from api.console.refusals import not_found_page, refusal, said_in
from api.console.web import SignedInDep, form, principal, redirect, render, text
from api.deps import SessionDep, SettingsDep
from api.routers import exports
from api.routers import imports as api
from crm.access import sees_everything
from crm.imports import reading, run, sweep
from crm.imports.models import ImportJob, ImportKind, ImportMode, ImportStatus
from crm.imports.rows import FIELDS, default_mapping, mapping_errors
from processes.errors import ImportInvalid, StagecoachError
from processes.read_back import english_pattern, written_from

router = APIRouter(prefix="/console/imports", include_in_schema=False)
ENCODINGS = ("auto", "utf-8", "utf-8-sig", "windows-1252")
CHUNK = 1 << 16


def _waits_for_mapping(job: ImportJob) -> bool:
    return job.status is ImportStatus.validating and not job.mapping and bool(job.columns)


def _choices(job: ImportJob, column: str) -> list[str]:
    """The fields a column may map to (for contacts, a free field of the column's own name too)."""
    free = [column if column.startswith("fields.") else f"fields.{column}"] if job.kind is ImportKind.contacts else []
    return [*FIELDS[job.kind], *free]


def outcome(job: ImportJob, _: Callable[[str], str]) -> str:
    """How the job ended, in the office's language: what it wrote and rejected, or why it wrote nothing (the job's
    `detail`, in English over the API; a failure's own message as it is)."""
    def rows(count: int, one: str, many: str) -> str:
        return (_(one) if count == 1 else _(many)).format(n=count)
    if job.status is ImportStatus.done:
        written = rows(job.rows_written, "{n} row written", "{n} rows written")
        return written + (", " + rows(job.rows_invalid, "{n} row rejected", "{n} rows rejected")
                          if job.rows_invalid else "")
    if job.status is ImportStatus.refused:
        return rows(job.rows_invalid, "{n} invalid row: nothing was written (all or nothing)",
                    "{n} invalid rows: nothing was written (all or nothing)")
    return _read_back(job.detail or "", _FAILURES, _)


Patterns = list[tuple[str, re.Pattern[str]]]
# why a job wrote nothing (crm/imports/run.py, crm/imports/sweep.py), and the reasons inside it
_FAILURES = [(text, english_pattern(text)) for text in (run.STOPPED, sweep.INTERRUPTED, run.UNREADABLE)]
_REASONS = [(text, english_pattern(text))
            for text in (*reading.UNREADABLE, sweep.STOPPED_IMPORTING, sweep.STOPPED_WAITING)]


def _read_back(text: str, patterns: Patterns, _: Callable[[str], str], inside: Patterns = _REASONS) -> str:
    """`text` in the office's language when it is one of `patterns`' English texts, what it says why (`reason`,
    `why`) read back from `inside`; any other text (a failure's own message) as it is."""
    if (found := written_from(text, patterns)) is None:
        return text
    english, values = found
    return _(english).format(**{name: _read_back(value, inside, _, []) if name in ("reason", "why") else
                                _(value) if name in ("kind", "advice") else value for name, value in values.items()})


async def _render_list(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep,
                       status: int = 200, error: str = "") -> HTMLResponse:
    who = principal(signed)
    query = select(ImportJob) if sees_everything(who) else select(ImportJob).where(api.sent_by(who))
    jobs = (await session.exec(query.order_by(col(ImportJob.id).desc()).limit(30))).all()
    return render(request, settings, "imports.html", status=status, jobs=[api.public(j, settings) for j in jobs],
                  error=error, kinds=list(ImportKind), modes=list(ImportMode), encodings=ENCODINGS)


@router.get("", response_class=HTMLResponse)
async def imports_page(request: Request, session: SessionDep, settings: SettingsDep,
                       signed: SignedInDep) -> HTMLResponse:
    return await _render_list(request, session, settings, signed)


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(CHUNK):
        yield chunk


@router.post("")
@body_limit("max_import_bytes")
async def upload(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep) -> Response:
    """Receive the file and show its columns to map (nothing is read beyond its header yet)."""
    data = await form(request, signed, max_files=1)
    _ = translator(settings.locale)
    try:
        file = data.get("file")
        kind = next((k for k in ImportKind if k.value == text(data, "kind")), None)
        mode = next((m for m in ImportMode if m.value == text(data, "mode")), ImportMode.all_or_nothing)
        encoding = text(data, "encoding", "auto")
        if not isinstance(file, UploadFile) or not file.filename:
            raise ImportInvalid(_("choose a file"))
        if kind is None or encoding not in ENCODINGS:
            raise ImportInvalid(_("choose what the file holds and its encoding"))
        job = await api.receive(session, settings, principal(signed), kind, mode, _chunks(file),
                                encoding)  # type: ignore[arg-type]
    except StagecoachError as exc:
        return await _render_list(request, session, settings, signed, exc.status, refusal(exc, _))
    finally:
        await data.close()
    return redirect(f"/console/imports/{job.id}")


async def render_job(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep,
                     job_id: int, status: int = 200, error: str = "") -> HTMLResponse:
    try:
        job = await api.job_or_404(session, job_id, principal(signed))
    except StagecoachError as exc:
        return not_found_page(request, settings, str(job_id), exc)
    mapping = job.mapping or default_mapping(job.kind, job.columns)
    return render(request, settings, "import.html", status=status, job=api.public(job, settings), error=error,
                  said_error=functools.partial(import_error_in, _=translator(settings.locale)),
                  outcome=outcome(job, translator(settings.locale)),
                  mapping_step=_waits_for_mapping(job), mapping=mapping,
                  choices={c: _choices(job, c) for c in job.columns},
                  running=job.status in (ImportStatus.validating, ImportStatus.importing) and not _waits_for_mapping(job))


@router.get("/export")
async def export(request: Request, signed: SignedInDep, kind: ImportKind = ImportKind.contacts,
                 delimiter: Literal[";", ","] = ";") -> Response:
    """Every contact or case the user sees, as CSV: what `GET /exports/{kind}` sends them."""
    return await exports.export(kind, request, principal(signed), delimiter)


@router.get("/{job_id}", response_class=HTMLResponse)
async def import_page(job_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                      signed: SignedInDep) -> HTMLResponse:
    return await render_job(request, session, settings, signed, job_id)


@router.post("/{job_id}/start")
async def start(job_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                signed: SignedInDep) -> Response:
    """The mapping chosen (a field for each column, or none): the rows are read, checked and written."""
    data = await form(request, signed)
    _ = translator(settings.locale)
    who = principal(signed)
    try:
        job = await api.job_or_404(session, job_id, who)
        if not _waits_for_mapping(job):
            raise ImportInvalid(_("this import has started already"))
        mapping = {column: field for n, column in enumerate(job.columns) if (field := text(data, f"column-{n}"))}
        if errors := mapping_errors(job.kind, job.columns, mapping):  # shown to be put right: the job waits
            raise ImportInvalid("; ".join(errors))
        await api.launch(request, session, settings, who, job, mapping, "mapping")
    except StagecoachError as exc:
        return await render_job(request, session, settings, signed, job_id, exc.status,
                                import_error_in(said_in(exc, settings.locale), _))
    return redirect(f"/console/imports/{job_id}")


@router.get("/{job_id}/rejected")
async def rejected(job_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                   signed: SignedInDep) -> Response:
    try:
        return await api.rejected_rows(job_id, session, settings, principal(signed))
    except StagecoachError as exc:
        return not_found_page(request, settings, str(job_id), exc)

