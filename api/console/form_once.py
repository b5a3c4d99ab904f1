"""A console form whose action the API does not make idempotent (a client request sent or resent: an email to the
client each time) applied once per form shown.

The form carries an `idempotency_key` made when its page was shown. Its claim (api.idempotency's table) is added
in the action's own transaction, so it is committed with what the action does, or not at all: a refused action
leaves the key free, and a second submission of the form (a double click, a reload, at once or later) meets the
first's committed claim and does nothing, answered as the first was. A key sent with another request is refused,
as over the API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData

from api.auth import Principal
from api.console.web import text
from api.idempotency import fingerprint
from crm.db import begin_write
from crm.idempotency_keys import IdempotencyKey
from processes.errors import IdempotencyKeyReused


async def apply_once(session: AsyncSession, data: FormData, who: Principal, operation: str, target: str,
                     body: BaseModel, action: Callable[[], Awaitable[Any]]) -> None:
    """Run `action` (which commits) unless this form was applied already; a form without its key runs it. A refusal
    commits nothing, the key's claim neither, and leaves the session as it found it: the page drawn with it next must
    not show what the refused action had flushed (a request never made, with working buttons)."""
    try:
        await _apply_once(session, data, who, operation, target, body, action)
    except BaseException:
        await session.rollback()
        raise


async def _apply_once(session: AsyncSession, data: FormData, who: Principal, operation: str, target: str,
                      body: BaseModel, action: Callable[[], Awaitable[Any]]) -> None:
    key = text(data, "idempotency_key")[:200]
    if not key:
        await action()
        return
    mine = fingerprint(who, operation, target, body)
    await begin_write(session)  # SQLite: a second submission waits here for the first's end
    if await _sent_before(session, key, mine):
        return
    session.add(IdempotencyKey(key=key, fingerprint=mine, user_id=who.user_id, operation=operation, target=target))
    try:
        await session.flush()  # PostgreSQL: a second submission waits on the key for the first's end
    except IntegrityError:
        await session.rollback()
        if await _sent_before(session, key, mine):
            return
        raise
    await action()


FORM_REUSED = "this form was sent already, with other values: reload the page to send new ones"


async def _sent_before(session: AsyncSession, key: str, mine: str) -> bool:
    first = (await session.exec(select(IdempotencyKey).where(IdempotencyKey.key == key))).first()
    if first is not None and first.fingerprint != mine:
        raise IdempotencyKeyReused(FORM_REUSED)  # the form's hidden key, sent again with other values
    return first is not None
