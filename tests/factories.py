"""Test data written straight to the database, with unique handles per test."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.models import Record, User
from processes.template_basics import RecordKind


class Factory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def user(self, name: str = "Maria Rossi", **values: Any) -> User:
        handle = values.pop("handle", None) or f"u{uuid.uuid4().hex[:10]}"
        user = User(handle=handle, name=name, email=values.pop("email", f"{handle}@agency.example"), **values)
        return await self._add(user)

    async def record(self, owner: User | None = None, **values: Any) -> Record:
        values.setdefault("kind", RecordKind.lead)
        values.setdefault("title", "Flat in Via Roma 3")
        values.setdefault("email", "client@example.org")
        return await self._add(Record(owner_id=owner.id if owner else None, **values))

    async def _add(self, row: Any) -> Any:
        async with self.sessions() as session:
            session.add(row)
            await session.commit()
            await session.refresh(row)
            return row

    async def get(self, model: type[Any], key: Any) -> Any:
        async with self.sessions() as session:
            return await session.get(model, key)
