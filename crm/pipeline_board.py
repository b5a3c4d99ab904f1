"""The pipeline board: each status of a pipeline with how many records are in it and a page of them.

Counts and pages read `ix_record_kind_type_status_id` (kind, type, status, id); restricted records the viewer may
not see are neither counted nor shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.access import Viewer, record_visible
from crm.models import Record
from crm.pipeline_models import Board, BoardColumn, BoardRecord
from processes.pipeline import Pipeline


@dataclass(frozen=True)
class BoardFilter:
    type: str | None = None
    owner_id: int | None = None
    channel: str | None = None


async def board(session: AsyncSession, viewer: Viewer, pipeline: Pipeline, version: int, filters: BoardFilter, *,
                limit: int, offset: int) -> Board:
    types = [t.name for t in pipeline.types if filters.type is None or t.name == filters.type]
    where = [Record.kind == pipeline.record_kind, col(Record.type).in_(types), record_visible(viewer)]
    if filters.owner_id is not None:
        where.append(Record.owner_id == filters.owner_id)
    if filters.channel is not None:
        where.append(Record.channel == filters.channel)
    counts = dict((await session.exec(select(Record.status, func.count()).where(*where)
                                      .group_by(col(Record.status)))).all())
    columns = []
    for status in pipeline.statuses:
        rows: list[Record] = []
        if counts.get(status.name, 0) > offset:
            rows = list((await session.exec(select(Record).where(*where, Record.status == status.name)
                                            .order_by(col(Record.id)).offset(offset).limit(limit))).all())
        columns.append(BoardColumn(status=status.name, count=counts.get(status.name, 0), records=[
            BoardRecord(id=r.id, title=r.title, type=r.type, owner_id=r.owner_id, channel=r.channel,  # type: ignore[arg-type]
                        substates=list(r.substates or {}), updated_at=r.updated_at) for r in rows]))
    return Board(pipeline=pipeline.key, version=version, columns=columns)
