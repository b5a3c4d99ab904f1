"""What a start over the API reads before allocating its run, in one statement (on the tables, SQLAlchemy Core: the
ORM costs more than the round trip): the record's kind, owner and whether it is restricted, and the template
version's number and checksum (the parsed template is kept by them, `template_store.parsed`).

On PostgreSQL, when the API has the template version it expects at hand, the same statement also allocates the run
(`read_and_insert`): the insert happens only if what it reads is what the start would have checked with the reads
alone (that version, a record of the template's kind, not restricted, an owner), so a start that needs more gets
the reads and goes on as before."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.db import Direct
from crm.process_runs import _INSERTED, NewRun, process_workflow_id
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


# The same on PostgreSQL through psycopg (`crm.db.Direct`), named parameters: the template's key, the record, the
# version (`_DIRECT_BY_VERSION`)
_FOUND = ("SELECT record.kind, record.owner_id, record.restricted, chosen.version, chosen.checksum FROM record "
          "LEFT OUTER JOIN (SELECT version, checksum FROM process_template_version "
          "WHERE key = %(key)s::varchar{by_version} ORDER BY version DESC LIMIT 1) AS chosen ON true "
          "WHERE record.id = %(record)s::integer")
_DIRECT_LATEST, _DIRECT_BY_VERSION = _FOUND.format(by_version=""), _FOUND.format(
    by_version=" AND version = %(version)s::integer")


async def start_reads(connection: AsyncConnection | Direct, record_id: int, template_key: str,
                      version: int | None) -> StartReads | None:
    """The record and the template version (the latest when `version` is None); None when there is no record."""
    if isinstance(connection, Direct):
        found = await connection.first(_DIRECT_LATEST if version is None else _DIRECT_BY_VERSION,
                                       {"key": template_key, "record": record_id, "version": version})
        return StartReads(RecordKind(found[0]), *found[1:]) if found is not None else None
    params: dict[str, Any] = {"record_id": record_id, "template_key": template_key}
    if version is not None:
        params["version"] = version
    row = (await connection.execute(_LATEST if version is None else _BY_VERSION, params)).first()
    return StartReads(*row) if row is not None else None


# `_DIRECT_LATEST` or `_DIRECT_BY_VERSION` as `found`, and the run inserted from it (`crm.process_runs.insert_run`'s
# columns, values in `_INSERTED`'s order, and number) when it is what the start expects; named parameters
_READ_AND_INSERT = (
    "WITH found AS ({found}), new AS ("
    "INSERT INTO process_run (workflow_id, sequence, " + ", ".join(_INSERTED) + ") "
    "SELECT %(prefix)s::varchar || CAST(next.number AS varchar), next.number, %(key)s::varchar, found.version, "
    "%(record)s::integer, coalesce(%(user)s::integer, found.owner_id), %(by)s::varchar, %(request)s::varchar, "
    "%(origin)s::varchar, NULL, %(user)s::integer, %(at)s::timestamptz, %(status)s::varchar "
    "FROM found, (SELECT coalesce(max(sequence), 0) + 1 AS number FROM process_run "
    "WHERE template_key = %(key)s::varchar AND record_id = %(record)s::integer) AS next "
    "WHERE found.version = %(version)s::integer AND found.checksum = %(checksum)s::varchar AND NOT found.restricted "
    "AND found.kind = %(kind)s::varchar AND coalesce(%(user)s::integer, found.owner_id) IS NOT NULL "
    "RETURNING id, sequence, workflow_id, owner_id) "
    "SELECT found.kind, found.owner_id, found.restricted, found.version, found.checksum, "
    "new.id, new.sequence, new.workflow_id, new.owner_id FROM found LEFT OUTER JOIN new ON true")
_READ_AND_INSERT_LATEST = _READ_AND_INSERT.format(found=_DIRECT_LATEST)
_READ_AND_INSERT_BY_VERSION = _READ_AND_INSERT.format(found=_DIRECT_BY_VERSION)


async def read_and_insert(connection: Direct, *, template_key: str, version: int, latest: bool, checksum: str,
                          kind: RecordKind, record_id: int, user_id: int | None, started_by: str,
                          request_id: str | None) -> tuple[StartReads | None, NewRun | None]:
    """`start_reads` of the record and the template (its latest version when `latest`, else `version`), and the run
    inserted under the next number, committed, in one statement, if the version found is `version` with `checksum`
    and the record is of `kind`, not restricted, and has an owner when `user_id` is None (the run's owner is `user_id`,
    else the record's). The run, when it was inserted. Raises IntegrityError when a concurrent start took the number
    or the request id (nothing is inserted)."""
    run = NewRun(template_key=template_key, template_version=version, record_id=record_id, owner_id=0,
                 started_by=started_by, request_id=request_id, triggered_by_user_id=user_id)
    found = await connection.first(_READ_AND_INSERT_LATEST if latest else _READ_AND_INSERT_BY_VERSION, {
        "key": template_key, "record": record_id, "version": version, "checksum": checksum, "kind": kind.value,
        "user": user_id, "by": started_by, "request": request_id, "origin": run.origin.value, "at": run.created_at,
        "status": run.status.value, "prefix": process_workflow_id(template_key, record_id, 0).removesuffix("0")})
    if found is None:
        return None, None
    reads = StartReads(RecordKind(found[0]), *found[1:5])
    if found[5] is None:
        return reads, None
    run.id, run.sequence, run.workflow_id, run.owner_id = found[5:]
    return reads, run
