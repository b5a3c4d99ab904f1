"""The registry of process instances (the `process_run` table): allocating `process-{template}-{record}-{n}`
ids, once per request id, following a run from its allocation to its confirmed start, and its end.

A run is allocated (`starting`) and committed before Temporal is asked to start its workflow, so the id is
never started twice and a retry with the same request id finds it. Whoever learns that the workflow
exists marks the run `running` (`mark_started`): the process itself with its first step, the starter
once Temporal confirms where a person or a process waits on it (autostart, the console's start form; not
`POST /processes`, whose answer says the process started), and the sweep (`activities/process_runs.py`)
for a start whose answer was lost. A run whose workflow Temporal still does not have a while later never
started (`not_started`); a retry with its request id starts it after all.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import JSON, Field, SQLModel, col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.bound import Bound
from crm.db import Direct, begin_write
from crm.models import Record, _created, _enum  # the tables' shared column types
from crm.types import UTCDateTime, utcnow
from processes.instance import ProcessState


class ProcessOrigin(str, enum.Enum):
    manual = "manual"  # started over the API
    follow_up = "follow_up"  # started by a start_follow_up action
    autostart = "autostart"  # started by a record event

    @property
    def automatic(self) -> bool:
        return self is not ProcessOrigin.manual


class RunStatus(str, enum.Enum):
    """Where a process is, as Stagecoach's own database knows it.

    The live detail of a running process (an incident, its phase) is Temporal's; the end of a finished
    one is written here by the process itself, and kept after Temporal's retention has deleted its run.
    """

    starting = "starting"  # the row is committed; the process has not begun (Temporal may have it: no step ran yet)
    running = "running"  # begun, or its start confirmed (live detail in Temporal)
    completed = "completed"
    aborted = "aborted"  # by staff, or cancelled from the Temporal UI or CLI
    cancelled = "cancelled"  # by the loop guard
    terminated = "terminated"  # ended in Temporal without the process having its say
    failed = "failed"
    timed_out = "timed_out"
    not_started = "not_started"  # its start was never confirmed and Temporal has no such workflow

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.starting, RunStatus.running, RunStatus.not_started)


FINISHED_RUNS = tuple(status for status in RunStatus if status.finished)


class ProcessRun(SQLModel, table=True):
    """A process instance: allocates `process-{template}-{record}-{n}` ids, and keeps the end of finished ones.

    This row makes ids unique, makes a start with the same request id idempotent, lists a record's
    processes, and is what the loop guard counts. The live state of a running process lives in its
    workflow; once the process ends, its end (status, who ended it and why, when, and its final state)
    is written here, so it can be listed and read at any age, with no worker running.
    """

    __tablename__ = "process_run"
    # the processes by each filter of the process list (api/routers/processes.py), and by status within the filter:
    # the console's counts walk them, each status up to a cap (crm/process_list.py `count_runs`)
    __table_args__ = (sa.UniqueConstraint("template_key", "record_id", "sequence"),
                      sa.Index("ix_process_run_ended_at_id", "ended_at", "id"),
                      sa.Index("ix_process_run_status_ended_at_id", "status", "ended_at", "id"),
                      sa.Index("ix_process_run_template_key_status_ended_at_id", "template_key", "status", "ended_at",
                               "id"),
                      sa.Index("ix_process_run_record_id_ended_at_id", "record_id", "ended_at", "id"),
                      sa.Index("ix_process_run_owner_id_status_ended_at_id", "owner_id", "status", "ended_at", "id"))

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(unique=True, max_length=255)
    template_key: str = Field(max_length=63)
    template_version: int
    record_id: int = Field(foreign_key="record.id")
    sequence: int
    owner_id: int = Field(foreign_key="user.id")
    started_by: str = Field(default="", max_length=200)
    request_id: str | None = Field(default=None, unique=True, max_length=400)
    origin: ProcessOrigin = Field(default=ProcessOrigin.manual, sa_type=_enum(ProcessOrigin))
    parent_workflow_id: str | None = Field(default=None, max_length=255, index=True)
    triggered_by_user_id: int | None = Field(default=None, foreign_key="user.id",
                                             description="the user whose action led to this start")
    created_at: datetime = _created()
    status: RunStatus = Field(default=RunStatus.starting, sa_type=_enum(RunStatus),
                              sa_column_kwargs={"server_default": RunStatus.running.value})
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_by: str | None = Field(default=None, max_length=200)
    end_reason: str | None = Field(default=None, sa_type=sa.Text)
    state: dict[str, Any] | None = Field(default=None, sa_type=JSON, description="the final ProcessState")
    checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime,
                                        description="when the sweep last compared the row with Temporal")


@dataclass(slots=True)
class NewRun:
    """A run to insert (`insert_run`) and start, without the ORM's instrumentation: a ProcessRun costs about 0.1 ms of
    CPU to construct, a few percent of a start over the API."""

    template_key: str
    template_version: int
    record_id: int
    owner_id: int
    started_by: str
    request_id: str | None = None
    triggered_by_user_id: int | None = None
    origin: ProcessOrigin = ProcessOrigin.manual
    parent_workflow_id: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    status: RunStatus = RunStatus.starting
    id: int | None = None  # set by the insert, with the number and the workflow id
    sequence: int = 0
    workflow_id: str = ""


UNCONFIRMED = (RunStatus.starting, RunStatus.not_started)  # a run whose workflow is not known to exist
RUNS: sa.Table = ProcessRun.__table__  # type: ignore[attr-defined]
LIVE_RUNS = (RunStatus.starting, RunStatus.running)  # runs whose workflow may be running (no end written)


def process_workflow_id(template_key: str, record_id: int, sequence: int) -> str:
    return f"process-{template_key}-{record_id}-{sequence}"


async def by_request_id(session: AsyncSession, request_id: str) -> ProcessRun | None:
    return (await session.exec(select(ProcessRun).where(ProcessRun.request_id == request_id))).first()


async def allocate_run(session: AsyncSession, *, template_key: str, template_version: int, record_id: int,
                       owner_id: int, started_by: str, request_id: str | None = None,
                       origin: ProcessOrigin = ProcessOrigin.manual, parent_workflow_id: str | None = None,
                       triggered_by_user_id: int | None = None, turn_on_conflict: bool = False,
                       ) -> tuple[ProcessRun, bool]:
    """Reserve the next id for this template and record; with a known request id, the run it already has.

    Returns the run and whether it is new. Commits. Concurrent allocations on one record take turns: SQLite's
    write lock, or the record's row on PostgreSQL, is held from reading the last number to the commit.
    `turn_on_conflict`: the first try takes no lock (its insert reads the last number itself, and the unique
    constraints refuse a number or request id taken meanwhile); only the tries after a conflict take turns.
    """
    for attempt in range(10):
        if attempt or not turn_on_conflict:
            await begin_write(session)
            await session.exec(select(Record.id).where(Record.id == record_id)  # type: ignore[call-overload]
                               .with_for_update(key_share=True))  # FOR NO KEY UPDATE: new rows may still refer to it
        if request_id is not None and (existing := await by_request_id(session, request_id)) is not None:
            return existing, False
        run = ProcessRun(workflow_id="", template_key=template_key, template_version=template_version,
                         record_id=record_id, sequence=0, owner_id=owner_id, started_by=started_by,
                         request_id=request_id, origin=origin, parent_workflow_id=parent_workflow_id,
                         triggered_by_user_id=triggered_by_user_id, created_at=utcnow(), status=RunStatus.starting)
        try:
            await insert_run(await session.connection(), run)
            await session.commit()
            return run, True
        except IntegrityError:  # a concurrent allocation took this request id (or, without the lock, this number)
            await session.rollback()
    raise RuntimeError(f"could not allocate a process id for template '{template_key}' on record {record_id}")


_INSERTED = ("template_key", "template_version", "record_id", "owner_id", "started_by", "request_id", "origin",
             "parent_workflow_id", "triggered_by_user_id", "created_at", "status")


def _next_run_insert() -> sa.Insert:
    """INSERT a run under the next number of its template and record, read by the statement itself. Built once,
    with parameters: SQLAlchemy then compiles it once, and finds it in its cache without walking it again."""
    number = (sa.select(func.coalesce(func.max(RUNS.c.sequence), 0) + 1)
              .where(RUNS.c.template_key == sa.bindparam("p_template_key", type_=RUNS.c.template_key.type),
                     RUNS.c.record_id == sa.bindparam("p_record_id", type_=RUNS.c.record_id.type))
              .scalar_subquery())
    values = {name: sa.bindparam(f"p_{name}", type_=RUNS.c[name].type) for name in _INSERTED}
    return (sa.insert(RUNS).values(**values, sequence=number,
                                   workflow_id=sa.bindparam("p_prefix", type_=sa.String()) + sa.cast(number, sa.String))
            .returning(RUNS.c.id, RUNS.c.sequence, RUNS.c.workflow_id))


_NEXT_RUN = _next_run_insert()
_CONFIRM = (sa.update(RUNS).where(RUNS.c.workflow_id == sa.bindparam("p_workflow_id"), RUNS.c.status.in_(UNCONFIRMED))
            .values(status=RunStatus.running))
# `_NEXT_RUN` on PostgreSQL through psycopg (`crm.db.Direct`), parameters in `_INSERTED`'s order
_DIRECT_NEXT_RUN = (
    "INSERT INTO process_run (workflow_id, sequence, " + ", ".join(_INSERTED) + ") "
    "SELECT %s::varchar || CAST(next.number AS varchar), next.number, %s::varchar, %s::integer, %s::integer, "
    "%s::integer, %s::varchar, %s::varchar, %s::varchar, %s::varchar, %s::integer, %s::timestamptz, %s::varchar "
    "FROM (SELECT coalesce(max(sequence), 0) + 1 AS number FROM process_run "
    "WHERE template_key = %s::varchar AND record_id = %s::integer) AS next RETURNING id, sequence, workflow_id")


async def insert_run(connection: AsyncConnection | Direct, run: ProcessRun | NewRun) -> None:
    """Insert `run` (in no session) under the next number of its template and record, in one statement that reads
    the last number; sets its id, number and workflow id. No commit. On the table (SQLAlchemy Core), or straight
    through psycopg (`Direct`): the ORM's insert machinery costs more than the round trip. Raises IntegrityError when
    a concurrent start took the number (or the run's request id): `allocate_run` then takes turns."""
    prefix = process_workflow_id(run.template_key, run.record_id, 0).removesuffix("0")
    if isinstance(connection, Direct):
        values = tuple(getattr(run, name) for name in _INSERTED)
        found = await connection.first(_DIRECT_NEXT_RUN, (prefix, *(v.value if isinstance(v, enum.Enum) else v
                                                                     for v in values), run.template_key, run.record_id))
        assert found is not None  # RETURNING
        run.id, run.sequence, run.workflow_id = found
        return
    params = {f"p_{name}": getattr(run, name) for name in _INSERTED}
    row = (await connection.execute(_NEXT_RUN, {**params, "p_prefix": prefix})).one()
    run.id, run.sequence, run.workflow_id = row[0], row[1], row[2]


_STARTED = (sa.update(RUNS)
            .where(RUNS.c.workflow_id == sa.bindparam("started_run"),
                   sa.or_(*(RUNS.c.status == s for s in UNCONFIRMED)))
            .values(status=RunStatus.running))


def started_update(workflow_id: str) -> Bound:
    """`mark_started` as a statement, for a caller to send with its own (`crm.idempotent.insert_new`'s `also`). The
    statuses compared one by one, not with IN: `insert_new` sends its rows as parameter sets (executemany), which
    an IN's expanding parameter cannot be part of."""
    return Bound(_STARTED, {"started_run": workflow_id})


async def mark_started(session: AsyncSession, workflow_id: str) -> None:
    """The workflow exists: its run is `running`, unless it has ended meanwhile. No commit. (On the table: a run
    loaded in the session keeps the status it was read with.)"""
    await (await session.connection()).execute(_CONFIRM, {"p_workflow_id": workflow_id})


async def mark_not_started(session: AsyncSession, workflow_id: str) -> None:
    """Temporal has no such workflow and its start is over: the run never started. No commit."""
    await session.exec(update(ProcessRun).where(col(ProcessRun.workflow_id) == workflow_id,  # type: ignore[call-overload]
                                                col(ProcessRun.status) == RunStatus.starting)
                       .values(status=RunStatus.not_started))


def _end(unless_ended: bool) -> sa.Update:
    query = sa.update(RUNS).where(RUNS.c.workflow_id == sa.bindparam("end_run"))
    if unless_ended:
        query = query.where(*(RUNS.c.status != s for s in FINISHED_RUNS))
    return query.values({name: sa.bindparam(f"end_{name}", type_=RUNS.c[name].type)
                         for name in ("status", "ended_at", "ended_by", "end_reason", "state")})


_ENDS = {unless_ended: _end(unless_ended) for unless_ended in (False, True)}


def end_update(workflow_id: str, status: RunStatus, *, ended_at: datetime | None, ended_by: str | None,
               end_reason: str | None, state: ProcessState | None, unless_ended: bool = False) -> Bound:
    """`write_end` as a statement, for a caller to send with its own (`crm.idempotent.insert_new`'s `also`; the
    finished statuses compared one by one, as in `started_update`)."""
    return Bound(_ENDS[unless_ended], {
        "end_run": workflow_id, "end_status": status, "end_ended_at": ended_at or utcnow(), "end_ended_by": ended_by,
        "end_end_reason": end_reason, "end_state": state.model_dump(mode="json") if state is not None else None})


async def write_end(session: AsyncSession, workflow_id: str, status: RunStatus, *, ended_at: datetime | None,
                    ended_by: str | None, end_reason: str | None, state: ProcessState | None,
                    unless_ended: bool = False) -> None:
    """The run has ended: how, when, by whom, why, and its final state. No commit.

    The process's own account wins: with `unless_ended` (the sweep, reading Temporal), a run whose end the
    process wrote is left as it is."""
    await end_update(workflow_id, status, ended_at=ended_at, ended_by=ended_by, end_reason=end_reason, state=state,
                     unless_ended=unless_ended).run(session)
