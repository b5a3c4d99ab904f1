"""Rows about a record or its process (outbox messages, deliveries) as staff list and read them: only those of
records the caller may see (crm/access.py), newest first."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import Principal
from api.paging import Page
from crm.access import of_visible_record
from processes.errors import NotFound


def visible(model: Any, principal: Principal) -> Any:
    """The rows of `model` (with `record_id` and `workflow_id`) of a record, or of a process on a record, the
    caller may see."""
    return of_visible_record(principal, col(model.record_id), col(model.workflow_id))


async def newest(session: AsyncSession, model: Any, principal: Principal, page: Page, **equal: Any) -> list[Any]:
    """A page of the rows the caller may see, newest first, whose columns match `equal` (None or "": any)."""
    query = select(model).where(visible(model, principal))
    for name, value in equal.items():
        if value is not None and value != "":
            query = query.where(getattr(model, name) == value)
    return page.done((await session.exec(page.newest(query, col(model.id)))).all())


async def one(session: AsyncSession, model: Any, principal: Principal, row_id: int, missing: str) -> Any:
    """The row, if the caller may see it; NotFound (`missing`) alike when it is missing or hidden."""
    row = (await session.exec(select(model).where(model.id == row_id, visible(model, principal)))).first()
    if row is None:
        raise NotFound(missing)
    return row
