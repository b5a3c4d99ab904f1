"""Reading a record or a user that a step needs, as a final (non-retryable) failure when it is gone."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from activities.errors import final
from crm.models import Record, User
from processes.errors import RecordNotFound, UserNotFound


async def load_record(session: AsyncSession, record_id: int, fresh: bool = False) -> Record:
    """The record (`fresh`: read again from the database, not as this session read it before)."""
    record = await session.get(Record, record_id, populate_existing=fresh)
    if record is None:
        raise final(RecordNotFound(f"record {record_id} does not exist"))
    return record


async def load_user(session: AsyncSession, user_id: int | None, what: str) -> User:
    user = await session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise final(UserNotFound(f"{what}: user {user_id} does not exist"))
    return user
