"""A statement built once for its shape, with the values of one use: constructing a SQLAlchemy statement (its
clauses, its bound values, its cache key) costs more CPU than sending it, and a step sends several."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession


@dataclass(frozen=True)
class Bound:
    statement: Any  # built once: each value it writes or compares is a bind parameter named for it
    params: Mapping[str, Any]

    async def run(self, session: AsyncSession) -> Any:
        return await session.exec(self.statement, params=dict(self.params))  # type: ignore[call-overload]
