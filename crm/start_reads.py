"""What a start over the API reads before allocating its run, in one statement (on the tables, SQLAlchemy Core: the ORM costs more than the round trip): the record's kind, owner and
whether it is restricted, and the template version's number and checksum (the parsed template is kept by
them, `template_store.parsed`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.db import Direct
from crm.models import Record
from crm.template_models import ProcessTemplateVersion
from processes.template_basics import RecordKind


@dataclass(frozen=True)
class StartReads:
    record_kind: RecordKind
    record_owner_id: int | None
    record_restricted: bool
    version: int | None  # None: no such template, or no such version of it
    checksum: str | None


def _query(by_version: bool) -> sa.Select[Any]:
    """Built once for each case, with parameters: SQLAlchemy compiles it once and finds it in its cache at once."""
    versions, records = ProcessTemplateVersion.__table__, Record.__table__  # type: ignore[attr-defined]
    pick = sa.select(versions.c.version, versions.c.checksum).where(versions.c.key == sa.bindparam("template_key"))
    if by_version:
        pick = pick.where(versions.c.version == sa.bindparam("version"))
    chosen = pick.order_by(versions.c.version.desc()).limit(1).subquery()
    return (sa.select(records.c.kind, records.c.owner_id, records.c.restricted, chosen.c.version, chosen.c.checksum)
            .select_from(records.outerjoin(chosen, sa.true())).where(records.c.id == sa.bindparam("record_id")))


_LATEST, _BY_VERSION = _query(False), _query(True)


def _direct(by_version: bool) -> str:
    """The same on PostgreSQL through psycopg (`crm.db.Direct`); parameters: the template's key, the version, the
    record."""
    return ("SELECT record.kind, record.owner_id, record.restricted, chosen.version, chosen.checksum FROM record "
            "LEFT OUTER JOIN (SELECT version, checksum FROM process_template_version WHERE key = %s::varchar"
            + (" AND version = %s::integer" if by_version else "")
            + " ORDER BY version DESC LIMIT 1) AS chosen ON true WHERE record.id = %s::integer")


_DIRECT_LATEST, _DIRECT_BY_VERSION = _direct(False), _direct(True)


async def start_reads(connection: AsyncConnection | Direct, record_id: int, template_key: str,
                      version: int | None) -> StartReads | None:
    """The record and the template version (the latest when `version` is None); None when there is no record."""
    if isinstance(connection, Direct):
        found = await (connection.first(_DIRECT_LATEST, (template_key, record_id)) if version is None else
                       connection.first(_DIRECT_BY_VERSION, (template_key, version, record_id)))
        return StartReads(RecordKind(found[0]), *found[1:]) if found is not None else None
    params: dict[str, Any] = {"record_id": record_id, "template_key": template_key}
    if version is not None:
        params["version"] = version
    row = (await connection.execute(_LATEST if version is None else _BY_VERSION, params)).first()
    return StartReads(*row) if row is not None else None
