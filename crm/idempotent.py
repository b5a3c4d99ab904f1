"""Writing the row of a side effect once per step key, whatever the number of retries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

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
