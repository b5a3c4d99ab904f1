"""Writing the row of a side effect once per step key, whatever the number of retries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T", bound=SQLModel)


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


def new_rows(dialect: str, model: type[T], rows: list[T]) -> Any:
    """The INSERT of the rows whose step key is not taken yet (`insert_new`), returning the new ids and step keys."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Any = model.__table__  # type: ignore[attr-defined]
    return (insert(table).values([row.model_dump(exclude={"id"}) for row in rows])
            .on_conflict_do_nothing(index_elements=["step_key"])
            .returning(table.c.id, table.c.step_key))


async def insert_new(session: AsyncSession, model: type[T], rows: list[T], also: Any = None) -> dict[str, int]:
    """Insert the rows whose step key is not taken yet, in one statement, in their order; no commit.

    Rows whose step key exists (an earlier try of the same step) are left as they are.
    Returns the ids of the rows inserted now, by step key. `also`: an UPDATE (or a list of them) made in the same
    transaction, on PostgreSQL in the same statement (a data-modifying WITH: one round trip fewer).
    """
    dialect = session.sync_session.get_bind().dialect.name
    others = [] if also is None else [also] if not isinstance(also, list) else also
    if others and (dialect != "postgresql" or not rows):
        for other in others:
            await session.exec(other)  # type: ignore[call-overload]
        others = []
    if not rows:
        return {}
    statement = new_rows(dialect, model, rows)
    for n, other in enumerate(others):
        statement = statement.add_cte(other.cte(f"also{n}" if n else "also"))
    return {step_key: id for id, step_key in (await session.exec(statement)).all()}  # type: ignore[call-overload]
