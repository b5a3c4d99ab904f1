"""Who sees which record: everyone with a staff key sees ordinary records; a restricted record
is seen by its owner, the users on its access list, and admins.

What belongs to a record (its history, processes, tasks, email) follows the record: a caller
who cannot see the record gets "not found" for it, and lists and searches leave it out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Protocol

import sqlalchemy as sa
import sqlalchemy.orm
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.models import ApiRole, Record, RecordAccess
from crm.process_runs import LIVE_RUNS, ProcessRun
from crm.types import utcnow

ENDING = timedelta(days=1)  # a run's end is in the database before its workflow has closed in Temporal


class Viewer(Protocol):
    """The part of a caller that access depends on (api.auth.Principal is one)."""

    @property
    def role(self) -> ApiRole: ...

    @property
    def user_id(self) -> int | None: ...


def sees_everything(viewer: Viewer) -> bool:
    return viewer.role is ApiRole.admin


def record_visible(viewer: Viewer, record: type[Record] | sa.orm.util.AliasedClass[Record] = Record
                   ) -> sa.ColumnElement[bool]:
    """A condition on `Record` rows (or on those of an alias of it): those `viewer` may see."""
    if sees_everything(viewer):
        return sa.true()
    if viewer.user_id is None:
        return sa.not_(record.restricted)
    listed = select(RecordAccess.record_id).where(RecordAccess.record_id == record.id,
                                                  RecordAccess.user_id == viewer.user_id)
    # the owner compared so that no owner is false, not NULL: `not_` of this (the records `viewer` may not see) would
    # otherwise leave out a restricted record with no owner
    owned = sa.and_(record.owner_id.is_not(None), record.owner_id == viewer.user_id)
    return sa.or_(sa.not_(record.restricted), owned, listed.exists())


def of_visible_record(viewer: Viewer, record_id: sa.ColumnElement[int | None],
                      workflow_id: sa.ColumnElement[str | None]) -> sa.ColumnElement[bool]:
    """A condition on rows of another table (tasks, email...): those of a record `viewer` may see.

    A row's record is its `record_id`; without one, the record of the process `workflow_id` (a loop
    guard's notice is about a process, not written to a record). A row of neither is an admin's.
    The process's record is looked up row by row (by the run's unique workflow id): a set of every run of
    a visible record would be a scan of `process_run` that PostgreSQL plans (and costs) for every list."""
    if sees_everything(viewer):
        return sa.true()
    record = sa.orm.aliased(Record)
    hidden = select(record.id).where(record.restricted)
    if viewer.user_id is not None:
        listed = select(RecordAccess.record_id).where(RecordAccess.user_id == viewer.user_id)
        hidden = hidden.where(sa.or_(record.owner_id.is_(None), record.owner_id != viewer.user_id),
                              record.id.not_in(listed))
    run, its_record = sa.orm.aliased(ProcessRun), sa.orm.aliased(Record)
    # a scalar subquery, which PostgreSQL runs for the rows that need it: an EXISTS it would plan as a hashed join
    # of every run with every record
    of_its_process = (select(record_visible(viewer, its_record)).select_from(run)
                      .join(its_record, its_record.id == run.record_id).where(run.workflow_id == workflow_id)
                      .scalar_subquery().is_(True))
    return sa.or_(sa.and_(record_id.is_not(None), record_id.not_in(hidden)),
                  sa.and_(record_id.is_(None), of_its_process))


def may_manage(viewer: Viewer, record: Record) -> bool:
    """Whether `viewer` may change who sees `record` (restricted, its access list) and, when it is
    restricted, who owns it: its owner and admins. A user only listed on it may not; on an ordinary
    record any staff user may still change the owner."""
    return sees_everything(viewer) or (viewer.user_id is not None and viewer.user_id == record.owner_id)


def may_see(viewer: Viewer, record: Record, access_user_ids: Iterable[int]) -> bool:
    if sees_everything(viewer) or not record.restricted:
        return True
    return viewer.user_id is not None and (viewer.user_id == record.owner_id or viewer.user_id in set(access_user_ids))


async def access_list(session: AsyncSession, record_id: int) -> list[int]:
    rows = await session.exec(select(RecordAccess.user_id).where(RecordAccess.record_id == record_id)
                              .order_by(col(RecordAccess.user_id)))
    return list(rows.all())


async def access_lists(session: AsyncSession, record_ids: Sequence[int]) -> dict[int, list[int]]:
    lists: dict[int, list[int]] = {record_id: [] for record_id in record_ids}
    if record_ids:
        rows = await session.exec(select(RecordAccess).where(col(RecordAccess.record_id).in_(record_ids))
                                  .order_by(col(RecordAccess.user_id)))
        for row in rows.all():
            lists[row.record_id].append(row.user_id)
    return lists


async def set_access_list(session: AsyncSession, record_id: int, user_ids: Iterable[int]) -> None:
    """Replace the record's access list (in the caller's transaction)."""
    await session.exec(delete(RecordAccess).where(col(RecordAccess.record_id) == record_id))  # type: ignore[call-overload]
    for user_id in dict.fromkeys(user_ids):
        session.add(RecordAccess(record_id=record_id, user_id=user_id))


async def hidden_process_records(session: AsyncSession, viewer: Viewer, owner_id: int | None = None) -> list[int]:
    """The restricted records with live processes (of `owner_id`'s, when given) that `viewer` cannot see: what to
    leave out of Temporal's list of running processes. Runs that ended before the last day are not asked for
    (Temporal lists only the running), nor processes of other owners when the list is of one owner's: the list
    stays short."""
    if sees_everything(viewer):
        return []
    # a run's end is written before its workflow closes: one ended lately may still be running in Temporal
    live = select(ProcessRun.record_id).where(ProcessRun.record_id == Record.id, sa.or_(
        col(ProcessRun.status).in_(LIVE_RUNS), col(ProcessRun.ended_at) > utcnow() - ENDING))
    if owner_id is not None:
        live = live.where(ProcessRun.owner_id == owner_id)
    rows = await session.exec(select(Record.id).where(col(Record.restricted), sa.not_(record_visible(viewer)),
                                                      live.exists()))
    return [row for row in rows.all() if row is not None]
