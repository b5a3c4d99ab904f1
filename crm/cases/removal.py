"""Everything hanging from a case, found from the schema itself, and its removal in one transaction.

A row hangs from the case when it references the case's record (a foreign key to `record.id`: history,
tasks, email, process runs, access list, participants, tags links...), when it names one of the case's
processes (`workflow_id`: a loop guard's notice, an idempotency key's target), or when it references a
row that hangs from it (a foreign key to a hanging row). Found from the tables' metadata, a table added
later is covered without a change here. Other records are never removed: a record whose `contact_id` is
the case is unlinked from it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.models import Record
from crm.process_runs import ProcessRun

_WORKFLOW_COLUMNS = ("workflow_id", "target")  # a process's id, in tables that name it without a foreign key
UNLINKED = "record.contact_id"


def _conditions(case_id: int, workflow_ids: list[str]) -> dict[str, sa.ColumnElement[bool]]:
    """For each table with rows hanging from the case, the condition that picks them (the case's record aside)."""
    found: dict[str, sa.ColumnElement[bool]] = {}
    for table in SQLModel.metadata.sorted_tables:  # parents before children: a child may use its parent's
        if table.name == "record":
            continue
        picks: list[sa.ColumnElement[bool]] = []
        for column in table.columns:
            for fk in column.foreign_keys:
                parent = fk.column.table
                if parent.name == "record":
                    picks.append(column == case_id)
                elif parent.name in found:
                    picks.append(column.in_(sa.select(fk.column).where(found[parent.name])))
            if column.name in _WORKFLOW_COLUMNS and workflow_ids and isinstance(column.type, sa.String):
                picks.append(column.in_(workflow_ids))
        if picks:
            found[table.name] = sa.or_(*picks)
    return found


async def _workflow_ids(session: AsyncSession, case_id: int) -> list[str]:
    rows = await session.exec(select(ProcessRun.workflow_id).where(ProcessRun.record_id == case_id))
    return list(rows.all())


async def count_hanging(session: AsyncSession, case_id: int) -> dict[str, int]:
    """How many rows of each table would go with the case (tables with none left out)."""
    counts: dict[str, int] = {}
    for name, condition in _conditions(case_id, await _workflow_ids(session, case_id)).items():
        table = SQLModel.metadata.tables[name]
        if n := (await session.exec(sa.select(sa.func.count()).select_from(table).where(condition))).one()[0]:  # type: ignore[call-overload]
            counts[name] = n
    linked = sa.select(sa.func.count()).where(col(Record.contact_id) == case_id)
    if n := (await session.exec(linked)).one()[0]:  # type: ignore[call-overload]
        counts[UNLINKED] = n
    counts["record"] = 1
    return counts


async def remove_case(session: AsyncSession, case_id: int) -> dict[str, int]:
    """Delete the case's record and every row hanging from it, children first; no commit. Returns the counts."""
    counts = await count_hanging(session, case_id)
    conditions = _conditions(case_id, await _workflow_ids(session, case_id))
    for table in reversed(SQLModel.metadata.sorted_tables):
        if table.name in conditions:
            await session.exec(sa.delete(table).where(conditions[table.name]))  # type: ignore[call-overload]
    await session.exec(sa.update(Record).where(col(Record.contact_id) == case_id)  # type: ignore[call-overload]
                       .values(contact_id=None))
    await session.exec(sa.delete(Record).where(col(Record.id) == case_id))  # type: ignore[call-overload]
    return counts
