"""API keys: generated, stored as SHA-256 hashes, each with a role (client < staff < admin)."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.db import on_live_connection
from crm.access import record_visible
from crm.models import ApiKey, ApiRole, Record, User

KEY_PREFIX = "sc_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key (its role, and the staff user it acts as, if any), or a user signed in to the
    console (`key_id` None; `name` their handle)."""

    key_id: int | None
    name: str
    role: ApiRole
    user_id: int | None

    @classmethod
    def console_user(cls, user: User) -> Principal:
        assert user.id is not None
        role = ApiRole.admin if user.console_role == ApiRole.admin.value else ApiRole.staff
        return cls(key_id=None, name=user.handle, role=role, user_id=user.id)

    @property
    def caller(self) -> str:
        """This caller among all others: `key:12`, or `user:3` for a console user."""
        return f"key:{self.key_id}" if self.key_id is not None else f"user:{self.user_id}"

    @property
    def actor(self) -> str:
        """How this caller appears in histories and task completions."""
        return f"{self.caller}:{self.name}"

    def has(self, role: ApiRole) -> bool:
        return self.role.rank >= role.rank


async def user_sees(session: AsyncSession, user: User, record_id: int) -> bool:
    """Whether the user sees the record (signed in to the console, or by a key acting as them): a task given to them,
    or a notice sent to them, must not be about a record kept from them."""
    seen = select(Record.id).where(Record.id == record_id, record_visible(Principal.console_user(user)))
    return (await session.exec(seen)).first() is not None


async def principal_for(session: AsyncSession, key: str) -> Principal | None:
    return await principal_by_hash(session, hash_key(key))


async def principal_by_hash(session: AsyncSession, digest: str) -> Principal | None:
    found = (await session.exec(select(ApiKey, User.active).outerjoin(User, col(User.id) == ApiKey.user_id)
                                .where(ApiKey.key_hash == digest))).first()
    if found is None:
        return None
    row, active = found
    if row.revoked_at is not None or row.id is None or (row.user_id is not None and not active):
        return None  # revoked, or acting as a user made inactive (signed out of the console too)
    return Principal(key_id=row.id, name=row.name, role=row.role, user_id=row.user_id)


class KeyCache:
    """Keys found valid in the last `seconds`, by hash: a caller's requests in a row cost one lookup, not one each.

    Only valid keys are kept (an unknown key is looked up every time). A key revoked through this process
    (`forget`) is refused at once; one revoked elsewhere (another API process) once its entry is
    `seconds` old. `seconds` 0 keeps nothing.
    """

    def __init__(self, seconds: float, size: int = 1024, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.size, self.clock = seconds, size, clock
        self._found: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._forgotten: OrderedDict[int, float] = OrderedDict()  # key id: when it was revoked here

    async def principal(self, session_factory: Callable[[], AbstractAsyncContextManager[AsyncSession]],
                        key: str) -> Principal | None:
        digest = hash_key(key)
        if (entry := self._found.get(digest)) is not None and self.clock() - entry[0] < self.seconds:
            return entry[1]
        asked = self.clock()
        async with session_factory() as session:  # the request's first statement: on a live connection
            principal = await on_live_connection(session, lambda: principal_by_hash(session, digest))
        self._found.pop(digest, None)
        # a key revoked while it was being looked up was read valid: this request goes on, the next looks it up again
        revoked_meanwhile = principal is not None and self._forgotten.get(principal.key_id or 0, -1.0) >= asked
        if principal is not None and self.seconds > 0 and not revoked_meanwhile:
            self._found[digest] = (self.clock(), principal)
            while len(self._found) > self.size:
                self._found.popitem(last=False)
        return principal

    def forget(self, key_id: int) -> None:
        self._forgotten.pop(key_id, None)
        self._forgotten[key_id] = self.clock()
        while len(self._forgotten) > self.size:
            self._forgotten.popitem(last=False)
        for digest in [d for d, (_, p) in self._found.items() if p.key_id == key_id]:
            del self._found[digest]


async def create_key(session: AsyncSession, name: str, role: ApiRole, user_id: int | None = None) -> tuple[ApiKey, str]:
    key = generate_key()
    return await store_key(session, name, role, key, user_id), key


async def store_key(session: AsyncSession, name: str, role: ApiRole, key: str, user_id: int | None = None) -> ApiKey:
    """Keep the hash of `key` (generated here, or chosen by an operator: `stagecoach admin create-key`)."""
    row = ApiKey(name=name, role=role, prefix=key[:10], key_hash=hash_key(key), user_id=user_id)
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return row


async def active_admin_keys(session: AsyncSession, *, lock: bool = False) -> list[ApiKey]:
    """The admin keys not revoked; `lock` holds their rows (PostgreSQL) until the transaction ends."""
    query = select(ApiKey).where(ApiKey.role == ApiRole.admin, col(ApiKey.revoked_at).is_(None))
    return list((await session.exec(query.with_for_update() if lock else query)).all())
