"""A record's free fields as a client sends them: bounded, so one record cannot weigh down every list it is in.

At most 100 fields, names of 1 to 64 characters, 32,000 characters in all as JSON, values nested at
most 32 levels deep, and numbers that JSON can write (no NaN or Infinity, which Python's JSON reader
takes): room for a long note, not for a file (a page of 100 records stays under about 3 MB). A name is kept with
its accents composed (NFC), however it was typed. Values a process
writes (`write_values`) are bounded by the renderer's own limits instead.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

MAX_FREE_FIELDS = 100
MAX_FREE_FIELD_NAME = 64
MAX_FREE_FIELDS_JSON = 32_000
MAX_FREE_FIELD_DEPTH = 32


def _depth(value: Any) -> int:
    """How many lists and objects nest in `value` (`[]` 1, a plain value 0), counted no further than past the bound."""
    level, found = 0, [value]
    while level <= MAX_FREE_FIELD_DEPTH:
        containers = [item for item in found if isinstance(item, dict | list)]
        if not containers:
            break
        level += 1
        found = [inner for container in containers
                 for inner in (container.values() if isinstance(container, dict) else container)]
    return level


def _bounded(fields: dict[str, Any]) -> dict[str, Any]:
    if not fields:
        return fields
    # a name with its accents composed (NFC): `città` typed and `città` pasted from a Mac are one field, not two
    fields = {unicodedata.normalize("NFC", name): value for name, value in fields.items()}
    for name, value in fields.items():
        if _depth(value) > MAX_FREE_FIELD_DEPTH:
            raise ValueError(f"'{name}' nests lists or objects more than {MAX_FREE_FIELD_DEPTH} levels deep")
    try:
        size = len(json.dumps(fields, ensure_ascii=False, default=str, allow_nan=False))
    except ValueError:
        raise ValueError("NaN and Infinity are not JSON numbers: send a number, or the text in quotes") from None
    if size > MAX_FREE_FIELDS_JSON:
        raise ValueError(f"the fields take {size:,} characters as JSON; at most {MAX_FREE_FIELDS_JSON:,} are kept")
    return fields


LIMITS = (f"at most {MAX_FREE_FIELDS} fields, names of up to {MAX_FREE_FIELD_NAME} characters, "
          f"{MAX_FREE_FIELDS_JSON:,} characters in all as JSON, nested at most {MAX_FREE_FIELD_DEPTH} levels deep")

FreeFields = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=MAX_FREE_FIELD_NAME)], Any],
    Field(max_length=MAX_FREE_FIELDS),
    AfterValidator(_bounded),
]
