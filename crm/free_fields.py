"""A record's free fields as a client sends them: bounded, so one record cannot weigh down every list it is in.

At most 100 fields, names of 1 to 64 characters, and 32,000 characters in all as JSON: room for
a long note, not for a file (a page of 100 records stays under about 3 MB). Values a process
writes (`write_values`) are bounded by the renderer's own limits instead.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

MAX_FREE_FIELDS = 100
MAX_FREE_FIELD_NAME = 64
MAX_FREE_FIELDS_JSON = 32_000


def _bounded(fields: dict[str, Any]) -> dict[str, Any]:
    if not fields:
        return fields
    size = len(json.dumps(fields, ensure_ascii=False, default=str))
    if size > MAX_FREE_FIELDS_JSON:
        raise ValueError(f"the fields take {size:,} characters as JSON; at most {MAX_FREE_FIELDS_JSON:,} are kept")
    return fields


LIMITS = (f"at most {MAX_FREE_FIELDS} fields, names of up to {MAX_FREE_FIELD_NAME} characters, "
          f"{MAX_FREE_FIELDS_JSON:,} characters in all as JSON")

FreeFields = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=MAX_FREE_FIELD_NAME)], Any],
    Field(max_length=MAX_FREE_FIELDS),
    AfterValidator(_bounded),
]
