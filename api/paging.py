"""Every list is paged: `limit` (a default, a maximum) and `offset`, and a `Link: <…>; rel="next"` header while more may follow.

The answer stays a JSON array; the next page's URL is in the header (as GitHub's API does), so
a client that reads only the first page still gets a bounded answer.
"""

# (no `from __future__ import annotations`: the closure's `maximum` must be resolvable in the annotation)
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request, Response

T = TypeVar("T")


@dataclass
class Page:
    limit: int
    offset: int
    request: Request
    response: Response

    def done(self, items: Sequence[T]) -> list[T]:
        """The page's items; a full page links to the next one."""
        if len(items) >= self.limit:
            url = self.request.url.include_query_params(limit=self.limit, offset=self.offset + self.limit)
            self.response.headers["Link"] = f'<{url}>; rel="next"'
        return list(items)


def paged(default: int, maximum: int) -> Callable[..., Page]:
    """A dependency giving the page a list route serves: `Annotated[Page, Depends(paged(100, 500))]`."""
    def page(request: Request, response: Response,
             limit: Annotated[int, Query(ge=1, le=maximum, description="how many items, at most")] = default,
             offset: Annotated[int, Query(ge=0, description="how many items to skip")] = 0) -> Page:
        return Page(limit=limit, offset=offset, request=request, response=response)

    return page


def next_link(response: Any) -> str | None:
    """The next page's URL from a response's Link header (for clients and tests)."""
    link = response.headers.get("link", "")
    return link[1:link.index(">")] if link.startswith("<") and 'rel="next"' in link else None
