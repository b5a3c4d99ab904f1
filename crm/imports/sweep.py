"""The sweep of import jobs left behind: an API that stopped half-way through an import (killed, restarted, the
machine gone) leaves its job `validating` or `importing` for ever, as nothing is there to end it.

What such an import wrote is gone already: its rows are written in one transaction, committed together with the
job's `done` (crm/imports/run.py), and a transaction whose connection died is rolled back by the database. So in
either mode (all_or_nothing or valid_rows) an interrupted import leaves no record, no record event and no case
link behind; only its job says otherwise, and this sweep puts that right. A job counts as left behind once it
is older than the grace period and shows no sign of life for as long: it is not running in this process, and
its heartbeat file (rewritten every 5 seconds as its rows are read, crm/imports/run.py) or, before the rows
are read, its uploaded file has not changed. It is then marked `failed` with the reason, and its half-written
rejected rows are removed. Should the import be alive after all (in another API process, silent for the whole
grace period), its final commit finds the job ended and rolls back: still nothing is written.

The files an import leaves hold the office's contacts, so they are not kept for ever (`remove_old_files`): an
uploaded file whose job has ended (an import removes its own as it ends; this catches one an API stopped before
it could), and rejected rows once IMPORT_REJECTED_DAYS have passed since their job ended.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.imports.models import ImportJob, ImportStatus
from crm.imports.run import PROGRESS, RUNNING, heartbeat, unless_ended
from crm.types import utcnow

log = logging.getLogger("stagecoach.imports")
# a job given up (its `detail`, read back in the office's language by the console), and why
INTERRUPTED = "interrupted: no progress since {seen} UTC ({why}); nothing was written, send the file again"
STOPPED_IMPORTING = "the API stopped during the import"
STOPPED_WAITING = "the API stopped before its rows were read, or the mapping of its columns was never confirmed"


def last_sign_of_life(folder: Path, job: ImportJob) -> datetime:
    """When the job last showed it was alive: its heartbeat, its uploaded file, or its creation."""
    assert job.id is not None
    moments = [job.created_at]
    for path in (heartbeat(folder / f"{job.id}.csv"), folder / f"{job.id}.csv"):
        try:
            moments.append(datetime.fromtimestamp(path.stat().st_mtime, tz=job.created_at.tzinfo))
        except OSError:
            continue
    return max(moments)


async def sweep_stale_imports(sessions: async_sessionmaker[AsyncSession], folder: Path, grace: timedelta,
                              now: datetime | None = None) -> list[int]:
    """Mark `failed` the jobs left behind (see above); their ids."""
    now = now or utcnow()
    swept: list[int] = []
    async with sessions() as session:
        query = select(ImportJob).where(col(ImportJob.status).in_(RUNNING), col(ImportJob.created_at) < now - grace)
        for job in (await session.exec(query.order_by(col(ImportJob.id)).limit(100))).all():
            assert job.id is not None
            if job.id in PROGRESS:  # running here
                continue
            seen = last_sign_of_life(folder, job)
            if now - seen < grace:
                continue
            why = STOPPED_IMPORTING if job.status is ImportStatus.importing else STOPPED_WAITING
            detail = INTERRUPTED.format(seen=f"{seen:%Y-%m-%d %H:%M:%S}", why=why)
            ended = await session.exec(unless_ended(job.id).values(  # type: ignore[call-overload]
                status=ImportStatus.failed, finished_at=now, rows_written=0, detail=detail))
            if ended.rowcount == 1:  # not ended meanwhile by the import itself
                swept.append(job.id)
        await session.commit()
    for job_id in swept:
        for leftover in (folder / f"{job_id}.rejected.csv", heartbeat(folder / f"{job_id}.csv"),
                         folder / f"{job_id}.csv"):
            leftover.unlink(missing_ok=True)
        log.warning("import %s was left behind by a stopped API: marked failed", job_id)
    return swept


def rejected_kept(job: ImportJob, days: int, now: datetime | None = None) -> bool:
    """Whether the job's rejected rows are still kept: until `days` after it ended."""
    return job.finished_at is None or (now or utcnow()) - job.finished_at < timedelta(days=days)


async def remove_old_files(sessions: async_sessionmaker[AsyncSession], folder: Path, days: int,
                           now: datetime | None = None) -> list[Path]:
    """Remove the uploaded files of jobs that ended and the rejected rows of jobs that ended over `days` ago; the
    files removed."""
    now = now or utcnow()
    files: dict[int, list[Path]] = {}
    for path in folder.glob("*.csv"):
        job_id = path.name.split(".", 1)[0]
        if job_id.isdigit():
            files.setdefault(int(job_id), []).append(path)
    removed: list[Path] = []
    ids = sorted(files)
    for start in range(0, len(ids), 500):
        async with sessions() as session:
            jobs = {job.id: job for job in (await session.exec(
                select(ImportJob).where(col(ImportJob.id).in_(ids[start:start + 500])))).all()}
        for job_id in ids[start:start + 500]:
            job = jobs.get(job_id)
            if job is not None and job.status in RUNNING:
                continue
            for path in files[job_id]:
                rejected = path.name.endswith(".rejected.csv")
                if not rejected or job is None or not rejected_kept(job, days, now):
                    path.unlink(missing_ok=True)
                    removed.append(path)
    if removed:
        log.info("removed %s import file(s) no longer needed", len(removed))
    return removed
