"""CRM users: the people processes assign phases and tasks to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from api.deps import AdminDep, SessionDep, StaffDep
from api.fields import Label
from api.paging import Page, paged
from crm.models import User, UserCreate, UserPublic, UserUpdate
from processes.errors import AlreadyExists, UserNotFound

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", status_code=201, response_model=UserPublic)
async def create_user(body: UserCreate, session: SessionDep, _: AdminDep) -> User:
    user = User.model_validate(body)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise AlreadyExists.worded("a user with handle '{handle}' exists already", handle=body.handle) from None
    await session.refresh(user)
    return user


@router.get("", response_model=list[UserPublic])
async def list_users(session: SessionDep, _: StaffDep, page: Annotated[Page, Depends(paged(100, 500))],
                     role: Label = None) -> list[User]:
    query = select(User).order_by(col(User.id))
    if role:
        query = query.where(User.role == role)
    return page.done((await session.exec(query.offset(page.offset).limit(page.limit))).all())


async def get_user_or_404(session: SessionDep, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound.worded("no user {id}", id=user_id)
    return user


@router.get("/{user_id}", response_model=UserPublic)
async def get_user(user_id: int, session: SessionDep, _: StaffDep) -> User:
    return await get_user_or_404(session, user_id)


@router.patch("/{user_id}", response_model=UserPublic)
async def update_user(user_id: int, body: UserUpdate, session: SessionDep, _: AdminDep) -> User:
    user = await get_user_or_404(session, user_id)
    user.sqlmodel_update(body.model_dump(exclude_unset=True))
    session.add(user)
    await session.commit()
    await session.refresh(user)
    return user
