"""Every list is paged: `limit` (a default, a maximum) and `offset`, and a `Link: <…>; rel="next"` header while more may follow.

The answer stays a JSON array; the next page's URL is in the header (as GitHub's API does), so
a client that reads only the first page still gets a bounded answer.

A list of the newest first (`paged(..., newest_first=True)`: cases, email, client requests, a record's processes)
links its next page by the last item's id (`before_id`), not by an offset: an item added (or removed) while a
client reads the pages would shift them, and an item be read twice (or never).
"""

# (no `from __future__ import annotations`: the closure's `maximum` must be resolvable in the annotation)
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from fastapi import Query, Request, Response

T = TypeVar("T")


@dataclass
class Page:
    limit: int
    offset: int
    request: Request
    response: Response
    before_id: int | None = None
    newest_first: bool = False

    def newest(self, query: Any, id_column: Any) -> Any:
        """`query` as this page of it, newest first by `id_column` (from `before_id` when given)."""
        if self.before_id is not None:
            query = query.where(id_column < self.before_id)
        return query.order_by(sa.desc(id_column)).offset(self.offset).limit(self.limit)

    def done(self, items: Sequence[T], last_id: int | None = None) -> list[T]:
        """The page's items; a full page links to the next one (newest first: by its last item's id, `last_id` or
        the item's `id`)."""
        if len(items) >= self.limit:
            if self.newest_first:
                last = last_id if last_id is not None else getattr(items[-1], "id")
                url = self.request.url.remove_query_params("offset").include_query_params(limit=self.limit,
                                                                                          before_id=last)
            else:
                url = self.request.url.include_query_params(limit=self.limit, offset=self.offset + self.limit)
            # relative (RFC 8288): built from the request's Host header, an absolute link named whatever host was sent
            self.response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
        return list(items)


def paged(default: int, maximum: int, newest_first: bool = False) -> Callable[..., Page]:
    """A dependency giving the page a list route serves: `Annotated[Page, Depends(paged(100, 500))]`; a list of the
    newest first also takes `before_id` (`Page.newest`)."""
    def page(request: Request, response: Response,
             limit: Annotated[int, Query(ge=1, le=maximum, description="how many items, at most")] = default,
             offset: Annotated[int, Query(ge=0, description="how many items to skip")] = 0) -> Page:
        return Page(limit=limit, offset=offset, request=request, response=response)

    def newest_page(request: Request, response: Response,
                    limit: Annotated[int, Query(ge=1, le=maximum, description="how many items, at most")] = default,
                    offset: Annotated[int, Query(ge=0, description="how many items to skip")] = 0,
                    before_id: Annotated[int | None, Query(ge=1, description="only items older than this one (the "
                                                           "next page's link gives it)")] = None) -> Page:
        return Page(limit=limit, offset=offset, request=request, response=response, before_id=before_id,
                    newest_first=True)

    return newest_page if newest_first else page


def next_link(response: Any) -> str | None:
    """The next page's URL from a response's Link header (for clients and tests)."""
    link = response.headers.get("link", "")
    return link[1:link.index(">")] if link.startswith("<") and 'rel="next"' in link else None
