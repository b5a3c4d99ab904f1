"""API keys: admins create (shown once), list and revoke them; the last admin key cannot be revoked."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import KeyCache, active_admin_keys, create_key
from api.deps import AdminDep, SessionDep
from api.paging import Page, paged
from api.references import named_in_body
from api.routers.users import get_user_or_404
from crm.db import begin_write
from crm.models import ApiKey, ApiRole
from crm.types import utcnow
from processes.errors import ErrorDetail, LastAdminKey, NotFound, ReferenceNotFound
from processes.sent_values import Text, WholeNumber

router = APIRouter(prefix="/api-keys", tags=["api keys"])


class ApiKeyCreate(SQLModel):
    name: Text = Field(min_length=1, max_length=200)
    role: ApiRole
    user_id: WholeNumber | None = None


class ApiKeyPublic(SQLModel):
    id: int
    name: str
    role: ApiRole
    prefix: str
    user_id: int | None
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="shown once; only its hash is stored")


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def new_key(body: ApiKeyCreate, session: SessionDep, _: AdminDep) -> ApiKeyCreated:
    row, key = await make_key(session, body)
    return ApiKeyCreated(**ApiKeyPublic.model_validate(row, from_attributes=True).model_dump(), key=key)


async def make_key(session: AsyncSession, body: ApiKeyCreate) -> tuple[ApiKey, str]:
    """A new key as `body` asks (its user checked first), and the key itself, which only this answer holds."""
    if body.user_id is not None:
        user = await named_in_body("body.user_id", get_user_or_404(session, body.user_id))
        if not user.active:  # its keys would be refused: an inactive user acts for no one
            text = "user {id} is not active: make the user active first, or choose another"
            raise ReferenceNotFound(text.format(id=user.id), details=[ErrorDetail("body.user_id", text.format(
                id=user.id))], wording=(text, {"id": str(user.id)}))
    return await create_key(session, body.name, body.role, body.user_id)


@router.get("", response_model=list[ApiKeyPublic])
async def list_keys(session: SessionDep, _: AdminDep, page: Annotated[Page, Depends(paged(100, 500))]) -> list[ApiKey]:
    query = select(ApiKey).order_by(col(ApiKey.id)).offset(page.offset).limit(page.limit)
    return page.done((await session.exec(query)).all())


@router.delete("/{key_id}", response_model=ApiKeyPublic)
async def revoke_key(key_id: int, request: Request, session: SessionDep, _: AdminDep) -> ApiKey:
    return await revoke(session, request.app.state.api_keys, key_id)


async def revoke(session: AsyncSession, cache: KeyCache, key_id: int) -> ApiKey:
    """Revoke key `key_id` (revoked already: as it is), refused at once by this API process; never the last admin
    key."""
    await begin_write(session)  # SQLite: two revocations of the last two admin keys, one after the other
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise NotFound.worded("no API key {id}", id=key_id)
    if row.revoked_at is None:
        if row.role == ApiRole.admin and not [k for k in await active_admin_keys(session, lock=True) if k.id != key_id]:
            raise LastAdminKey(f"API key {key_id} is the last admin key: create another admin key "
                               "(POST /api-keys) before revoking this one")
        row.revoked_at = utcnow()
        session.add(row)
        await session.commit()
        cache.forget(key_id)  # refused here at once (other API processes: api.auth.KeyCache)
        await session.refresh(row)
    return row
