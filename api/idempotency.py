"""`Idempotency-Key`: a key names one request, and is answered for that request only.

A staff request's key is its update ID in Temporal, and Temporal answers a request whose ID it has
seen with that first request's outcome, whatever is sent with it. So before a keyed request goes to
Temporal, the key is claimed here for the request it comes with: its caller (an API key, or a user
signed in to the console), its operation, its process and its body. The same request sent again with the key goes on (and gets the
first outcome); any other request with the key is refused with 422 `IdempotencyKeyReused`, never
answered with another request's result. Keys are unique across callers: use a fresh random key (a
UUID) for each new request.

Requests the API carries out itself (completing a task, closing a case) claim their key the same way; the same
request sent again once it was done answers with what is there now (the task done, the case closed) instead of
409 for doing it twice.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from fastapi import Header
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import Principal
from crm.idempotency_keys import IdempotencyKey
from processes.errors import IdempotencyKeyReused


IdempotencyKeyHeader = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
    description="a key of your own (a UUID; visible ASCII, no spaces) naming this request: sent again with the same "
                "request, it applies once and every send gets its answer, even after the process has ended or "
                "continued as new; sent with any other request (another operation, target, body or caller), it is "
                "refused with 422 IdempotencyKeyReused")]


def fingerprint(principal: Principal, operation: str, target: str, body: BaseModel) -> str:
    """The request a key names: the same caller, operation, process and body (as parsed: a field sent with its
    default value is the same request as the field left out)."""
    caller = principal.key_id if principal.key_id is not None else principal.caller  # an API key's, as before
    request = {"caller": caller, "operation": operation, "target": target,
               "body": body.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


async def claim(session: AsyncSession, key: str, principal: Principal, operation: str, target: str,
                body: BaseModel) -> bool:
    """Let the request go on with `key`: the first time (True), or again with the same request (False). Refuse any
    other."""
    mine = fingerprint(principal, operation, target, body)
    query = select(IdempotencyKey).where(IdempotencyKey.key == key)
    row = (await session.exec(query)).first()
    if row is None:
        session.add(IdempotencyKey(key=key, fingerprint=mine, api_key_id=principal.key_id,
                                   user_id=None if principal.key_id is not None else principal.user_id,
                                   operation=operation, target=target))
        try:
            await session.commit()
            return True
        except IntegrityError:  # a request with the same key claimed it first
            await session.rollback()
            row = (await session.exec(query)).one()
    if row.fingerprint == mine:
        return False
    same_caller = (row.api_key_id == principal.key_id if principal.key_id is not None
                   else row.api_key_id is None and row.user_id == principal.user_id)
    first = f"{row.operation} on {row.target}" if same_caller else "a request of another caller"
    raise IdempotencyKeyReused(f"Idempotency-Key '{key}' was first sent with another request ({first}); "
                               "a key names one request: send this one with a new key")
