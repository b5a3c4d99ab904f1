"""What a start over the API reads before allocating its run, in one statement (on the tables, SQLAlchemy Core: the ORM costs more than the round trip): the record's kind, owner and
whether it is restricted, and the template version's number and checksum (the parsed template is kept by
them, `template_store.parsed`)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.models import Record
from crm.template_models import ProcessTemplateVersion
from processes.template import RecordKind


@dataclass(frozen=True)
class StartReads:
    record_kind: RecordKind
    record_owner_id: int | None
    record_restricted: bool
    version: int | None  # None: no such template, or no such version of it
    checksum: str | None


async def start_reads(session: AsyncSession, record_id: int, template_key: str,
                      version: int | None) -> StartReads | None:
    """The record and the template version (the latest when `version` is None); None when there is no record."""
    versions, records = ProcessTemplateVersion.__table__, Record.__table__  # type: ignore[attr-defined]
    pick = sa.select(versions.c.version, versions.c.checksum).where(versions.c.key == template_key)
    if version is not None:
        pick = pick.where(versions.c.version == version)
    chosen = pick.order_by(versions.c.version.desc()).limit(1).subquery()
    query = (sa.select(records.c.kind, records.c.owner_id, records.c.restricted, chosen.c.version, chosen.c.checksum)
             .select_from(records.outerjoin(chosen, sa.true())).where(records.c.id == record_id))
    row = (await (await session.connection()).execute(query)).first()
    return StartReads(*row) if row is not None else None
