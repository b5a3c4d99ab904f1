"""What a request's body names (a user, a record), found: one that is missing, or that the caller may not see, is
`422 ReferenceNotFound` naming the field (`body.owner_id`, `body.participant_ids[2]`) with the lookup's own words
("no user 99"), where the lookup alone answers 404 for a path's id."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from processes.errors import ErrorDetail, NotFound, ReferenceNotFound

T = TypeVar("T")


async def named_in_body(path: str, lookup: Awaitable[T], missing: type[NotFound] = NotFound) -> T:
    """`await lookup` (a `get_..._or_404`), its NotFound (of the type `missing`) answered as the body field `path`
    naming nothing there is."""
    try:
        return await lookup
    except missing as exc:
        raise ReferenceNotFound(exc.message, details=[ErrorDetail(path, exc.message)], wording=exc.wording) from None
