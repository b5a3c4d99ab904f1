"""Writing the row of a side effect once per step key, whatever the number of retries."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T", bound=SQLModel)
ROW = "row_"  # `insert_new`'s parameters: the column's name after this


async def insert_once(session: AsyncSession, model: type[T], step_key: str,
                      make: Callable[[], Awaitable[list[Any]]]) -> T:
    """The row of `model` with `step_key`; made (with companion rows, in one transaction) only if absent.

    `make` returns the rows to add, the `model` row first. A concurrent attempt that
    committed first wins, and its row is returned.
    """
    query = select(model).where(model.step_key == step_key)  # type: ignore[attr-defined]
    existing = (await session.exec(query)).first()
    if existing is not None:
        return existing
    rows = await make()
    session.add_all(rows)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return (await session.exec(query)).one()
    return rows[0]


@functools.lru_cache(maxsize=None)
def _insert_new_statement(table: Any, dialect: str) -> Any:
    """`INSERT .. ON CONFLICT (step_key) DO NOTHING RETURNING id, step_key` for `table`, built once: given its rows
    as parameter sets (executemany), SQLAlchemy sends them in one `INSERT .. VALUES (..), (..)` ("insertmanyvalues",
    in their order) and compiles the statement once per shape, not once per call as a `.values([...])` of literal
    rows is (that compilation was a step's largest CPU cost after the round trips)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # the values as parameters of their own names: a data-modifying WITH sent along (`also`) is compiled with the
    # same parameter sets, and would take a parameter named as one of its table's columns as a value to SET
    values = {column.name: bindparam(ROW + column.name, type_=column.type) for column in table.columns
              if not column.primary_key}
    return (insert(table).values(values).on_conflict_do_nothing(index_elements=["step_key"])
            .returning(table.c.id, table.c.step_key))


async def insert_new(session: AsyncSession, model: type[T], rows: list[T], also: Any = None) -> dict[str, int]:
    """Insert the rows whose step key is not taken yet, in one statement, in their order; no commit.

    Rows whose step key exists (an earlier try of the same step) are left as they are.
    Returns the ids of the rows inserted now, by step key. `also`: an UPDATE made in the same transaction, on
    PostgreSQL in the same statement (a data-modifying WITH: one round trip fewer).
    """
    dialect = session.sync_session.get_bind().dialect.name
    if also is not None and (dialect != "postgresql" or not rows):
        await session.exec(also)  # type: ignore[call-overload]
        also = None
    if not rows:
        return {}
    statement = _insert_new_statement(model.__table__, dialect)  # type: ignore[attr-defined]
    if also is not None:
        statement = statement.add_cte(also.cte("also"))
    params = [{ROW + name: value for name, value in row.model_dump(exclude={"id"}).items()} for row in rows]
    # (like any statement of the session: its pending rows flushed first, so the lines keep their order)
    result = await session.exec(statement, params=params)  # type: ignore[call-overload]
    return {step_key: id for id, step_key in result.all()}
