"""Writing the row of a side effect once per step key, whatever the number of retries."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.bound import Bound

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


@functools.lru_cache(maxsize=None)
def _new_rows_statement(table: Any, dialect: str, count: int) -> Any:
    """`INSERT .. SELECT .. UNION ALL SELECT ..` of `count` rows of `table`, each value a parameter named for its row
    and column (`ROW` + row number + `_` + column): unlike a multi-row `.values([...])`, which SQLAlchemy never
    caches (it compiled the statement again for every call), one compilation per table and number of rows."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = [column for column in table.columns if not column.primary_key]
    rows = [sa.select(*(bindparam(f"{ROW}{n}_{column.name}", type_=column.type) for column in columns))
            for n in range(count)]
    return (insert(table).from_select([column.name for column in columns], sa.union_all(*rows) if count > 1 else rows[0])
            .on_conflict_do_nothing(index_elements=["step_key"]).returning(table.c.id, table.c.step_key))


def new_rows(dialect: str, model: type[T], rows: list[T]) -> tuple[Any, dict[str, Any]]:
    """The INSERT of `rows` whose step key is not taken yet, returning the new ids and step keys, and its parameters:
    for a statement that carries it as a WITH (a webhook's delivery recorded with its lines), given the parameters
    with its own. (`insert_new` sends rows as parameter sets instead, which a WITH cannot be.)"""
    statement = _new_rows_statement(model.__table__, dialect, len(rows))  # type: ignore[attr-defined]
    params = {f"{ROW}{n}_{name}": value for n, row in enumerate(rows)
              for name, value in row.model_dump(exclude={"id"}).items()}
    return statement, params


@functools.lru_cache(maxsize=256)
def _insert_new_with(table: Any, dialect: str, others: tuple[Any, ...]) -> Any:
    """`_insert_new_statement` carrying `others` (statements built once) as data-modifying WITHs."""
    statement = _insert_new_statement(table, dialect)
    for n, other in enumerate(others):
        statement = statement.add_cte(other.cte(f"also{n}" if n else "also"))
    return statement


async def insert_new(session: AsyncSession, model: type[T], rows: list[T], also: Bound | list[Bound] | None = None,
                     ) -> dict[str, int]:
    """Insert the rows whose step key is not taken yet, in one statement, in their order; no commit.

    Rows whose step key exists (an earlier try of the same step) are left as they are.
    Returns the ids of the rows inserted now, by step key. `also`: an UPDATE (or a list of them) made in the same
    transaction, on PostgreSQL in the same statement (a data-modifying WITH: one round trip fewer).
    """
    dialect = session.sync_session.get_bind().dialect.name
    others = [] if also is None else [also] if not isinstance(also, list) else also
    if others and (dialect != "postgresql" or not rows):
        for other in others:
            await other.run(session)
        others = []
    if not rows:
        return {}
    table = model.__table__  # type: ignore[attr-defined]
    statement = _insert_new_with(table, dialect, tuple(other.statement for other in others))
    # the WITHs' values go with every row's (executemany sends them once, with the statement)
    shared = {name: value for other in others for name, value in other.params.items()}
    params = [{**shared, **{ROW + name: value for name, value in row.model_dump(exclude={"id"}).items()}}
              for row in rows]
    # (like any statement of the session: its pending rows flushed first, so the lines keep their order)
    result = await session.exec(statement, params=params)  # type: ignore[call-overload]
    return {step_key: id for id, step_key in result.all()}
