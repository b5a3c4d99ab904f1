"""The console's sign-in: users' passwords (argon2id), their sessions, and failed sign-ins counted.

A session is a row holding the SHA-256 of a random token the browser keeps in a cookie (the token
itself is never stored), the user, its CSRF token and its expiry; signing out deletes the row. A
user's failed sign-ins are rows too (with where they came from), so a guesser is slowed down whichever API
replica it reaches, and whichever users it tries.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Field, SQLModel, col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.models import User
from crm.types import UTCDateTime, utcnow

SESSION_LIFETIME = timedelta(hours=12)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5  # failed sign-ins of one handle within the window; the next is refused unchecked
MAX_ADDRESS_FAILURES = 20  # failed sign-ins from one address (of any handles) within the window
MIN_PASSWORD = 10
MAX_PASSWORD = 1000  # the sign-in form takes no longer one
_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106) memory-hard defaults
_DUMMY_HASH = _hasher.hash("not anyone's password")


class StaffSession(SQLModel, table=True):
    __tablename__ = "staff_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class SignInFailure(SQLModel, table=True):
    __tablename__ = "sign_in_failure"
    __table_args__ = (sa.Index("ix_sign_in_failure_handle_at", "handle", "at"),
                      sa.Index("ix_sign_in_failure_address_at", "address", "at"))

    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(max_length=63)
    address: str = Field(default="", max_length=64, description="where the attempt came from")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class PasswordRefused(ValueError):
    """A password too short to keep, or too long to check at sign-in."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise PasswordRefused(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise PasswordRefused(f"a password has at most {MAX_PASSWORD:,} characters")
    if not password.strip():
        raise PasswordRefused("a password is not only spaces")
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    user: User
    csrf_token: str
    session_id: int


async def locked_until(session: AsyncSession, handle: str, address: str) -> datetime | None:
    """When sign-ins of `handle`, or from `address`, are taken again: None when they are now. After `MAX_FAILURES`
    failures of the handle (or `MAX_ADDRESS_FAILURES` from the address) in the window, until the oldest of them
    leaves it."""
    since = utcnow() - FAILURE_WINDOW
    for column, value, limit in ((SignInFailure.handle, handle, MAX_FAILURES),
                                 (SignInFailure.address, address, MAX_ADDRESS_FAILURES)):
        count, oldest = (await session.exec(select(func.count(), func.min(SignInFailure.at))  # type: ignore[call-overload]
                                            .where(column == value, col(SignInFailure.at) > since))).one()
        if count >= limit and oldest is not None:
            return oldest + FAILURE_WINDOW
    return None


async def check_password(session: AsyncSession, handle: str, password: str, address: str = "") -> User | None:
    """The user, when `password` is theirs and they are active; else None and the failure is counted (the same work
    either way: an inactive colleague's sign-in is refused as a wrong password is)."""
    user = (await session.exec(select(User).where(User.handle == handle))).first()
    try:
        _hasher.verify(user.password_hash if user is not None and user.password_hash else _DUMMY_HASH, password)
        if user is not None and user.password_hash and user.active:
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
                session.add(user)
                await session.commit()
            return user
    except (VerificationError, InvalidHashError):
        pass
    session.add(SignInFailure(handle=handle[:63], address=address[:64]))
    await session.commit()
    return None


async def open_session(session: AsyncSession, user: User) -> tuple[str, SignedIn]:
    """A new session for `user`: the token for the cookie, and what it signs in. Clears the user's failures."""
    assert user.id is not None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    row = StaffSession(token_hash=_token_hash(token), user_id=user.id, csrf_token=csrf,
                       expires_at=utcnow() + SESSION_LIFETIME)
    session.add(row)
    await session.exec(delete(SignInFailure).where(col(SignInFailure.handle) == user.handle))  # type: ignore[call-overload]
    await session.exec(delete(StaffSession).where(col(StaffSession.expires_at) < utcnow()))  # type: ignore[call-overload]
    await session.commit()
    assert row.id is not None
    return token, SignedIn(user, csrf, row.id)


async def signed_in(session: AsyncSession, token: str) -> SignedIn | None:
    """Who the cookie's token signs in, while its session lasts and its user still has a password and is active
    (made inactive through the API, which does not end the sessions, they are signed out at their next page)."""
    query = (select(StaffSession, User).join(User, col(User.id) == StaffSession.user_id)
             .where(StaffSession.token_hash == _token_hash(token), col(StaffSession.expires_at) > utcnow()))
    found = (await session.exec(query)).first()
    if found is None or not found[1].password_hash or not found[1].active:
        return None
    row, user = found
    assert row.id is not None
    return SignedIn(user, row.csrf_token, row.id)


async def close_session(session: AsyncSession, session_id: int) -> None:
    await session.exec(delete(StaffSession).where(col(StaffSession.id) == session_id))  # type: ignore[call-overload]
    await session.commit()


async def set_password(session: AsyncSession, user: User, password: str, role: str | None = None) -> None:
    """Give `user` a new password (and console role); every session they had ends."""
    user.password_hash = hash_password(password)
    if role is not None:
        user.console_role = role
    session.add(user)
    await session.exec(delete(StaffSession).where(col(StaffSession.user_id) == user.id))  # type: ignore[call-overload]
    await session.commit()


async def end_sessions(session: AsyncSession, user_id: int) -> None:
    """Every session of the user ends (made inactive); committed by the caller."""
    await session.exec(delete(StaffSession).where(col(StaffSession.user_id) == user_id))  # type: ignore[call-overload]
